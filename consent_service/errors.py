"""Errors a person can act on: bad input, refused by a domain rule, not found."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class InvalidInput(Exception):
    """Input refused; ``message`` is Danish, for the page or the API's problem detail.
    It never contains the refused value (which may be a CPR number)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class RuleRefusal(Exception):
    """A legal or domain rule refuses the action; ``message`` is Danish and names the rule."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(Exception):
    """The resource does not exist in the caller's organisation."""


class ProbeNotFound(NotFound):
    """Answered exactly as ``NotFound``, so the caller learns nothing, but it was an attempt
    on another organisation's resource: the request's transaction is rolled back and the
    attempt recorded alone afterwards (see web/deps.py), as a denial, in the log of the
    organisation it concerns (``organisation_id``), not the caller's."""

    def __init__(
        self,
        *,
        action: str,
        organisation_id: int,
        resource_type: str,
        resource_id: str,
        reason: str,
        details: Mapping[str, Any],
    ) -> None:
        super().__init__(resource_type)
        self.action = action
        self.organisation_id = organisation_id
        self.resource_type = resource_type
        self.resource_id = resource_id
        self.reason = reason
        self.details = dict(details)


class StepUpFailed(RuleRefusal):
    """A fresh second factor for a weighty action was wrong or replayed. The request's
    transaction is rolled back; the failure is then recorded alone (see web/deps.py)."""

    def __init__(self, *, user_id: int, purpose: str, reason: str) -> None:
        super().__init__("Koden er forkert eller allerede brugt. Intet er ændret.")
        self.user_id = user_id
        self.purpose = purpose
        self.reason = reason

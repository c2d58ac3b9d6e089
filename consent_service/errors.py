"""Errors a person can act on: bad input, refused by a domain rule, not found."""

from __future__ import annotations


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

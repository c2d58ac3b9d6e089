"""What the DPO's log pages ask of the log: the filter a search is made of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AuditFilter:
    """Every field narrows; None means "any". ``resource_id`` is a pseudonymous id (for a
    citizen, found through the blind index by the caller, never by CPR here).
    ``organisation_id`` matches the event's organisation exactly; ``concerning_organisation``
    keeps the events a reviewer of that organisation may see (``scope.concerns_organisation``),
    which is what every DPO page uses."""

    occurred_from: datetime | None = None
    occurred_to: datetime | None = None  # exclusive
    actor_user_id: int | None = None
    organisation_id: int | None = None
    concerning_organisation: int | None = None
    action: str | None = None
    outcome: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    request_id: str | None = None
    source_ip: str | None = None
    seq_from: int | None = None  # inclusive: a link from an alert names its events
    seq_to: int | None = None  # inclusive
    exclude_actions: tuple[str, ...] = ()  # e.g. the permission decisions, folded away

"""A citizen's standing per consent kind on a day, as a list row shows it: the state of
the consent in force (or else of the latest one) and, when given, until when it lasts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from consent_service.consents import rules
from consent_service.consents.active import in_force, states_of
from consent_service.consents.catalogue import catalogue
from consent_service.consents.labels import STATE_NAMES_DA


@dataclass(frozen=True)
class Standing:
    kind: str
    state: str | None  # a ConsentStatus value; None: no consent decided yet
    state_name: str | None
    until: date | None  # last day the given consent covers


def standing_of(session: Session, citizen_id: int, kind: str, on: date) -> Standing:
    """The consent of ``kind`` in force on ``on``, else the latest decided; its state by
    the legal rules (``rules.status_on``) and, if given, its last valid day."""
    states = states_of(session, citizen_id, kind)
    current = in_force(states, on) or (states[-1] if states else None)
    if current is None:
        return Standing(kind, None, None, None)
    status = rules.status_on(current.facts, catalogue().kinds[kind], on)
    until = current.end if status is rules.ConsentStatus.GIVEN else None
    return Standing(kind, status.value, STATE_NAMES_DA[status.value], until)

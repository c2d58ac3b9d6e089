"""Which consent of a kind is in force for a citizen: the facts of all their consents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from consent_service.consents import repository as repo
from consent_service.consents import rules
from consent_service.consents.catalogue import catalogue
from consent_service.consents.models import Consent
from consent_service.consents.service import facts_of


@dataclass(frozen=True)
class ConsentState:
    consent: Consent
    facts: rules.ConsentFacts

    @property
    def end(self) -> date | None:
        if self.facts.signed_on is None:
            return None
        return rules.validity_end(catalogue().kinds[self.consent.kind], self.facts.signed_on)


def states_of(session: Session, citizen_id: int, kind: str) -> list[ConsentState]:
    """Every consent of the kind the citizen has decided on, oldest first."""
    return [
        ConsentState(c, facts_of(c, repo.events_of(session, c.id)))
        for c in repo.consents_of(session, citizen_id)
        if c.kind == kind
    ]


def in_force(states: list[ConsentState], on: date) -> ConsentState | None:
    """The consent given and neither withdrawn, expired nor invalidated on ``on``; of
    several, the one that lasts longest."""
    given = [
        s
        for s in states
        if rules.status_on(s.facts, catalogue().kinds[s.consent.kind], on)
        is rules.ConsentStatus.GIVEN
    ]
    return max(given, key=lambda s: (s.end or date.max, s.consent.id)) if given else None

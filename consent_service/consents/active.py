"""Which consent of a kind is in force for a citizen: the facts of all their consents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from consent_service.consents import repository as repo
from consent_service.consents import rules
from consent_service.consents.catalogue import catalogue
from consent_service.consents.models import Consent, ConsentEvent


def facts_of(consent: Consent, events: Sequence[ConsentEvent]) -> rules.ConsentFacts:
    """Fold a consent and its history into the facts the legal rules decide on."""

    def first(event_type: str) -> date | None:
        dates = [e.occurred_on for e in events if e.event_type == event_type]
        return min(dates) if dates else None

    return rules.ConsentFacts(
        kind=consent.kind,
        signed_on=consent.decided_on if consent.decision == "given" else None,
        refused_on=consent.decided_on if consent.decision == "refused" else None,
        withdrawn_on=first("withdrawn"),
        journal_entry_confirmed_on=first("journal_entry_confirmed"),
        data_obtained_on=first("data_obtained"),
        invalidated_on=first("invalidated"),
    )


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
        ConsentState(c, facts_of(c, repo.events_of(session, c)))
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

"""The queries of erasing one citizen (``deletion.erasure``): proposals, and what an
erasure keeps (the consent records, the disclosures already made)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consent_service.citizens.models import Citizen
from consent_service.consents.models import Consent, ConsentEvent, Disclosure
from consent_service.deletion.erasure_models import PROPOSED, ErasureProposal
from consent_service.extracts.models import ExtractRequest


def proposal_by_public_id(
    session: Session, organisation_id: int, public_id: str
) -> ErasureProposal | None:
    """The organisation's proposal ``public_id``; None for an unknown id and for another
    organisation's alike."""
    return session.scalar(
        select(ErasureProposal).where(
            ErasureProposal.public_id == public_id,
            ErasureProposal.organisation_id == organisation_id,
        )
    )


def proposals_of_organisation(
    session: Session, organisation_id: int, limit: int = 200
) -> Sequence[tuple[ErasureProposal, Citizen]]:
    """The organisation's proposals, open ones first, then newest first."""
    rows = session.execute(
        select(ErasureProposal, Citizen)
        .join(Citizen, Citizen.id == ErasureProposal.citizen_id)
        .where(ErasureProposal.organisation_id == organisation_id)
        .order_by(
            (ErasureProposal.status != PROPOSED),
            ErasureProposal.proposed_at.desc(),
            ErasureProposal.id.desc(),
        )
        .limit(limit)
    ).all()
    return [(p, c) for p, c in rows]


def proposals_of_citizen(session: Session, citizen_id: int) -> Sequence[ErasureProposal]:
    """The citizen's proposals, oldest first."""
    return session.scalars(
        select(ErasureProposal)
        .where(ErasureProposal.citizen_id == citizen_id)
        .order_by(ErasureProposal.proposed_at, ErasureProposal.id)
    ).all()


def lock_proposal(session: Session, proposal: ErasureProposal) -> None:
    """Take the proposal's row for this transaction and read it again (PostgreSQL's row
    lock; SQLite has one writer), so of two decisions the second sees the first."""
    session.refresh(proposal, with_for_update=True)


def consent_counts(session: Session, citizen_id: int) -> tuple[int, int]:
    """(consent records, their history events) of the citizen: what an erasure keeps."""
    ids = select(Consent.id).where(Consent.citizen_id == citizen_id)
    consents = session.scalar(
        select(func.count()).select_from(Consent).where(Consent.citizen_id == citizen_id)
    )
    events = session.scalar(
        select(func.count()).select_from(ConsentEvent).where(ConsentEvent.consent_id.in_(ids))
    )
    return int(consents or 0), int(events or 0)


def disclosures_of(
    session: Session, organisation_id: int, citizen_id: int
) -> Sequence[tuple[Disclosure, ExtractRequest]]:
    """The disclosures of the citizen's data the organisation made, oldest first, each
    with its extract request."""
    rows = session.execute(
        select(Disclosure, ExtractRequest)
        .join(ExtractRequest, ExtractRequest.id == Disclosure.request_id)
        .where(
            Disclosure.organisation_id == organisation_id,
            Disclosure.citizen_id == citizen_id,
            ExtractRequest.organisation_id == organisation_id,
        )
        .order_by(Disclosure.disclosed_on, Disclosure.id)
    ).all()
    return [(d, r) for d, r in rows]

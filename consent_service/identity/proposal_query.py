"""The database queries of access proposals (the four-eyes changes of users and roles)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.identity.models import AccessProposal, ProposalStatus


def pending_proposal(
    session: Session, *, kind: str, target_user_id: int | None, username: str | None
) -> AccessProposal | None:
    """A pending proposal of ``kind`` for that user (by id, or by name for a new user)."""
    stmt = select(AccessProposal).where(
        AccessProposal.status == ProposalStatus.PENDING.value, AccessProposal.kind == kind
    )
    if target_user_id is not None:
        stmt = stmt.where(AccessProposal.target_user_id == target_user_id)
    if username is not None:
        stmt = stmt.where(AccessProposal.username == username)
    return session.scalars(stmt.limit(1)).first()


def overdue_proposals(
    session: Session, organisation_id: int, now: datetime
) -> Sequence[AccessProposal]:
    """The organisation's pending proposals whose time ran out by ``now``."""
    return session.scalars(
        select(AccessProposal).where(
            AccessProposal.organisation_id == organisation_id,
            AccessProposal.status == ProposalStatus.PENDING.value,
            AccessProposal.expires_at <= now,
        )
    ).all()


def proposals_of_organisation(
    session: Session, organisation_id: int, limit: int
) -> Sequence[AccessProposal]:
    """The organisation's newest ``limit`` proposals, newest first."""
    return session.scalars(
        select(AccessProposal)
        .where(AccessProposal.organisation_id == organisation_id)
        .order_by(AccessProposal.id.desc())
        .limit(limit)
    ).all()


def proposals_by_proposer_elsewhere(
    session: Session, proposer_id: int, organisation_id: int, limit: int
) -> Sequence[AccessProposal]:
    """The newest ``limit`` proposals ``proposer_id`` made for organisations other than
    ``organisation_id`` (a system-wide administrator's), newest first."""
    return session.scalars(
        select(AccessProposal)
        .where(
            AccessProposal.proposed_by == proposer_id,
            AccessProposal.organisation_id != organisation_id,
        )
        .order_by(AccessProposal.proposed_at.desc(), AccessProposal.id.desc())
        .limit(limit)
    ).all()


def proposal_by_id(session: Session, proposal_id: int) -> AccessProposal | None:
    return session.get(AccessProposal, proposal_id)


def proposal_in_organisation(
    session: Session, organisation_id: int, proposal_id: int
) -> AccessProposal | None:
    """The proposal with that id if it belongs to ``organisation_id``; None for another
    organisation's proposal exactly as for an unknown id."""
    return session.scalar(
        select(AccessProposal).where(
            AccessProposal.id == proposal_id, AccessProposal.organisation_id == organisation_id
        )
    )

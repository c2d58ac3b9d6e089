"""All database queries of data-subject requests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from consent_service.citizens.models import Citizen
from consent_service.subject_requests.models import SubjectRequest
from consent_service.subject_requests.policy import CLOSING, OPEN_STATUSES


def by_public_id(session: Session, organisation_id: int, public_id: str) -> SubjectRequest | None:
    """The organisation's request ``public_id``; another organisation's is None."""
    return session.scalar(
        select(SubjectRequest).where(
            SubjectRequest.public_id == public_id,
            SubjectRequest.organisation_id == organisation_id,
        )
    )


def by_public_id_any_organisation(session: Session, public_id: str) -> SubjectRequest | None:
    """The request ``public_id`` in whichever organisation holds it: only to record a
    probe of another organisation's id, never to answer with it."""
    return session.scalar(select(SubjectRequest).where(SubjectRequest.public_id == public_id))


def lock(session: Session, request_id: int) -> SubjectRequest:
    """The request's row, locked for this transaction and reloaded (PostgreSQL; SQLite
    has one writer), so of two changes at once the second sees the first."""
    return session.scalars(
        select(SubjectRequest)
        .where(SubjectRequest.id == request_id)
        .with_for_update(of=SubjectRequest)
        .execution_options(populate_existing=True)
    ).one()


# Built once (``db.py``: statements built once per process): the citizen page's read.
_OF_CITIZEN = (
    select(SubjectRequest)
    .where(SubjectRequest.citizen_id == bindparam("citizen_id"))
    .order_by(SubjectRequest.received_on.desc(), SubjectRequest.id.desc())
)


def of_citizen(session: Session, citizen_id: int) -> Sequence[SubjectRequest]:
    """The citizen's requests, newest receipt first."""
    return session.scalars(_OF_CITIZEN, {"citizen_id": citizen_id}).all()


def open_of_organisation(
    session: Session, organisation_id: int
) -> Sequence[tuple[SubjectRequest, Citizen]]:
    """The organisation's open requests with their citizens."""
    rows = session.execute(
        select(SubjectRequest, Citizen)
        .join(Citizen, Citizen.id == SubjectRequest.citizen_id)
        .where(
            SubjectRequest.organisation_id == organisation_id,
            SubjectRequest.status.in_(OPEN_STATUSES),
        )
        .order_by(SubjectRequest.id)
    ).all()
    return [(r, c) for r, c in rows]


def _skip_locked(session: Session, stmt: Select[Any]) -> Select[Any]:
    """On PostgreSQL, rows another worker holds are skipped, not waited for."""
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def overdue_not_recorded(session: Session, today: date) -> Sequence[SubjectRequest]:
    """Every organisation's requests past their deadline whose miss is not recorded yet:
    open after the deadline in force, or answered after it."""
    deadline = SubjectRequest.extended_to.is_(None)
    stmt = select(SubjectRequest).where(
        SubjectRequest.overdue_recorded_at.is_(None),
        or_(
            and_(
                SubjectRequest.status.in_(OPEN_STATUSES),
                or_(
                    and_(deadline, SubjectRequest.deadline_on < today),
                    and_(~deadline, SubjectRequest.extended_to < today),
                ),
            ),
            and_(
                SubjectRequest.status.in_(CLOSING),
                or_(
                    and_(deadline, SubjectRequest.answered_on > SubjectRequest.deadline_on),
                    and_(~deadline, SubjectRequest.answered_on > SubjectRequest.extended_to),
                ),
            ),
        ),
    )
    return session.scalars(_skip_locked(session, stmt.order_by(SubjectRequest.id))).all()

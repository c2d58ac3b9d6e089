"""All database queries of citizens and referrals."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from consent_service.citizens.models import Citizen, Referral
from consent_service.identity.models import Organisation


def by_public_id(session: Session, organisation_id: int, public_id: str) -> Citizen | None:
    return session.scalar(
        select(Citizen).where(
            Citizen.public_id == public_id,
            Citizen.organisation_id == organisation_id,
            Citizen.deleted_at.is_(None),
        )
    )


def by_public_id_any_organisation(session: Session, public_id: str) -> Citizen | None:
    """For access checks only: the caller must then check the organisation."""
    return session.scalar(
        select(Citizen).where(Citizen.public_id == public_id, Citizen.deleted_at.is_(None))
    )


def by_cpr_index(session: Session, organisation_id: int, cpr_index: str) -> Citizen | None:
    return session.scalar(
        select(Citizen).where(
            Citizen.organisation_id == organisation_id, Citizen.cpr_index == cpr_index
        )
    )


def other_organisation_ids(session: Session, organisation_id: int) -> Sequence[int]:
    return session.scalars(
        select(Organisation.id).where(Organisation.id != organisation_id).order_by(Organisation.id)
    ).all()


def by_cpr_indexes(session: Session, indexes: dict[int, str]) -> Sequence[Citizen]:
    """The live citizens of several organisations at once, each by its own blind index
    (``{organisation id: index}``): one statement on the (organisation, index) key."""
    if not indexes:
        return []
    return session.scalars(
        select(Citizen)
        .where(
            tuple_(Citizen.organisation_id, Citizen.cpr_index).in_(list(indexes.items())),
            Citizen.deleted_at.is_(None),
        )
        .order_by(Citizen.organisation_id)
    ).all()


def page_of_citizens(
    session: Session, organisation_id: int, offset: int, limit: int
) -> Sequence[Citizen]:
    return session.scalars(
        select(Citizen)
        .where(Citizen.organisation_id == organisation_id, Citizen.deleted_at.is_(None))
        .order_by(Citizen.created_at.desc(), Citizen.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()


def count_citizens(session: Session, organisation_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Citizen)
            .where(Citizen.organisation_id == organisation_id, Citizen.deleted_at.is_(None))
        )
        or 0
    )


def referrals_of(session: Session, citizen_id: int) -> Sequence[Referral]:
    return session.scalars(
        select(Referral).where(Referral.citizen_id == citizen_id).order_by(Referral.referred_on)
    ).all()

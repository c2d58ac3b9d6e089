"""All database queries of referrals' contacts ("kontaktet"), the worklist's new
referrals and a referrer's own referrals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session

from consent_service.citizens.models import Citizen, Referral, ReferralContact
from consent_service.citizens.repository import live_citizen
from consent_service.db import core_rows
from consent_service.identity.models import User

# Statements built once (``db.py``: statements built once per process).
_NEW_REFERRALS = (
    select(Referral, Citizen)
    .join(Citizen, Citizen.id == Referral.citizen_id)
    .where(
        Referral.organisation_id == bindparam("organisation_id"),
        ~exists().where(ReferralContact.referral_id == Referral.id),
        live_citizen(),
    )
    .order_by(Referral.referred_on, Referral.id)
)
_contact, _user = ReferralContact.__table__.c, User.__table__.c
_CONTACTS_OF = (  # Core: plain rows (``db.core_rows``)
    select(_contact.referral_id, _contact.contacted_on, _contact.note_sealed, _user.display_name)
    .outerjoin(User.__table__, _user.id == _contact.recorded_by)
    .where(_contact.referral_id.in_(bindparam("referral_ids", expanding=True)))
    .order_by(_contact.contacted_on, _contact.id)
)


class Contact(NamedTuple):
    """What the citizen page shows of a contact (a read-only row, not the mapped object)."""

    referral_id: int
    contacted_on: date
    note_sealed: bytes | None


def new_referrals_with_citizens(
    session: Session, organisation_id: int
) -> Sequence[tuple[Referral, Citizen]]:
    """The organisation's referrals of live citizens that nobody has contacted yet,
    oldest first (the longest waiting is called first)."""
    rows = session.execute(_NEW_REFERRALS, {"organisation_id": organisation_id}).all()
    return [(referral, citizen) for referral, citizen in rows]


def referral_with_citizen(
    session: Session, public_id: str, *, lock: bool = False
) -> tuple[Referral, Citizen] | None:
    """The referral ``public_id`` of a live citizen, in any organisation (the caller checks
    the organisation); ``lock`` holds the referral row for this transaction on PostgreSQL,
    so two "kontaktet" at once are taken one after the other."""
    stmt = (
        select(Referral, Citizen)
        .join(Citizen, Citizen.id == Referral.citizen_id)
        .where(Referral.public_id == public_id, live_citizen())
    )
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=Referral)
    row = session.execute(stmt).first()
    return (row[0], row[1]) if row is not None else None


def has_contact(session: Session, referral_id: int) -> bool:
    return (
        session.scalar(
            select(ReferralContact.id).where(ReferralContact.referral_id == referral_id).limit(1)
        )
        is not None
    )


def contacts_of(
    session: Session, referral_ids: Sequence[int]
) -> Sequence[tuple[Contact, str | None]]:
    """The contacts of these referrals, each with the display name of who recorded it."""
    if not referral_ids:
        return []
    rows = core_rows(session, _CONTACTS_OF, {"referral_ids": list(referral_ids)})
    return [(Contact(r[0], r[1], r[2]), r[3]) for r in rows]


def sent_by(
    session: Session, organisation_id: int, user_id: int
) -> Sequence[tuple[Referral, bool]]:
    """The referrals this user sent in the organisation, newest first, each with whether a
    navigator has contacted the citizen."""
    contacted = exists().where(ReferralContact.referral_id == Referral.id)
    rows = session.execute(
        select(Referral, contacted)
        .where(Referral.organisation_id == organisation_id, Referral.created_by == user_id)
        .order_by(Referral.created_at.desc(), Referral.id.desc())
        .limit(200)
    ).all()
    return [(referral, bool(was_contacted)) for referral, was_contacted in rows]

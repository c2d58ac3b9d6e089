"""All database queries of citizens and referrals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, bindparam, exists, func, select, tuple_
from sqlalchemy.orm import Session

from consent_service.citizens.models import Citizen, CitizenChange, CitizenKey, Referral
from consent_service.db import core_rows, memoised_scalars, recalled, remember
from consent_service.identity.models import Organisation


def live_citizen() -> ColumnElement[bool]:
    """A citizen pages, lists and searches may show: not deleted, and their identity key
    exists. A citizen whose key is gone (a row an older backup brought back, restored
    without the deletion since) counts as deleted: nothing of theirs can be read."""
    return and_(
        Citizen.deleted_at.is_(None),
        exists().where(CitizenKey.citizen_id == Citizen.id, CitizenKey.purpose == "identity"),
    )


# Statements built once (``db.py``: statements built once per process).
_BY_PUBLIC_ID = select(Citizen).where(
    Citizen.public_id == bindparam("public_id"),
    Citizen.organisation_id == bindparam("organisation_id"),
    live_citizen(),
)
_BY_CPR_INDEX = select(Citizen).where(
    Citizen.organisation_id == bindparam("organisation_id"),
    Citizen.cpr_index == bindparam("cpr_index"),
    live_citizen(),
)
_change = CitizenChange.__table__.c
_CHANGES_OF = (  # Core: plain rows (``db.core_rows``)
    select(_change.changed_at, _change.changed_by, _change.changes_sealed)
    .where(_change.citizen_id == bindparam("citizen_id"))
    .order_by(_change.changed_at.desc(), _change.id.desc())
)
_REFERRALS_OF = (
    select(Referral)
    .where(Referral.citizen_id == bindparam("citizen_id"))
    .order_by(Referral.referred_on)
)


def by_public_id(session: Session, organisation_id: int, public_id: str) -> Citizen | None:
    return session.scalar(
        _BY_PUBLIC_ID, {"public_id": public_id, "organisation_id": organisation_id}
    )


def by_public_id_any_organisation(session: Session, public_id: str) -> Citizen | None:
    """For access checks only: the caller must then check the organisation."""
    return session.scalar(select(Citizen).where(Citizen.public_id == public_id, live_citizen()))


def by_cpr_index(session: Session, organisation_id: int, cpr_index: str) -> Citizen | None:
    """The live citizen with this blind index: a search never finds a deleted citizen."""
    return session.scalar(
        _BY_CPR_INDEX, {"organisation_id": organisation_id, "cpr_index": cpr_index}
    )


_HOLDER_OF_CPR_INDEX = select(Citizen, live_citizen().label("live")).where(
    Citizen.organisation_id == bindparam("organisation_id"),
    Citizen.cpr_index == bindparam("cpr_index"),
)


def holder_and_liveness(
    session: Session, organisation_id: int, cpr_index: str
) -> tuple[Citizen | None, bool]:
    """Whichever row holds the blind index (unique per organisation), and whether it is a
    live citizen (``live_citizen``): the two questions a registration asks, in one
    statement. A holder that is not live is a row whose key is gone."""
    found = session.execute(
        _HOLDER_OF_CPR_INDEX, {"organisation_id": organisation_id, "cpr_index": cpr_index}
    ).first()
    return (None, False) if found is None else (found[0], bool(found[1]))


def holder_of_cpr_index(session: Session, organisation_id: int, cpr_index: str) -> Citizen | None:
    """Whichever row holds the blind index (unique per organisation), live or not."""
    return holder_and_liveness(session, organisation_id, cpr_index)[0]


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
            live_citizen(),
        )
        .order_by(Citizen.organisation_id)
    ).all()


def page_of_citizens(
    session: Session, organisation_id: int, offset: int, limit: int
) -> Sequence[Citizen]:
    return session.scalars(
        select(Citizen)
        .where(Citizen.organisation_id == organisation_id, live_citizen())
        .order_by(Citizen.created_at.desc(), Citizen.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()


@dataclass(frozen=True)
class SealedIdentity:
    """What a name search needs of a citizen: ids, sealed name and CPR, wrapped key."""

    citizen_id: int
    public_id: str
    name_sealed: bytes
    cpr_sealed: bytes
    wrapped_key: bytes


def sealed_identities_of(session: Session, organisation_id: int) -> list[SealedIdentity]:
    """Every live citizen of the organisation (not deleted, identity key present) with
    their sealed name and CPR and wrapped key: one query, only the columns a name search
    decrypts in memory."""
    rows = session.execute(
        select(
            Citizen.id,
            Citizen.public_id,
            Citizen.name_sealed,
            Citizen.cpr_sealed,
            CitizenKey.wrapped_key,
        )
        .join(
            CitizenKey,
            and_(CitizenKey.citizen_id == Citizen.id, CitizenKey.purpose == "identity"),
        )
        .where(
            Citizen.organisation_id == organisation_id,
            Citizen.deleted_at.is_(None),
        )
        .order_by(Citizen.id)
    ).all()
    return [
        SealedIdentity(cid, pid, name, cpr, wrapped)
        for cid, pid, name, cpr, wrapped in rows
        if name is not None and cpr is not None
    ]


class Change(NamedTuple):
    """What the citizen page shows of a correction (a read-only row, not the mapped object)."""

    changed_at: datetime
    changed_by: int
    changes_sealed: bytes


def changes_of(session: Session, citizen_id: int) -> Sequence[Change]:
    """The citizen's corrections, newest first."""
    rows = core_rows(session, _CHANGES_OF, {"citizen_id": citizen_id})
    return [Change(r[0], r[1], r[2]) for r in rows]


def count_citizens(session: Session, organisation_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Citizen)
            .where(Citizen.organisation_id == organisation_id, live_citizen())
        )
        or 0
    )


def referrals_of(session: Session, citizen_id: int) -> Sequence[Referral]:
    """The citizen's referrals by day; read once per transaction."""
    return memoised_scalars(
        session,
        ("referrals_of", citizen_id),
        _REFERRALS_OF,
        {"citizen_id": citizen_id},
    )


@dataclass(frozen=True)
class NewCitizen:
    """A citizen created in this transaction and all it holds so far: ``referrals`` and
    data keys of ``key_purposes``; no consents, answers, jobs or tasks (no other
    transaction can add any before this one commits the citizen)."""

    citizen: Citizen
    referrals: tuple[Referral, ...]
    key_purposes: tuple[str, ...]


def note_new_citizen(
    session: Session, citizen: Citizen, referrals: Sequence[Referral], key_purposes: Sequence[str]
) -> None:
    """Tell the rest of this transaction what a citizen it created holds, so planning need
    not read it back; call it after the transaction's last write for the citizen. The
    note is dropped at the next write (``db.remember``), so it is never stale."""
    remember(
        session,
        ("new_citizen", citizen.id),
        NewCitizen(citizen, tuple(referrals), tuple(key_purposes)),
    )


def new_citizen(session: Session, citizen_id: int) -> NewCitizen | None:
    """The note of ``note_new_citizen`` if the citizen was created in this transaction and
    nothing was written since; None otherwise (then read what they hold)."""
    note = recalled(session, ("new_citizen", citizen_id))
    return note if isinstance(note, NewCitizen) else None


def key_purposes_of(session: Session, citizen_id: int) -> Sequence[str]:
    """The purposes the citizen holds a data key for (``identity``, ``wellbeing:<id>``)."""
    return session.scalars(
        select(CitizenKey.purpose).where(CitizenKey.citizen_id == citizen_id)
    ).all()


def lock_citizen(session: Session, citizen_id: int) -> None:
    """Lock the citizen's row for this transaction (PostgreSQL; SQLite has one writer)
    and reload it, so a change made meanwhile is what the caller reads next."""
    session.scalars(
        select(Citizen)
        .where(Citizen.id == citizen_id)
        .with_for_update(of=Citizen)
        .execution_options(populate_existing=True)
    ).one()

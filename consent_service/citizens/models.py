from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    and_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consent_service.db import Base, UtcDateTime


class CitizenKey(Base):
    """A citizen's data key, wrapped by the master key: ``identity`` seals CPR, name,
    contact data and scans; ``wellbeing`` seals the questionnaire answers, so withdrawing
    the wellbeing consent can shred them alone. Kept in its own table so that backups of
    the data leave it out (``consent-service backup`` stores keys in a separate, short-lived
    file): deleting the row makes the citizen's fields unreadable in every older data
    backup too (crypto-shredding)."""

    __tablename__ = "citizen_key"

    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(48), primary_key=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Citizen(Base):
    """A referred citizen. CPR, name and contact data are sealed (AES-GCM) under the
    citizen's own data key (``citizen_key``, purpose ``identity``); destroying that key
    makes every sealed field unreadable (crypto-shredding). ``cpr_index`` is a keyed hash
    (blind index) for de-duplication and look-up by CPR; a deleted citizen keeps a tombstone
    row (``deleted_at`` set, no index, no key, no sealed data) so that consent records stay
    provable without identity (GDPR art. 7(1))."""

    __tablename__ = "citizen"
    __table_args__ = (UniqueConstraint("organisation_id", "cpr_index", name="uq_citizen_org_cpr"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    cpr_index: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cpr_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    email_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    municipality: Mapped[str] = mapped_column(String(100))
    gp_clinic: Mapped[str] = mapped_column(String(200))
    substitute_cpr: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    identity_key: Mapped[CitizenKey | None] = relationship(
        primaryjoin=lambda: and_(
            CitizenKey.citizen_id == Citizen.id, CitizenKey.purpose == "identity"
        ),
        lazy="joined",
        viewonly=True,
    )

    @property
    def wrapped_key(self) -> bytes | None:
        return self.identity_key.wrapped_key if self.identity_key is not None else None


class Referral(Base):
    """A referral to a social navigator. The navigator offer never depends on a consent
    (invariant 6): nothing here refers to one."""

    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    referrer_kind: Mapped[str] = mapped_column(String(32))
    clinic: Mapped[str] = mapped_column(String(200))
    referred_on: Mapped[date] = mapped_column(Date)
    course_start_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    cohort: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    adult_at_referral: Mapped[bool] = mapped_column(Boolean)
    norddjurs_link: Mapped[bool] = mapped_column(Boolean)
    reachable: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ReferralContact(Base):
    """A navigator's contact with a referred citizen ("kontaktet"): the day and a short
    note, sealed under the citizen's identity key (the note may name things about the
    person). A referral with no contact is new ("Ny henvisning – ring op")."""

    __tablename__ = "referral_contact"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    contacted_on: Mapped[date] = mapped_column(Date)
    note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[int] = mapped_column(Integer)


class CitizenChange(Base):
    """A correction of a citizen's name, contact data or practice: before and after of each
    changed field, and the reason, sealed together under the citizen's identity key (so
    deleting the key shreds the history too). Appended, never updated."""

    __tablename__ = "citizen_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    changes_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    changed_by: Mapped[int] = mapped_column(Integer)

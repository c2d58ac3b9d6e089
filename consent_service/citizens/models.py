from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UtcDateTime


class Citizen(Base):
    """A referred citizen. CPR, name and contact data are sealed (AES-GCM) under the
    citizen's own data key, which is stored wrapped by the master key; destroying
    ``wrapped_key`` makes every sealed field unreadable, in backups too (crypto-shredding).
    ``cpr_index`` is a keyed hash (blind index) for de-duplication and look-up by CPR."""

    __tablename__ = "citizen"
    __table_args__ = (UniqueConstraint("organisation_id", "cpr_index", name="uq_citizen_org_cpr"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    cpr_index: Mapped[str] = mapped_column(String(64))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    cpr_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    name_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    email_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    municipality: Mapped[str] = mapped_column(String(100))
    gp_clinic: Mapped[str] = mapped_column(String(200))
    substitute_cpr: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)


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

"""Paper originals: the places the signed forms are kept, and each original's custody.

``paper_location`` is a list the data controller keeps per organisation ("Skab 2, Grenaa
Sundhedshus"); a location in use is retired, never deleted. ``paper_custody`` is the
append-only history of one signed original (a recorded consent with a form): stored,
taken out, returned, destroyed; its newest row is the original's state. ``seq`` numbers a
consent's rows 1, 2, 3 ...; the unique (consent, seq) pair lets only one of two parallel
requests append the next row (the other is refused, nothing changes)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UtcDateTime

STORED = "stored"
TAKEN_OUT = "taken_out"
RETURNED = "returned"
DESTROYED = "destroyed"
CUSTODY_EVENTS = (STORED, TAKEN_OUT, RETURNED, DESTROYED)


class PaperLocation(Base):
    """Where signed originals are kept, in one organisation."""

    __tablename__ = "paper_location"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[int] = mapped_column(Integer)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class PaperCustody(Base):
    """One fact in a signed original's custody; rows are only appended."""

    __tablename__ = "paper_custody"
    __table_args__ = (UniqueConstraint("consent_id", "seq", name="uq_paper_custody_consent_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("consent.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(16))  # CUSTODY_EVENTS
    location_id: Mapped[int | None] = mapped_column(ForeignKey("paper_location.id"), nullable=True)
    occurred_on: Mapped[date] = mapped_column(Date)
    # Who handed it in, took it out or destroyed it (a person's role or name as written on
    # the page); why it was taken out, or how it was destroyed ("makuleret").
    person: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[int] = mapped_column(Integer)

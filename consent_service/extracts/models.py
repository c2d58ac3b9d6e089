from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UtcDateTime


class ExtractRequest(Base):
    """A request for a register-data extract: drafted by one data controller, approved or
    rejected by another of the same organisation (fresh code), executed on or after its
    planned day. The signed manifest is kept after the files are deleted."""

    __tablename__ = "extract_request"
    __table_args__ = (Index("ix_extract_request_org_status", "organisation_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    purpose: Mapped[str] = mapped_column(String(64))
    sources: Mapped[str] = mapped_column(String(500))  # space-separated ids
    fields: Mapped[str] = mapped_column(String(1000))  # space-separated ids
    cohort: Mapped[str] = mapped_column(String(32))
    measurement_years: Mapped[int] = mapped_column(Integer)
    planned_on: Mapped[date] = mapped_column(Date)
    # draft | approved | rejected | executed
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[int] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    decision_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    policy_sha256: Mapped[str] = mapped_column(String(64))
    executed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    executed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    executed_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The extract's own key (files, and the pseudonym HMAC), wrapped by the master key;
    # destroyed with the files.
    key_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    manifest: Mapped[str | None] = mapped_column(Text, nullable=True)
    manifest_signature: Mapped[str | None] = mapped_column(String(128), nullable=True)
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    download_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    files_deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    cancelled_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class ExtractFile(Base):
    """One file of an executed extract, stored as AES-GCM sealed chunks (so it is written
    and read streaming); its SHA-256 (of the plain bytes) is in the signed manifest."""

    __tablename__ = "extract_file"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("extract_request.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    rows: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))


class ExtractChunk(Base):
    __tablename__ = "extract_chunk"

    file_id: Mapped[int] = mapped_column(ForeignKey("extract_file.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_sealed: Mapped[bytes] = mapped_column(LargeBinary)


class MeasurementPlan(Base):
    """A data controller's override of a cohort measurement's planned extract date (the
    date follows from ``policies/cohorts.yaml`` otherwise). Appended, never changed: the
    newest row per organisation, cohort and measurement wins."""

    __tablename__ = "measurement_plan"
    __table_args__ = (
        Index("ix_measurement_plan_org_cohort", "organisation_id", "cohort", "measurement_years"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    cohort: Mapped[str] = mapped_column(String(32))
    measurement_years: Mapped[int] = mapped_column(Integer)
    planned_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    set_at: Mapped[datetime] = mapped_column(UtcDateTime)
    set_by: Mapped[int] = mapped_column(Integer)

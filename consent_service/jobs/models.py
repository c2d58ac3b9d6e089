from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UtcDateTime


class Job(Base):
    """A piece of scheduled work. ``key`` names what it is for (kind, citizen, consent,
    offset), so planning twice never makes two jobs; a job not yet run is re-planned when
    the facts or the settings change. Workers claim due jobs with ``FOR UPDATE SKIP
    LOCKED`` (PostgreSQL) or under SQLite's single writer, so no job runs twice."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_status_run_after", "status", "run_after"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizen.id"), index=True)
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consent.id"), nullable=True)
    due_on: Mapped[date] = mapped_column(Date)
    run_after: Mapped[datetime] = mapped_column(UtcDateTime)
    # pending | done | dropped | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Task(Base):
    """An item on the navigator's worklist, opened by a job and closed when its reason is
    gone (the follow-up was answered, the citizen re-consented, withdrew or was deleted)."""

    __tablename__ = "task"
    __table_args__ = (Index("ix_task_org_open", "organisation_id", "closed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(40))  # wellbeing_follow_up | journal_reconsent
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id"), index=True)
    due_on: Mapped[date] = mapped_column(Date)
    overdue_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    closed_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)

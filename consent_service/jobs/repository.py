"""All database queries of jobs and worklist tasks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from consent_service.citizens.models import Citizen, Referral
from consent_service.citizens.repository import live_citizen
from consent_service.jobs.models import Job, Task


def _skip_locked(session: Session, stmt: Select[Any]) -> Select[Any]:
    """On PostgreSQL, rows another transaction holds are skipped, not waited for."""
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt  # SQLite: one writer at a time, nothing is ever locked by another


def job_keys_of(session: Session, citizen_id: int) -> set[str]:
    """Every job key the citizen has, whatever its state."""
    return set(session.scalars(select(Job.key).where(Job.citizen_id == citizen_id)).all())


def pending_jobs_of(session: Session, citizen_id: int) -> Sequence[Job]:
    """The citizen's pending jobs no worker holds (a job being run is left to its worker)."""
    return session.scalars(
        _skip_locked(
            session, select(Job).where(Job.citizen_id == citizen_id, Job.status == "pending")
        )
    ).all()


def open_tasks_of(session: Session, citizen_id: int) -> Sequence[Task]:
    """The citizen's open worklist tasks no other transaction holds."""
    return session.scalars(
        _skip_locked(
            session, select(Task).where(Task.citizen_id == citizen_id, Task.closed_at.is_(None))
        )
    ).all()


def task_by_key(session: Session, key: str) -> Task | None:
    """The worklist task with this key, open or closed."""
    return session.scalar(select(Task).where(Task.key == key))


def claim_due_job(session: Session, now: datetime) -> Job | None:
    """The next due pending job, locked for this transaction (skipping those another
    worker holds on PostgreSQL; SQLite has one writer at a time)."""
    stmt = (
        select(Job)
        .where(Job.status == "pending", Job.run_after <= now)
        .order_by(Job.run_after, Job.id)
        .limit(1)
    )
    job: Job | None = session.scalar(_skip_locked(session, stmt))
    return job


def live_citizens(session: Session) -> Sequence[Citizen]:
    """Every citizen not deleted, of every organisation: what a full re-plan walks."""
    return session.scalars(select(Citizen).where(Citizen.deleted_at.is_(None))).all()


# The worklist's two reads are built once (``db.py``: statements built once per process).
_OPEN_TASKS_WITH_CITIZENS = (
    select(Task, Citizen)
    .join(Citizen, Citizen.id == Task.citizen_id)
    .where(
        Task.organisation_id == bindparam("organisation_id"),
        Task.closed_at.is_(None),
        live_citizen(),  # not deleted, key not gone
    )
    .order_by(Task.due_on, Task.id)
)


def open_tasks_with_citizens(
    session: Session, organisation_id: int
) -> Sequence[tuple[Task, Citizen]]:
    """The organisation's open tasks of live citizens, earliest due first."""
    rows = session.execute(_OPEN_TASKS_WITH_CITIZENS, {"organisation_id": organisation_id})
    return [(task, citizen) for task, citizen in rows]


def open_tasks_with_cohorts(
    session: Session, organisation_id: int
) -> Sequence[tuple[Task, str | None]]:
    """The organisation's open tasks, each with the cohort of each of its citizen's
    referrals (a task appears once per referral)."""
    rows = session.execute(
        select(Task, Referral.cohort)
        .join(Referral, Referral.citizen_id == Task.citizen_id)
        .where(Task.organisation_id == organisation_id, Task.closed_at.is_(None))
    ).all()
    return [(task, cohort) for task, cohort in rows]


_PENDING_JOBS_WITH_CITIZENS = (
    select(Job, Citizen)
    .join(Citizen, Citizen.id == Job.citizen_id)
    .where(
        Job.organisation_id == bindparam("organisation_id"),
        Job.status == "pending",
        Job.kind.in_(bindparam("kinds", expanding=True)),
        Job.due_on <= bindparam("due_by"),
        live_citizen(),
    )
    .order_by(Job.due_on, Job.id)
)


def pending_jobs_with_citizens(
    session: Session, organisation_id: int, kinds: tuple[str, ...], due_by: date
) -> Sequence[tuple[Job, Citizen]]:
    """The organisation's jobs of ``kinds`` not yet run, due on or before ``due_by``, of
    live citizens, earliest due first: what the worklist will show soon."""
    rows = session.execute(
        _PENDING_JOBS_WITH_CITIZENS,
        {"organisation_id": organisation_id, "kinds": list(kinds), "due_by": due_by},
    )
    return [(job, citizen) for job, citizen in rows]

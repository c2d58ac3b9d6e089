"""Running due jobs: claim one at a time, re-check its condition, act, record the outcome.

A job is claimed in the same transaction that acts on it and records the result: on
PostgreSQL with ``SELECT ... FOR UPDATE SKIP LOCKED`` so several workers take different
jobs; on SQLite every transaction begins IMMEDIATE, so there is one writer at a time. A
job runs at most once: the claim and the ``done`` status commit together. A failure rolls
the work back and schedules a retry with doubling back-off until ``job_max_attempts``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from sqlalchemy.orm import Session, sessionmaker

from consent_service.audit.catalogue import default_event_catalogue
from consent_service.audit.checkpoints import sign_if_due
from consent_service.audit.recorder import SYSTEM, Actor, seal_pending
from consent_service.audit.retention import purge_expired
from consent_service.audit.witnessing import hand_off
from consent_service.citizens.models import Citizen
from consent_service.clock import legal_today
from consent_service.db import session_scope
from consent_service.deletion.service import purge_sessions, shred_withdrawn_wellbeing
from consent_service.extracts.downloads import purge_expired_files
from consent_service.jobs import planner, repository
from consent_service.jobs.models import Job, Task
from consent_service.oversight.alerts import (
    evaluate_alerts,
    expected_from,
    notify,
    smtp_settings_from,
)
from consent_service.retention.schedule import default_schedule
from consent_service.rulebook import tasks as rulebook_tasks
from consent_service.services import ServiceDeps
from consent_service.subject_requests.service import record_overdue

log = structlog.get_logger()


def worker_name() -> str:
    """This worker's name in the jobs table: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class RunSummary:
    done: int = 0
    dropped: int = 0
    failed: int = 0
    retried: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return (
            f"{self.done} done, {self.dropped} dropped, {self.retried} to retry, "
            f"{self.failed} failed"
        )


class Dropped(Exception):
    """The job's condition no longer holds; it is recorded as dropped, not acted on."""


Handler = Callable[[Session, ServiceDeps, Actor, Job, Citizen, planner.JobSpec], str]


def _open_task(
    session: Session, deps: ServiceDeps, actor: Actor, job: Job, citizen: Citizen,
    spec: planner.JobSpec,
) -> str:  # fmt: skip
    """Put (or keep) the job's item on the navigator's worklist."""
    if spec.task_key is None or spec.overdue_on is None:
        raise Dropped("no task")
    task = repository.task_by_key(session, spec.task_key)
    now = deps.clock.now()
    if task is None:
        session.add(
            Task(
                key=spec.task_key, kind=spec.kind, organisation_id=citizen.organisation_id,
                citizen_id=citizen.id, due_on=spec.due_on, overdue_on=spec.overdue_on,
                reason=spec.reason, opened_at=now,
            )
        )  # fmt: skip
        outcome = "task opened"
    elif task.closed_at is not None:
        task.closed_at, task.closed_reason = None, None
        task.due_on, task.overdue_on, task.reason = spec.due_on, spec.overdue_on, spec.reason
        outcome = "task reopened"
    else:
        task.due_on, task.overdue_on, task.reason = spec.due_on, spec.overdue_on, spec.reason
        outcome = "task raised again"
    session.flush()
    return outcome


def _shred_wellbeing(
    session: Session, deps: ServiceDeps, actor: Actor, job: Job, citizen: Citizen,
    spec: planner.JobSpec,
) -> str:  # fmt: skip
    if job.consent_id is None:
        raise Dropped("no consent")
    count = shred_withdrawn_wellbeing(session, deps, actor, citizen, job.consent_id)
    return f"{count} answers deleted"


HANDLERS: dict[str, Handler] = {
    planner.FOLLOW_UP: _open_task,
    planner.RECONSENT: _open_task,
    planner.SHRED_WELLBEING: _shred_wellbeing,
}


def _claim(session: Session, deps: ServiceDeps) -> Job | None:
    return repository.claim_due_job(session, deps.clock.now())


def _run_claimed(session: Session, deps: ServiceDeps, job: Job, worker: str) -> str:
    """Re-check the job against today's facts and act. Returns done or dropped."""
    citizen = session.get(Citizen, job.citizen_id) if job.citizen_id is not None else None
    spec: planner.JobSpec | None = None
    if citizen is not None and citizen.deleted_at is None:
        facts = planner.load_facts(session, citizen)
        specs = planner.desired_jobs(
            facts, legal_today(deps.clock), deps.settings, default_schedule()
        )
        spec = next((s for s in specs if s.key == job.key), None)
    actor = SYSTEM
    if spec is None or citizen is None:
        outcome, status = "condition no longer holds", "dropped"
    else:
        try:
            outcome, status = HANDLERS[job.kind](session, deps, actor, job, citizen, spec), "done"
        except Dropped as exc:
            outcome, status = f"dropped: {exc}", "dropped"
    job.status, job.outcome = status, outcome[:200]
    job.attempts += 1
    job.finished_at, job.finished_by = deps.clock.now(), worker
    deps.audit.record(
        session,
        actor,
        action="job.done" if status == "done" else "job.dropped",
        outcome="success",
        resource_type="citizen" if citizen is not None else "job",
        resource_id=citizen.public_id if citizen is not None else str(job.id),
        organisation_id=job.organisation_id,
        details={"job": job.id, "kind": job.kind, "result": job.outcome, "worker": worker},
    )
    if citizen is not None:
        planner.replan_citizen(session, deps, citizen)
    return status


def _record_failure(
    sessions: sessionmaker[Session], deps: ServiceDeps, job_id: int, error: BaseException
) -> str:
    with session_scope(sessions) as session:
        job = session.get(Job, job_id)
        if job is None:
            return "failed"
        job.attempts += 1
        # The exception's type only: a message could carry personal data.
        job.last_error = type(error).__name__
        if job.attempts >= deps.settings.job_max_attempts:
            job.status, job.finished_at = "failed", deps.clock.now()
        else:
            delay = deps.settings.job_retry_seconds * 2 ** (job.attempts - 1)
            job.run_after = deps.clock.now() + timedelta(seconds=delay)
        deps.audit.record(
            session,
            SYSTEM,
            action="job.failed",
            outcome="failure",
            resource_type="job",
            resource_id=str(job.id),
            organisation_id=job.organisation_id,
            reason=job.last_error,
            details={"job": job.id, "kind": job.kind, "attempts": job.attempts,
                     "final": job.status == "failed"},
        )  # fmt: skip
        return "failed" if job.status == "failed" else "retried"


def housekeeping(sessions: sessionmaker[Session], deps: ServiceDeps) -> None:
    """What the worker does on every pass besides jobs, each in its own transaction:
    chain audit events a crash left pending, sign the interval checkpoint when due, hand
    the signed checkpoints to the witnesses and new interval checkpoints to the DPO's
    mailbox (``audit.witnessing``), record each citizen's request whose deadline passed
    (``subject_request.overdue``, once per request), note a lapsed rulebook sign-off for
    the DPO (``rulebook.lapsed``), evaluate the audit alert rules (and e-mail new alerts),
    delete what the retention schedule says is past its time: old login sessions, extract
    files, whole segments of the audit log; and, when ``rules_verify_hour`` is set, run the
    Danish scenarios against the service once a night (``rulebook.tasks``)."""
    with sessions() as session:
        seal_pending(session.get_bind())
    with session_scope(sessions) as session:
        interval = timedelta(minutes=deps.settings.audit_checkpoint_minutes)
        sign_if_due(
            session, deps.crypto, deps.clock, deps.audit, SYSTEM, interval,
            origin=deps.settings.audit_origin,
        )  # fmt: skip
    try:  # a witness's failure is recorded inside and retried next pass
        hand_off(sessions, deps)
    except Exception as exc:  # only a failure to record it gets here: go on with the pass
        log.warning("witness hand-off failed", error=type(exc).__name__)
    try:  # a broken rule file must not stop the pass: start-up and the page name it
        rulebook_tasks.note_lapse(sessions, deps, SYSTEM)
    except Exception as exc:
        log.warning("rulebook lapse check failed", error=type(exc).__name__)
    with session_scope(sessions) as session:
        record_overdue(session, deps, SYSTEM)
    with session_scope(sessions) as session:
        evaluate_alerts(
            session, deps.clock, deps.audit, SYSTEM, expected=expected_from(deps.settings)
        )
        notify(session, smtp_settings_from(deps.settings), deps.clock, deps.audit, SYSTEM)
    with session_scope(sessions) as session:
        purge_sessions(session, deps, SYSTEM)
    with session_scope(sessions) as session:
        purge_expired_files(session, deps, SYSTEM)
    with session_scope(sessions) as session:
        purge_expired(
            session, deps.clock, deps.audit, SYSTEM, default_event_catalogue().retention_deadline
        )
    # Last, and only when enabled: the nightly run of the scenarios takes a while (a
    # subprocess), and is claimed once per local day by one worker.
    try:
        rulebook_tasks.nightly_verification(sessions, deps, SYSTEM)
    except Exception as exc:
        log.warning("nightly rules verify failed", error=type(exc).__name__)


def run_due(
    sessions: sessionmaker[Session],
    deps: ServiceDeps,
    *,
    worker: str | None = None,
    limit: int = 1000,
    replan: bool = True,
) -> RunSummary:
    """Re-plan, then run due jobs one per transaction until none is due (or ``limit``)."""
    worker = worker or worker_name()
    summary = RunSummary()
    if replan:
        with session_scope(sessions) as session:
            planner.replan_all(session, deps)
        housekeeping(sessions, deps)
    for _ in range(limit):
        job_id: int | None = None
        try:
            with session_scope(sessions) as session:
                job = _claim(session, deps)
                if job is None:
                    break
                job_id, kind = job.id, job.kind
                status = _run_claimed(session, deps, job, worker)
        except Exception as exc:  # any failure of a job: retried, then failed
            if job_id is None:
                raise
            log.warning("job failed", job=job_id, error=type(exc).__name__)
            status = _record_failure(sessions, deps, job_id, exc)
        summary.by_kind[kind] = summary.by_kind.get(kind, 0) + 1
        if status == "done":
            summary.done += 1
        elif status == "dropped":
            summary.dropped += 1
        elif status == "retried":
            summary.retried += 1
        else:
            summary.failed += 1
    return summary

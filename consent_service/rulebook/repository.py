"""Queries of the rulebook's sign-offs and scenario runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, text, union_all
from sqlalchemy.orm import Session

from consent_service.audit.models import AuditEvent, AuditPending
from consent_service.rulebook.models import (
    RulebookApproval,
    RulebookApprovedFile,
    RulebookVerification,
)


def latest_approval(session: Session) -> RulebookApproval | None:
    return session.scalars(
        select(RulebookApproval).order_by(RulebookApproval.id.desc()).limit(1)
    ).first()


def approved_files(session: Session, approval_id: int) -> list[RulebookApprovedFile]:
    return list(
        session.scalars(
            select(RulebookApprovedFile)
            .where(RulebookApprovedFile.approval_id == approval_id)
            .order_by(RulebookApprovedFile.path)
        )
    )


# Key of the PostgreSQL advisory lock (one-key form) under which the worker decides whether
# the rulebook's lapse is recorded yet and whether tonight's run of the scenarios has
# started: several workers, one event each. Arbitrary.
RULEBOOK_LOCK = 742_017


def lock_rulebook_notes(session: Session) -> None:
    """Until the transaction ends, no other worker records a lapse or starts a run."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: every transaction began IMMEDIATE, so writers are serialised already
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RULEBOOK_LOCK})


def _newest_runs(
    session: Session, passed_only: bool
) -> dict[tuple[str, str], RulebookVerification]:
    newest = select(func.max(RulebookVerification.id))
    if passed_only:
        newest = newest.where(RulebookVerification.outcome == "passed")
    newest = newest.group_by(RulebookVerification.feature, RulebookVerification.scenario)
    rows = session.scalars(select(RulebookVerification).where(RulebookVerification.id.in_(newest)))
    return {(r.feature, r.scenario): r for r in rows}


def last_passed(session: Session) -> dict[tuple[str, str], RulebookVerification]:
    """Each scenario's newest passing run, by (feature file path, scenario name)."""
    return _newest_runs(session, passed_only=True)


def latest_runs(session: Session) -> dict[tuple[str, str], RulebookVerification]:
    """Each scenario's newest run, passed or failed, by (feature file path, scenario name)."""
    return _newest_runs(session, passed_only=False)


def runs_of(session: Session, run_id: str) -> list[RulebookVerification]:
    return list(
        session.scalars(
            select(RulebookVerification)
            .where(RulebookVerification.run_id == run_id)
            .order_by(RulebookVerification.id)
        )
    )


def newest_event_at(session: Session, action: str) -> datetime | None:
    """When the newest audit event ``action`` occurred, chained or still pending (on
    PostgreSQL an event waits in ``audit_pending`` until the sealer chains it)."""
    times = union_all(
        select(AuditEvent.occurred_at.label("at")).where(AuditEvent.action == action),
        select(AuditPending.occurred_at.label("at")).where(AuditPending.action == action),
    ).subquery()
    found: datetime | None = session.scalar(select(func.max(times.c.at)))
    return found


def event_details_about(
    session: Session, action: str, resource_type: str, resource_id: str
) -> list[str]:
    """The details (JSON text) of every ``action`` event about that resource, chained or
    still pending."""
    rows = union_all(
        select(AuditEvent.details).where(
            AuditEvent.action == action,
            AuditEvent.resource_type == resource_type,
            AuditEvent.resource_id == resource_id,
        ),
        select(AuditPending.details).where(
            AuditPending.action == action,
            AuditPending.resource_type == resource_type,
            AuditPending.resource_id == resource_id,
        ),
    )
    found: list[str] = list(session.scalars(select(rows.subquery().c.details)))
    return found

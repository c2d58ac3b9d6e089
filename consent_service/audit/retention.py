"""Retention of the audit log itself (``audit/events.yaml``): expired events go by whole
segments, a segment being the events up to and including a signed checkpoint. A segment
goes only when every event in it, and in every older segment, is past its retention (so
consent evidence kept longer holds back the segments that contain it). The checkpoints
stay, so what remains verifies from the newest purged checkpoint; the removal is recorded
in ``audit_purge`` (which the database requires before it lets a DELETE through), with
the hash of the last removed event, and as an audit event.

On PostgreSQL the application login may not delete audit events at all: the purge is the
database function ``audit_purge_expired`` (migration 0007), running as the owner, which
decides by itself from the database clock and ``audit_retention`` (the catalogue's
periods, synced by ``migrate``) what may go, so calling it can never remove more than the
schedule allows. A dry run, and the Python path on SQLite, decide the same way here,
with the database clock on PostgreSQL.

The purge's SQL stays here, a named query module, beside the database function it
mirrors (``audit.repository`` holds the domain's other queries).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from consent_service.audit.models import AuditCheckpoint, AuditEvent, AuditPurge
from consent_service.audit.recorder import Actor, AuditRecorder, seal_after_commit
from consent_service.clock import Clock

# Given an event's action and time, the instant its retention ends (None: kept for good).
Deadline = Callable[[str, datetime], datetime | None]


@dataclass(frozen=True)
class PurgePlan:
    up_to_seq: int | None  # None: nothing can go yet
    events: int
    segments: int


def plan_purge(session: Session, now: datetime, deadline: Deadline) -> PurgePlan:
    """The longest run of oldest segments whose every event is past its retention."""
    start = session.scalar(select(func.max(AuditPurge.up_to_seq))) or 0
    checkpoints = session.scalars(
        select(AuditCheckpoint.seq).where(AuditCheckpoint.seq > start).order_by(AuditCheckpoint.seq)
    ).all()
    up_to, events, segments = None, 0, 0
    low = start
    for cp_seq in checkpoints:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.occurred_at).where(
                AuditEvent.seq > low, AuditEvent.seq <= cp_seq
            )
        ).all()
        if any(_kept(deadline(action, at), now) for action, at in rows):
            break
        up_to, events, segments, low = cp_seq, events + len(rows), segments + 1, cp_seq
    return PurgePlan(up_to, events, segments)


def _kept(until: datetime | None, now: datetime) -> bool:
    return until is None or until > now


def purge_expired(
    session: Session,
    clock: Clock,
    audit: AuditRecorder,
    actor: Actor,
    deadline: Deadline,
    *,
    dry_run: bool = False,
) -> PurgePlan:
    """Remove the expired segments (see the module); a dry run only says what would go."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres and not dry_run:
        return _purge_in_database(session, actor)
    now = session.execute(select(func.now())).scalar_one() if postgres else clock.now()
    plan = plan_purge(session, now, deadline)
    if dry_run or plan.up_to_seq is None:
        return plan
    start = session.scalar(select(func.max(AuditPurge.up_to_seq))) or 0
    digest = hashlib.sha256()
    first_at = last_at = None
    last_hash = None
    for event_hash, at in session.execute(
        select(AuditEvent.hash, AuditEvent.occurred_at)
        .where(AuditEvent.seq > start, AuditEvent.seq <= plan.up_to_seq)
        .order_by(AuditEvent.seq)
    ):
        digest.update(bytes.fromhex(event_hash))
        first_at = first_at or at
        last_at = at
        last_hash = event_hash
    session.add(
        AuditPurge(
            up_to_seq=plan.up_to_seq,
            events=plan.events,
            first_occurred_at=first_at,
            last_occurred_at=last_at,
            removed_sha256=digest.hexdigest(),
            up_to_hash=last_hash,
            purged_at=now,
        )
    )
    session.flush()  # the purge record must exist before the database allows the DELETE
    session.execute(
        delete(AuditEvent).where(AuditEvent.seq > start, AuditEvent.seq <= plan.up_to_seq)
    )
    audit.record(
        session,
        actor,
        action="audit.purged",
        outcome="success",
        details={
            "up_to_seq": plan.up_to_seq,
            "events": plan.events,
            "segments": plan.segments,
            "removed_sha256": digest.hexdigest(),
            "up_to_hash": last_hash,
        },
    )
    return plan


def _purge_in_database(session: Session, actor: Actor) -> PurgePlan:
    """``audit_purge_expired``: it removes, records the purge and stages the
    ``audit.purged`` event in this transaction; sealed after the commit."""
    row = session.execute(
        text(
            "SELECT up_to_seq, events, segments "
            "FROM audit_purge_expired(:user_id, :username, :org, :request_id, :source_ip)"
        ),
        {
            "user_id": actor.user_id,
            "username": actor.username,
            "org": actor.organisation_id,
            "request_id": actor.request_id,
            "source_ip": actor.source_ip,
        },
    ).first()
    if row is None:
        return PurgePlan(None, 0, 0)
    seal_after_commit(session)
    return PurgePlan(int(row.up_to_seq), int(row.events), int(row.segments))

"""Database queries of the audit chain: events by number and subject, checkpoints, purges,
for the verifier, the checkpoints and the start record. The log is below every domain, so
these queries know no user or organisation table; what a reviewer of an organisation may
see is the oversight's (``oversight.repository``, ``oversight.scope_query``).

``cosignature_query`` (the witnesses' cosignatures and the checkpoints they are offered)
stays apart, named for its job. The chain's own storage SQL stays beside what it must
agree with: append and sealing in ``recorder``, the purge and its database function in
``retention``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from consent_service.audit.models import AuditCheckpoint, AuditEvent, AuditPurge

# --- events ---------------------------------------------------------------------------


def head_seq(session: Session) -> int | None:
    """The newest event's number, None for an empty log."""
    return session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))


def seq_range(
    session: Session, occurred_from: datetime, occurred_to: datetime
) -> tuple[int | None, int | None]:
    """The first and last event numbers of events occurred in [from, to)."""
    low, high = session.execute(
        select(func.min(AuditEvent.seq), func.max(AuditEvent.seq)).where(
            AuditEvent.occurred_at >= occurred_from, AuditEvent.occurred_at < occurred_to
        )
    ).one()
    return low, high


def event_hash_at(session: Session, seq: int) -> str | None:
    """The stored hash of event ``seq``, None if it is not kept."""
    return session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))


def count_events_after(session: Session, seq: int, *, excluding: Iterable[str]) -> int:
    """How many events after ``seq`` have an action not in ``excluding``."""
    since = select(func.count()).where(
        AuditEvent.seq > seq, AuditEvent.action.not_in(tuple(excluding))
    )
    return int(session.scalar(since) or 0)


def events_of_actions(
    session: Session,
    exact: Sequence[str],
    prefixes: Sequence[str],
    since: datetime,
    until: datetime,
) -> Iterable[AuditEvent]:
    """Events with one of the ``exact`` actions or an action starting with one of the
    ``prefixes``, occurred in [since, until], in log order (uses the action/time index)."""
    condition = or_(
        AuditEvent.action.in_(exact), *(AuditEvent.action.startswith(p) for p in prefixes)
    )
    return session.scalars(
        select(AuditEvent)
        .where(condition, AuditEvent.occurred_at >= since, AuditEvent.occurred_at <= until)
        .order_by(AuditEvent.seq)
    )


def newest_event_about(
    session: Session, resource_type: str, resource_id: str, actions: Sequence[str]
) -> AuditEvent | None:
    """The newest event with one of ``actions`` about that resource."""
    return session.scalar(
        select(AuditEvent)
        .where(
            AuditEvent.action.in_(actions),
            AuditEvent.resource_type == resource_type,
            AuditEvent.resource_id == resource_id,
        )
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )


def first_event_about(session: Session, resource_type: str, resource_id: str) -> AuditEvent | None:
    """The oldest event about that resource."""
    return session.scalar(
        select(AuditEvent)
        .where(AuditEvent.resource_type == resource_type, AuditEvent.resource_id == resource_id)
        .order_by(AuditEvent.seq)
        .limit(1)
    )


def newest_details_of(session: Session, action: str) -> str | None:
    """The details (JSON text) of the newest event with ``action``."""
    return session.scalar(
        select(AuditEvent.details)
        .where(AuditEvent.action == action)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )


# --- checkpoints and purges -----------------------------------------------------------


def checkpoint_at(session: Session, seq: int) -> AuditCheckpoint | None:
    """The checkpoint of event ``seq``, if one was signed."""
    return session.scalar(select(AuditCheckpoint).where(AuditCheckpoint.seq == seq))


def checkpoint_hash_at(session: Session, seq: int) -> str | None:
    """The hash the checkpoint of event ``seq`` signed, if there is one."""
    return session.scalar(select(AuditCheckpoint.hash).where(AuditCheckpoint.seq == seq))


def newest_signed(session: Session) -> tuple[datetime, int] | None:
    """When the most recently signed checkpoint was signed, and its event number."""
    row = session.execute(
        select(AuditCheckpoint.signed_at, AuditCheckpoint.seq)
        .order_by(AuditCheckpoint.signed_at.desc())
        .limit(1)
    ).first()
    return None if row is None else (row.signed_at, row.seq)


def newest_checkpoint(session: Session) -> AuditCheckpoint | None:
    """The checkpoint of the highest event number."""
    return session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1))


def checkpoints_between(session: Session, first: int, last: int) -> Sequence[AuditCheckpoint]:
    """The checkpoints of events ``first``..``last``."""
    return session.scalars(
        select(AuditCheckpoint).where(AuditCheckpoint.seq >= first, AuditCheckpoint.seq <= last)
    ).all()


def checkpoint_before(session: Session, seq: int) -> AuditCheckpoint | None:
    """The newest checkpoint strictly before ``seq``."""
    return session.scalar(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.seq < seq)
        .order_by(AuditCheckpoint.seq.desc())
        .limit(1)
    )


def newest_checkpoints(session: Session, limit: int) -> Sequence[AuditCheckpoint]:
    """The ``limit`` newest checkpoints, newest first."""
    return session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(limit)
    ).all()


def all_checkpoints(session: Session) -> Sequence[AuditCheckpoint]:
    """Every checkpoint, in log order."""
    return session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).all()


def last_purged_seq(session: Session) -> int | None:
    """The last event number any purge removed, None if nothing was ever purged."""
    return session.scalar(select(func.max(AuditPurge.up_to_seq)))


def purge_ids(session: Session) -> list[int]:
    """The ids of every purge, in order: a change between two reads means a purge ran."""
    return list(session.scalars(select(AuditPurge.id).order_by(AuditPurge.id)))


def all_purges(session: Session) -> Sequence[AuditPurge]:
    """Every purge, in log order."""
    return session.scalars(select(AuditPurge).order_by(AuditPurge.up_to_seq)).all()

"""Appending to the audit log: in the caller's transaction, or alone for denials.

An event always commits or rolls back with the caller's transaction. How it joins the
hash chain depends on the engine:

- SQLite has one writer at a time (every transaction begins IMMEDIATE), so the event is
  chained directly: reading the head and inserting under that lock costs nothing more.
- PostgreSQL runs requests concurrently. Chaining in the request would hold the chain
  lock from the append to the commit, so every commit would wait for the one before it
  (about 700 appends/s on the 2-core reference machine). Instead the request inserts
  the event into ``audit_pending`` without a lock. After every commit that recorded
  one, ``seal_pending`` takes the chain lock once and chains all committed pending
  events in ``id`` order, in one transaction. Concurrent requests therefore share a
  seal. Seal order is chain order. ``occurred_at`` is the time the event was recorded,
  so along the chain it can step back by the few milliseconds a seal takes.

This module is also the chain's named query module: the append and sealing SQL stays
beside the hashing it must agree with (``audit.repository`` holds the other queries).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

import structlog
from sqlalchemy import Connection, Engine, Table, insert, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from consent_service.audit.chain import GENESIS, canonical_details, event_hash
from consent_service.audit.models import AuditEvent, AuditPending
from consent_service.clock import Clock

log = structlog.get_logger()

# Arbitrary constant naming the PostgreSQL advisory lock that serialises sealers.
CHAIN_LOCK_KEY = 7_420_031_001
# Session.info key: the connection of a transaction that staged events, to seal on after
# its commit.
_PENDING = "audit_pending"
# Most pending events one call of audit_seal chains (one transaction each).
SEAL_BATCH = 5000
# Core inserts on the tables: the ORM's bulk-insert machinery costs more than the INSERT.
_PENDING_INSERT = insert(cast(Table, AuditPending.__table__))
_EVENT_INSERT = insert(cast(Table, AuditEvent.__table__))


@dataclass(frozen=True)
class Actor:
    """Who acts, from where, in which request: the context every audit event carries."""

    user_id: int | None = None
    username: str | None = None
    organisation_id: int | None = None
    request_id: str | None = None
    source_ip: str | None = None

    def as_user(self, user_id: int, username: str, organisation_id: int) -> Actor:
        return replace(self, user_id=user_id, username=username, organisation_id=organisation_id)


SYSTEM = Actor(username="system")


class AuditRecorder:
    """Appends events to the hash chain. Injected into services; never commits."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def record(
        self,
        session: Session,
        actor: Actor,
        *,
        action: str,
        outcome: str,
        resource_type: str | None = None,
        resource_id: str | None = None,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
        organisation_id: int | None = None,
    ) -> None:
        """Record one event in the session's transaction; it commits or rolls back with it.

        On SQLite the event is chained at once. On PostgreSQL it is chained by
        ``seal_pending`` right after the transaction commits (see the module).
        """
        fields: dict[str, Any] = {
            "actor_user_id": actor.user_id,
            "actor_username": actor.username,
            "organisation_id": organisation_id
            if organisation_id is not None
            else actor.organisation_id,
            "action": action,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "outcome": outcome,
            "reason": reason,
            "request_id": actor.request_id,
            "source_ip": actor.source_ip,
            "details": canonical_details(details),
        }
        if session.get_bind().dialect.name == "postgresql":
            fields["occurred_at"] = self._clock.now()
            session.execute(_PENDING_INSERT, fields)
            session.info[_PENDING] = session.connection()
            log.info("audit", action=action, outcome=outcome)
            return
        # SQLite: the transaction began IMMEDIATE, so it holds the only write lock.
        head = session.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        ).first()
        prev_seq, prev_hash = (head[0], head[1]) if head else (0, GENESIS)
        # occurred_at is read under the lock, so time never runs backwards along the chain.
        fields.update(seq=prev_seq + 1, occurred_at=self._clock.now(), prev_hash=prev_hash)
        fields["hash"] = event_hash(fields)
        session.execute(_EVENT_INSERT, fields)
        log.info("audit", action=action, outcome=outcome, seq=fields["seq"])


def seal_after_commit(session: Session) -> None:
    """Have the session's transaction sealed after it commits, as ``record`` does: for
    events a database function staged in ``audit_pending`` (``audit_purge_expired``)."""
    session.info[_PENDING] = session.connection()


def seal_pending(bind: Engine | Connection) -> int:
    """Chain every committed pending event, in ``id`` order, under the chain lock;
    returns how many. Nothing to do on SQLite (events are chained as they are recorded).
    Safe to call from anywhere at any time: sealers queue on the lock, and a sealer that
    finds nothing pending writes nothing.

    The work is the database function ``audit_seal`` (migration 0008), one round trip
    per batch: the lock is held for microseconds per event, not for network round trips.
    Its digest and hash are those of ``chain.event_digest`` and ``chain.link``, restated
    in SQL; a test checks the two agree. Its commit does not wait for the WAL flush,
    which keeps the fsync out of the time the lock is held. Nothing can be lost by it:
    the events are already durable in ``audit_pending``, and the move is one
    transaction. If a crash takes a seal that was not yet flushed, its rows are pending
    again and the next seal chains them from the same head. A checkpoint or an export
    that saw the seal commits with a normal flush, and that flush covers the earlier
    seal too.
    """
    engine = bind if isinstance(bind, Engine) else bind.engine
    if engine.dialect.name != "postgresql":
        return 0
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return _seal_batches(
            lambda: conn.execute(
                text("SELECT audit_seal(:k, :n)"), {"k": CHAIN_LOCK_KEY, "n": SEAL_BATCH}
            ).scalar_one()
        )


def _seal_batches(call_seal: Callable[[], Any]) -> int:
    """Call ``audit_seal`` (one transaction of at most SEAL_BATCH events each) until a
    call finds fewer than a full batch pending; returns how many were sealed."""
    sealed = 0
    while True:
        n = int(call_seal())
        sealed += n
        if n < SEAL_BATCH:
            return sealed


@sa_event.listens_for(Session, "after_commit")
def _seal_after_commit(session: Session) -> None:
    """Chain what the transaction just committed to ``audit_pending``, on the connection
    it committed on, before that goes back to the pool. If sealing fails (the database
    went away), the events wait, committed, for the next seal: every later commit that
    records an event seals all pending ones, and so does the worker."""
    if session.get_nested_transaction() is not None:
        return  # a savepoint was released; the transaction itself has not committed
    connection = session.info.pop(_PENDING, None)
    if connection is None:
        return
    try:
        _seal_on(connection)
    except Exception as exc:  # the caller's data is committed; never fail it afterwards
        log.warning("audit.seal_deferred", error=type(exc).__name__)


def _seal_on(connection: Connection) -> None:
    """``seal_pending`` on a connection whose transaction has just committed: one round
    trip in autocommit on the same DBAPI connection, instead of a pool checkout and its
    ping. Falls back to a pooled connection if this one is gone."""
    raw = None if connection.invalidated else connection.connection.dbapi_connection
    if raw is None:
        seal_pending(connection.engine)
        return
    raw.autocommit = True  # idle after the commit, so psycopg allows the switch
    try:
        _seal_batches(
            lambda: raw.execute(
                "SELECT audit_seal(%s, %s)", (CHAIN_LOCK_KEY, SEAL_BATCH)
            ).fetchone()[0]
        )
    finally:
        raw.autocommit = False


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    """A rolled-back transaction leaves nothing to seal (after a commit the flag is
    already gone); a savepoint ending is not the transaction ending."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def as_record(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at,
        "actor_user_id": event.actor_user_id,
        "actor_username": event.actor_username,
        "organisation_id": event.organisation_id,
        "action": event.action,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "outcome": event.outcome,
        "reason": event.reason,
        "request_id": event.request_id,
        "source_ip": event.source_ip,
        "details": event.details,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def iter_records(session: Session, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """All events in chain order, streamed."""
    stmt = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch)
    for event in session.scalars(stmt):
        yield as_record(event)

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

  A transaction's events are not inserted one by one: they wait in the session
  (``_Staged``) and go into ``audit_pending`` in one multi-row INSERT just before the
  COMMIT (``_write_before_commit``), in the order they were recorded; a transaction that rolls
  back inserted nothing. A savepoint rolled back drops the events recorded inside it
  (and brings back any of its enclosing transaction's that were written inside it). A
  read of ``audit_pending`` inside the transaction first writes what waits, as the
  ORM's autoflush does for its rows.

This module is also the chain's named query module: the append and sealing SQL stays
beside the hashing it must agree with (``audit.repository`` holds the other queries).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, cast
from weakref import WeakKeyDictionary

import structlog
from sqlalchemy import Connection, Engine, Table, insert, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.util import find_tables

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
# Session.info key: the events a transaction recorded on PostgreSQL, in order (_Staged).
_STAGED = "audit_staged"
# The same lists by the connection of their transaction, written by its commit.
_STAGED_ON: WeakKeyDictionary[Connection, list[_Staged]] = WeakKeyDictionary()
# Core inserts on the tables: the ORM's bulk-insert machinery costs more than the INSERT.
_PENDING_TABLE = cast(Table, AuditPending.__table__)
_EVENT_INSERT = insert(cast(Table, AuditEvent.__table__))
# A transaction's pending events, executed with a list of rows: SQLAlchemy's
# "insertmanyvalues" sends them as one multi-row INSERT, compiled once per process (a
# ``.values([...])`` statement is compiled afresh every time, which cost every audited
# request on PostgreSQL more CPU than the rest of its audit work). RETURNING is what
# selects that path on psycopg; the ids returned are not read.
_PENDING_INSERT = insert(_PENDING_TABLE).returning(_PENDING_TABLE.c.id)


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
            connection = session.connection()
            staged: list[_Staged] = session.info.setdefault(_STAGED, [])
            staged.append(_Staged(fields, _innermost(session)))
            _STAGED_ON[connection] = staged
            session.info[_PENDING] = connection
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


@dataclass
class _Staged:
    """An event recorded on PostgreSQL and waiting to be inserted: ``recorded_in`` is the
    innermost transaction (a savepoint or the transaction itself) it was recorded in,
    ``written_in`` the one its row was inserted in, None while it waits."""

    fields: dict[str, Any]
    recorded_in: SessionTransaction
    written_in: SessionTransaction | None = None


def _innermost(session: Session) -> SessionTransaction:
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is None:  # never: the caller has begun one (session.connection())
        raise RuntimeError("no transaction")
    return transaction


def _within(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


def _write(connection: Connection, staged: list[_Staged]) -> list[_Staged]:
    """Insert the events still waiting, in recording order, in one statement; returns them."""
    waiting = [event for event in staged if event.written_in is None]
    if waiting:
        connection.execute(_PENDING_INSERT, [e.fields for e in waiting])
    return waiting


@sa_event.listens_for(Engine, "commit")
def _write_before_commit(connection: Connection) -> None:
    """The transaction's events go in just before its COMMIT, on its connection: after
    the ORM's last flush and every ``before_commit`` hook (a fact handler may record
    events), and only for the transaction's own commit, never a savepoint's release. If
    the insert fails, so does the commit."""
    staged = _STAGED_ON.pop(connection, None)
    if staged:
        _write(connection, staged)


@sa_event.listens_for(Engine, "rollback")
def _forget_staged_on(connection: Connection) -> None:
    _STAGED_ON.pop(connection, None)


@sa_event.listens_for(Session, "do_orm_execute")
def _write_before_reading_staged(state: ORMExecuteState) -> None:
    """A read of ``audit_pending`` in the transaction sees the events it recorded."""
    session = state.session
    staged: list[_Staged] | None = session.info.get(_STAGED)
    if not staged or not state.is_select or all(e.written_in for e in staged):
        return
    statement = state.statement
    if isinstance(statement, ClauseElement) and _reads_pending(statement):
        here = _innermost(session)
        for event in _write(session.connection(), staged):
            event.written_in = here


# Whether a statement reads audit_pending, by the statement's cache key (its shape, not
# its parameter values): the key is what SQLAlchemy computes for its compiled cache anyway
# and keeps on the statement, so a request's reads are not each walked again.
_READS_PENDING: dict[Any, bool] = {}
_READS_PENDING_MAX = 2000


def _reads_pending(statement: ClauseElement) -> bool:
    key = statement._generate_cache_key()
    if key is None:  # a statement SQLAlchemy does not cache: walk it
        return _PENDING_TABLE in find_tables(statement, include_crud=True)
    known = _READS_PENDING.get(key.key)
    if known is None:
        if len(_READS_PENDING) >= _READS_PENDING_MAX:
            _READS_PENDING.clear()
        known = _READS_PENDING[key.key] = _PENDING_TABLE in find_tables(
            statement, include_crud=True
        )
    return known


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous: SessionTransaction) -> None:
    """A savepoint rolled back takes its events with it; events of the enclosing
    transaction that were written inside it wait again. (The transaction's own
    rollback: ``_forget_pending``.)"""
    staged: list[_Staged] | None = session.info.get(_STAGED)
    if not staged or not previous.nested:
        return
    staged[:] = [e for e in staged if not _within(e.recorded_in, previous)]
    for event in staged:
        if _within(event.written_in, previous):
            event.written_in = None


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
        session.info.pop(_STAGED, None)


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

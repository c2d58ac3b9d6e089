"""Database engine, sessions and the declarative base.

One transaction per request: the session dependency commits after the endpoint
returns (before the response is sent) and rolls back on any exception. Services
flush, never commit.

On SQLite every transaction begins IMMEDIATE, taking the write lock up front: reads
of personal data are audited, so nearly every transaction writes, and the audit hash
chain needs appends serialised. On PostgreSQL the audit recorder takes a
transaction-scoped advisory lock instead. A writer that finds the lock taken waits up to
the busy timeout; if it still cannot write, the request answers 503 with Retry-After
(``web/failsafe.py``), never 500.

Statement parameters are never part of an error message or log line (``hide_parameters``):
they hold names, CPR blind indexes and whatever a person typed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, TypeVarTuple, cast

from sqlalchemy import DateTime, Engine, MetaData, Select, create_engine, event, make_url, text
from sqlalchemy.engine import Dialect, Row
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both engines (SQLite keeps no zone; we store UTC, naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


SQLITE_BUSY_TIMEOUT_SECONDS = 30.0


# A request admitted to the database (``web/admission.py``) uses at most this many pooled
# connections at once: its transaction's and one beside it (a rate-limit count in
# autocommit, a refusal recorded alone). Spare ones serve work that is not admitted (the
# readiness probe).
CONNECTIONS_PER_REQUEST = 2
SPARE_CONNECTIONS = 4


def pool_arguments(concurrency: int) -> dict[str, int]:
    """Pool sizes for ``concurrency`` requests admitted at once: none of them ever waits
    for a connection."""
    return {
        "pool_size": concurrency,
        "max_overflow": concurrency * (CONNECTIONS_PER_REQUEST - 1) + SPARE_CONNECTIONS,
    }


def make_engine(
    url: str,
    *,
    busy_timeout_seconds: float = SQLITE_BUSY_TIMEOUT_SECONDS,
    concurrency: int | None = None,
    **kwargs: Any,
) -> Engine:
    """The engine of ``url``; ``concurrency``: size the pool for that many requests
    admitted at once (``pool_arguments``)."""
    kwargs.setdefault("hide_parameters", True)
    in_memory = url.startswith("sqlite") and make_url(url).database in (None, "", ":memory:")
    if concurrency is not None and not in_memory:  # an in-memory SQLite has no such pool
        kwargs.update(pool_arguments(concurrency))
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        busy_ms = int(busy_timeout_seconds * 1000)
        engine = create_engine(url, connect_args={"timeout": busy_timeout_seconds}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy's begin event drive BEGIN
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if not is_autocommit(conn):
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine)
    return engine


# A connection of ``autocommit(engine)`` runs each statement on its own: no BEGIN, no
# COMMIT, one round trip per statement, no lock held past the statement. For one-statement
# bookkeeping outside the request's transaction (a rate-limit count, the route gate's
# look-up of who is asking). PostgreSQL: the driver's autocommit; SQLite: the begin
# listener above leaves out BEGIN IMMEDIATE (pysqlite then commits each statement itself).
AUTOCOMMIT = "consent_service.autocommit"


def autocommit(engine: Engine) -> Engine:
    """The engine (same pool), its connections in autocommit (see ``AUTOCOMMIT``)."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT", **{AUTOCOMMIT: True})
    return engine.execution_options(**{AUTOCOMMIT: True})


def is_autocommit(conn: Any) -> bool:
    """Whether a SQLAlchemy connection was made by ``autocommit``: its BEGIN and COMMIT
    events send nothing to the database."""
    return bool(conn.get_execution_options().get(AUTOCOMMIT))


# A pooled connection is pinged before use only after it lay idle this long: one that was
# in use a moment ago is alive (a ping per request is a round trip per request), one that
# lay idle may have been cut by a restart or a firewall. A ping that fails makes the pool
# open a fresh connection instead (SQLAlchemy retries a checkout that raises
# DisconnectionError); a connection that dies in use fails that one request and is
# replaced for the next (SQLAlchemy invalidates it on the disconnect error).
PING_AFTER_IDLE_SECONDS = 30.0
_CHECKED_IN_AT = "consent_service.checked_in_at"
idle_pings = 0  # how many pings were sent (round trips counted by tests)


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine.pool, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        global idle_pings
        since = record.info.get(_CHECKED_IN_AT)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        idle_pings += 1
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # any failure: a dead connection, try a fresh one
            raise DisconnectionError("idle connection did not answer a ping") from exc


# --- statements built once per process -------------------------------------------------
#
# The statements of the hot reads (every request's session look-up, the citizen page, the
# worklist) are module-level constants, their values left as ``bindparam()``s given at
# execution: ``session.scalars(_CONSENTS_OF, {"citizen_id": 7})``. Building a statement
# (its expressions, their coercions) and generating its cache key took about two thirds of
# the CPU of a small read such as ``citizens.repository.by_public_id``, while SQLAlchemy
# compiles each statement shape only once per engine; a statement object memoises its
# cache key, so a reused one pays for neither again. A list goes in an ``expanding``
# bindparam; a statement whose shape varies (an optional filter, a lock on one engine
# only) is one constant per shape. Only mapped columns are named at import, so building
# them configures no mapper. Read-only display rows that no caller writes back may skip
# the ORM altogether (``core_rows``): about half the CPU of loading them as objects.


def core_rows(
    session: Session, statement: Select[*Ts], params: Mapping[str, object]
) -> Sequence[Row[*Ts]]:
    """The rows of a Core ``statement`` (table columns, no mapped entity) in the session's
    transaction, without the ORM's execution pipeline and its per-row entity loading: for
    read-only display data that no caller writes back or looks up as an object. What the
    session holds unflushed is flushed first, as the ORM's autoflush does before a read,
    so the rows include what the transaction wrote."""
    if _unflushed(session):
        session.flush()
    return session.connection().execute(statement, params).all()


# --- reads repeated within one transaction, made once ------------------------------------

_MEMO = "consent_service.memo"


def memoised_scalars(
    session: Session,
    key: tuple[object, ...],
    statement: Select[T],
    params: Mapping[str, object] | None = None,
) -> tuple[T, ...]:
    """The rows of ``statement`` (with ``params``), read once per transaction
    (``memoised``)."""
    return memoised(session, key, lambda: tuple(session.scalars(statement, params).all()))


def memoised(session: Session, key: tuple[object, ...], load: Callable[[], T]) -> T:
    """``load()``, made once per transaction for ``key``: a page that asks for a citizen's
    consents from five places reads them once. Forgotten whenever the session writes
    (a flush, an ORM insert, update or delete statement) or the transaction ends, and
    bypassed while the session holds changes not yet flushed, so a read never misses what
    the same request wrote. Only for rows written through this session's ORM."""
    if session.new or session.dirty or session.deleted:
        return load()
    memo: dict[tuple[object, ...], Any] = session.info.setdefault(_MEMO, {})
    if key not in memo:
        memo[key] = load()
    return cast(T, memo[key])


def _unflushed(session: Session) -> bool:
    return bool(session.new or session.dirty or session.deleted)


def remember(session: Session, key: tuple[object, ...], value: object) -> None:
    """Put ``value`` in the transaction's memo under ``key``: what the transaction itself
    just wrote and knows without reading it back. Forgotten like anything ``memoised``
    (at the next write), so it can never outlive what it describes."""
    if not _unflushed(session):
        session.info.setdefault(_MEMO, {})[key] = value


def recalled(session: Session, key: tuple[object, ...]) -> object | None:
    """What ``remember`` or ``memoised`` holds under ``key`` in this transaction and
    since its last write; None if nothing (never reads)."""
    if _unflushed(session):
        return None
    memo: dict[tuple[object, ...], object] = session.info.get(_MEMO, {})
    return memo.get(key)


def _forget(session: Session, *_: Any) -> None:
    session.info.pop(_MEMO, None)


event.listen(Session, "after_flush", _forget)
event.listen(Session, "after_transaction_end", _forget)
event.listen(Session, "after_soft_rollback", _forget)


@event.listens_for(Session, "do_orm_execute")
def _forget_on_write(state: ORMExecuteState) -> None:
    if not state.is_select:
        _forget(state.session)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=True)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Commit on success, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ping(engine: Engine) -> None:
    """One round trip to the database (``SELECT 1``); raises if it is unreachable."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))

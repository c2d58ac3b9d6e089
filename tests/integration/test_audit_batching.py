"""A transaction's audit events reach the database in one INSERT, just before its commit
(PostgreSQL: ``audit_pending``; SQLite chains each event as it is recorded), and never
otherwise than with the transaction: a rollback leaves none, a savepoint rolled back drops
exactly its own, and the chain verifies (consent_service.audit.recorder)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine.interfaces import CacheStats
from sqlalchemy.orm import Session
from sqlalchemy.sql.util import find_tables

from consent_service.audit.models import AuditEvent, AuditPending
from consent_service.audit.recorder import Actor
from consent_service.audit.service import verify_chain
from consent_service.context import AppContext
from consent_service.db import session_scope

ACTOR = Actor(username="t")


@contextmanager
def audit_inserts(ctx: AppContext) -> Iterator[list[str]]:
    """The INSERT statements into the audit tables sent while the block runs."""
    seen: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if (
            statement.lstrip()
            .upper()
            .startswith(("INSERT INTO AUDIT_PENDING", "INSERT INTO AUDIT_EVENT"))
        ):
            seen.append(statement)

    event.listen(ctx.engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(ctx.engine, "before_cursor_execute", on_execute)


def _record(ctx: AppContext, session: Session, name: str) -> None:
    ctx.audit.record(session, ACTOR, action="test.event", outcome="success", resource_id=name)


def _chained(ctx: AppContext) -> list[str]:
    """The resource ids of the chained events, in chain order, after the seal."""
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditPending)) == 0
        return [r or "" for r in s.scalars(select(AuditEvent.resource_id).order_by(AuditEvent.seq))]


def _intact(ctx: AppContext) -> bool:
    with ctx.sessions() as s:
        return verify_chain(s, ctx.crypto.public_key).intact


def _postgres(ctx: AppContext) -> bool:
    return ctx.engine.dialect.name == "postgresql"


def test_a_transactions_events_go_in_one_insert_in_their_order(ctx: AppContext) -> None:
    names = [f"e{i}" for i in range(5)]
    with audit_inserts(ctx) as inserts, session_scope(ctx.sessions) as s:
        for name in names:
            _record(ctx, s, name)
        if _postgres(ctx):
            assert inserts == []  # nothing is sent while the request runs
    if _postgres(ctx):
        assert len(inserts) == 1
        assert inserts[0].lstrip().upper().startswith("INSERT INTO AUDIT_PENDING")
    else:
        assert len(inserts) == len(names)  # SQLite chains each event under its write lock
    assert _chained(ctx) == names
    assert _intact(ctx)


def test_a_rolled_back_transaction_inserts_nothing(ctx: AppContext) -> None:
    def failing_request() -> None:
        with session_scope(ctx.sessions) as s:
            _record(ctx, s, "lost")
            _record(ctx, s, "lost too")
            raise RuntimeError("the request failed")

    with audit_inserts(ctx) as inserts, pytest.raises(RuntimeError):
        failing_request()
    if _postgres(ctx):
        assert inserts == []
    assert _chained(ctx) == []
    with session_scope(ctx.sessions) as s:
        _record(ctx, s, "kept")
    assert _chained(ctx) == ["kept"]
    assert _intact(ctx)


def test_a_savepoint_rolled_back_drops_only_its_own_events(ctx: AppContext) -> None:
    with audit_inserts(ctx) as inserts, session_scope(ctx.sessions) as s:
        _record(ctx, s, "before")
        savepoint = s.begin_nested()
        _record(ctx, s, "inside, rolled back")
        savepoint.rollback()
        with s.begin_nested():
            _record(ctx, s, "inside, released")
            innermost = s.begin_nested()
            _record(ctx, s, "innermost, rolled back")
            innermost.rollback()
        _record(ctx, s, "after")
    if _postgres(ctx):
        assert len(inserts) == 1
    assert _chained(ctx) == ["before", "inside, released", "after"]
    assert _intact(ctx)


def test_a_released_savepoint_rolled_back_with_its_enclosing_one_drops_its_events(
    ctx: AppContext,
) -> None:
    with session_scope(ctx.sessions) as s:
        _record(ctx, s, "kept")
        outer = s.begin_nested()
        _record(ctx, s, "outer")
        with s.begin_nested():
            _record(ctx, s, "inner, released")
        outer.rollback()
    assert _chained(ctx) == ["kept"]
    assert _intact(ctx)


def test_a_read_of_the_staged_events_sees_them_and_a_savepoint_rollback_keeps_the_outer_ones(
    ctx: AppContext,
) -> None:
    """A read of ``audit_pending`` writes what waits (as autoflush does); written inside a
    savepoint that then rolls back, the enclosing transaction's events are written again
    at the commit, the savepoint's are not."""
    staged = select(AuditPending.resource_id).order_by(AuditPending.id)
    with session_scope(ctx.sessions) as s:
        _record(ctx, s, "outer")
        savepoint = s.begin_nested()
        _record(ctx, s, "inner")
        seen = list(s.scalars(staged))
        assert seen == (["outer", "inner"] if _postgres(ctx) else [])
        savepoint.rollback()
        if _postgres(ctx):
            assert list(s.scalars(staged)) == ["outer"]
        _record(ctx, s, "last")
    assert _chained(ctx) == ["outer", "last"]
    assert _intact(ctx)


def test_a_commit_with_a_savepoint_still_open_writes_every_event(ctx: AppContext) -> None:
    with ctx.sessions() as s:
        _record(ctx, s, "outer")
        s.begin_nested()
        _record(ctx, s, "inner")
        s.commit()  # commits the transaction, releasing the savepoint
    assert _chained(ctx) == ["outer", "inner"]
    assert _intact(ctx)


def test_an_event_recorded_by_a_before_commit_hook_commits_with_the_transaction(
    ctx: AppContext,
) -> None:
    """Fact handlers run in ``before_commit`` and may record events."""

    def late(session: Session) -> None:
        if session.info.pop("test.late", None):
            _record(ctx, session, "late")

    event.listen(Session, "before_commit", late)
    try:
        with session_scope(ctx.sessions) as s:
            _record(ctx, s, "early")
            s.info["test.late"] = True
    finally:
        event.remove(Session, "before_commit", late)
    assert _chained(ctx) == ["early", "late"]
    assert _intact(ctx)


def test_concurrent_transactions_each_write_their_own_events(ctx: AppContext) -> None:
    """Two sessions open at once (PostgreSQL: SQLite has one writer at a time): each
    commit writes only its own events."""
    if not _postgres(ctx):
        pytest.skip("SQLite lets one transaction write at a time")
    first, second = ctx.sessions(), ctx.sessions()
    try:
        _record(ctx, first, "first")
        _record(ctx, second, "second")
        second.commit()
        assert _chained(ctx) == ["second"]
        first.rollback()
    finally:
        first.close()
        second.close()
    assert _chained(ctx) == ["second"]
    assert _intact(ctx)


def test_the_pending_insert_is_one_statement_compiled_once_per_process(ctx: AppContext) -> None:
    """Issue 18: the multi-row INSERT of a transaction's events is taken from SQLAlchemy's
    compiled cache, whatever the number of events (a ``.values([...])`` statement is never
    cached and was compiled afresh by every audited request)."""
    if not _postgres(ctx):
        pytest.skip("SQLite chains each event with its own cached INSERT")
    seen: list[tuple[str, Any]] = []

    def on_execute(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, *_: Any
    ) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_PENDING"):
            seen.append((statement, context.cache_hit))

    # The first of several events and the first single one are compiled; none after them.
    names = [["a0", "a1", "a2"], ["b0"], ["c0", "c1", "c2", "c3", "c4"], ["d0"], ["e0", "e1"]]
    event.listen(ctx.engine, "before_cursor_execute", on_execute)
    try:
        for batch in names:
            with session_scope(ctx.sessions) as s:
                for name in batch:
                    _record(ctx, s, name)
    finally:
        event.remove(ctx.engine, "before_cursor_execute", on_execute)
    assert len(seen) == len(names)  # one INSERT per transaction
    assert seen[2][0].count("VALUES") == 1  # five rows, one VALUES list
    assert [hit for _, hit in seen[2:]] == [CacheStats.CACHE_HIT] * (len(names) - 2)
    assert _chained(ctx) == [n for batch in names for n in batch]
    assert _intact(ctx)


def test_whether_a_read_touches_the_staged_events_is_worked_out_once_per_statement_shape(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While events wait, every read asks whether it reads ``audit_pending``; the answer
    is kept by the statement's shape, so the same query with other values is not walked
    again, and a read of ``audit_pending`` in a subquery still writes what waits."""
    from consent_service.audit import recorder
    from consent_service.identity.models import User

    if not _postgres(ctx):
        pytest.skip("SQLite chains each event as it is recorded: nothing waits")
    walked: list[object] = []

    def counting(statement: Any, **kw: Any) -> Any:
        walked.append(statement)
        return find_tables(statement, **kw)

    monkeypatch.setattr(recorder, "_READS_PENDING", {})
    monkeypatch.setattr(recorder, "find_tables", counting)
    pending_ids = select(AuditPending.id).where(AuditPending.resource_id == "a")
    with session_scope(ctx.sessions) as s:
        _record(ctx, s, "a")
        for user_id in (1, 2, 3):
            s.scalars(select(User).where(User.id == user_id)).all()
        assert len(walked) == 1
        assert s.scalar(select(func.count()).where(AuditEvent.seq.in_(pending_ids))) == 0
        assert len(walked) == 2
        assert list(s.scalars(select(AuditPending.resource_id))) == ["a"]  # written
        _record(ctx, s, "b")
        for user_id in (4, 5):
            s.scalars(select(User).where(User.id == user_id)).all()
        assert len(walked) == 2  # a shape already known is not walked again
    assert _chained(ctx) == ["a", "b"]

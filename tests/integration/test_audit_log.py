"""The audit log: one valid chain under concurrency; tampering behind the service's back is
found by `audit verify`."""

from __future__ import annotations

import multiprocessing
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from consent_service.audit.chain import ChainProblem
from consent_service.audit.recorder import Actor, AuditRecorder
from consent_service.audit.service import verify_chain
from consent_service.clock import SystemClock
from consent_service.context import AppContext
from consent_service.db import make_engine, make_sessionmaker, session_scope
from tests.conftest import superuser_url


def _append(ctx: AppContext, n: int, who: str = "tester") -> None:
    for i in range(n):
        with session_scope(ctx.sessions) as session:
            ctx.audit.record(
                session,
                Actor(username=who),
                action="test.event",
                outcome="success",
                resource_type="thing",
                resource_id=str(i),
            )


def _verify(ctx: AppContext) -> tuple[int, ChainProblem | None]:
    with ctx.sessions() as session:
        return verify_chain(session)


def test_appends_chain_and_verify(ctx: AppContext) -> None:
    _append(ctx, 5)
    count, problem = _verify(ctx)
    assert (count, problem) == (5, None)


def test_concurrent_threads_keep_one_chain(ctx: AppContext) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        for f in [pool.submit(_append, ctx, 15, f"t{i}") for i in range(6)]:
            f.result()
    count, problem = _verify(ctx)
    assert problem is None
    assert count == 90


def _process_worker(url: str, n: int) -> None:
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    recorder = AuditRecorder(SystemClock())
    for i in range(n):
        with session_scope(factory) as session:
            recorder.record(
                session,
                Actor(username="proc"),
                action="test.event",
                outcome="success",
                resource_id=str(i),
            )
    engine.dispose()


def test_concurrent_processes_keep_one_chain(ctx: AppContext, db_url: str) -> None:
    mp = multiprocessing.get_context("spawn")
    procs = [mp.Process(target=_process_worker, args=(db_url, 25)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    count, problem = _verify(ctx)
    assert problem is None
    assert count == 75


def _tamper(db_url: str, *statements: str) -> None:
    """Change rows as an attacker with database access would: past the triggers."""
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        conn.execute("DROP TRIGGER audit_event_no_update")
        conn.execute("DROP TRIGGER audit_event_no_delete")
        for s in statements:
            conn.execute(s)
        conn.commit()
        conn.close()
        return
    engine = create_engine(superuser_url(db_url))  # the application login may not
    with engine.begin() as c:
        c.execute(text("SET LOCAL session_replication_role = replica"))  # skips triggers
        for s in statements:
            c.execute(text(s))
    engine.dispose()


@pytest.mark.parametrize(
    ("statements", "kind", "seq"),
    [
        (["UPDATE audit_event SET outcome = 'allow' WHERE seq = 3"], "altered", 3),
        (["UPDATE audit_event SET resource_id = 'other' WHERE seq = 3"], "altered", 3),
        (["DELETE FROM audit_event WHERE seq = 3"], "missing", 4),
        # Reordering: swap two events' positions (their sequence numbers).
        (
            [
                "UPDATE audit_event SET seq = 1000 WHERE seq = 3",
                "UPDATE audit_event SET seq = 3 WHERE seq = 4",
                "UPDATE audit_event SET seq = 4 WHERE seq = 1000",
            ],
            "broken link",
            3,
        ),
    ],
    ids=["edit-outcome", "edit-resource", "delete", "reorder"],
)
def test_tampering_is_detected(
    ctx: AppContext, db_url: str, statements: list[str], kind: str, seq: int
) -> None:
    _append(ctx, 6)
    assert _verify(ctx)[1] is None
    _tamper(db_url, *statements)
    _, problem = _verify(ctx)
    assert problem is not None
    assert (problem.kind, problem.seq) == (kind, seq)

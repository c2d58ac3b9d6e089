"""The audit log: one valid chain under concurrency. Tampering behind the service's back is
in test_audit_verify.py."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor

from consent_service.audit.recorder import Actor, AuditRecorder
from consent_service.audit.service import VerificationProblem, verify_chain
from consent_service.clock import SystemClock
from consent_service.context import AppContext
from consent_service.db import make_engine, make_sessionmaker, session_scope


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


def _verify(ctx: AppContext) -> tuple[int, tuple[VerificationProblem, ...]]:
    with ctx.sessions() as session:
        result = verify_chain(session, ctx.crypto.public_key)
    return result.events, result.problems


def test_appends_chain_and_verify(ctx: AppContext) -> None:
    _append(ctx, 5)
    count, problem = _verify(ctx)
    assert (count, problem) == (5, ())


def test_concurrent_threads_keep_one_chain(ctx: AppContext) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        for f in [pool.submit(_append, ctx, 15, f"t{i}") for i in range(6)]:
            f.result()
    count, problem = _verify(ctx)
    assert problem == ()
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
    assert problem == ()
    assert count == 75

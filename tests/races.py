"""Two requests at the same moment, made deterministic (shared by the race tests).

``race`` runs ``first`` in a transaction and keeps it open while ``second`` starts in a
thread with its own transaction and connection. On PostgreSQL the second must then really
wait on a lock the first holds (counted in ``pg_stat_activity``) before the first commits;
where the second is expected to skip the locked row instead (``SKIP LOCKED``), it runs to
its end while the first is still open. SQLite takes one writer at a time, so there the
second simply runs after the first has committed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.orm import Session

from consent_service.context import AppContext
from consent_service.db import session_scope

Act = Callable[[Session], Any]
T = TypeVar("T")


@dataclass
class Outcome:
    first: Any  # what ``first`` returned
    second: Any = None  # what ``second`` returned, if it did not raise
    error: BaseException | None = None  # what ``second`` raised


def wait_for_lock(ctx: AppContext, other: threading.Thread, seconds: float = 10.0) -> int:
    """How many sessions wait on a lock, once one does or ``other`` has ended (PostgreSQL)."""
    with ctx.engine.connect() as watcher:
        waiting = 0
        for _ in range(int(seconds * 100)):
            waiting = watcher.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ).scalar_one()
            if waiting or not other.is_alive():
                break
            watcher.rollback()
            time.sleep(0.01)
        return int(waiting)


def race(
    ctx: AppContext, first: Act, second: Act, *, second_waits: bool = True, timeout: float = 60
) -> Outcome:
    """Run ``first`` and, while its transaction is open, ``second`` (see the module)."""
    outcome = Outcome(first=None)

    def run_second() -> None:
        try:
            with session_scope(ctx.sessions) as s:
                outcome.second = second(s)
        except BaseException as exc:  # reported to the caller
            outcome.error = exc

    other = threading.Thread(target=run_second)
    postgres = ctx.engine.dialect.name == "postgresql"
    with session_scope(ctx.sessions) as s:
        outcome.first = first(s)
        s.flush()
        if postgres:
            other.start()
            if second_waits:
                assert wait_for_lock(ctx, other) == 1, "the second never waited on the first"
            else:
                other.join(timeout=timeout)
    if not postgres:
        other.start()
    other.join(timeout=timeout)
    assert not other.is_alive(), "the second did not finish"
    return outcome


def run_on_own_loop(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on a thread of its own: a test may share its worker with
    browser tests whose Playwright (sync API) leaves an event loop running on this
    thread, where ``asyncio.run`` refuses to start."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main).result()

"""Admission to the database: at most ``db_concurrency`` requests per process use it at once.

A request's transaction keeps its pooled connection from its first statement to its
commit, across several trips to the thread pool (the route's dependencies, the endpoint,
the commit each run in a thread of their own). Without a bound, many requests at once
could each take a connection and then wait for a thread while every thread waits for a
connection: under 100 concurrent users the pool's 30-second timeout ended that knot with
503s. So every piece of work that may touch the database is admitted first, in the event
loop, where waiting holds neither a thread nor a connection:

- a request's transaction (``deps.get_session``) holds one slot from before its first
  statement until its session is closed, so the body is already read (a slow upload
  holds no slot) and the response is sent after (a slow download holds none either);
- a short piece of work outside that transaction (the route gate's look-up before the
  body, a rate-limit count, the menu of a 404 page) holds a slot only while it runs,
  unless the request already holds one (``run_admitted``).

While holding its slot a request uses at most two connections at a time: its
transaction's and one for a statement beside it (a rate-limit count in autocommit, a
refusal recorded in a transaction of its own). The pool is sized for that
(``db.pool_arguments``), so an admitted request never waits for a connection, and with
fewer slots than the thread pool has threads it never waits long for a thread.

One semaphore per event loop: uvicorn runs one loop per worker process; the test client
may start a loop per request.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

P = ParamSpec("P")
T = TypeVar("T")

_HOLDS = "consent_service.admission.holds"


class Admission:
    """The database slots of one application (``app.state.admission``)."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("at least one request must be admitted")
        self.slots = slots
        self._semaphores: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()
        self.waited = 0  # how many admissions had to wait for a slot (for tests)

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.slots)
        return semaphore

    def in_use(self) -> int:
        """Slots held on the running loop now."""
        semaphore = self._semaphores.get(asyncio.get_running_loop())
        return 0 if semaphore is None else self.slots - semaphore._value

    @asynccontextmanager
    async def slot(self, request: Request) -> AsyncIterator[None]:
        """Hold a slot for the block; a request that holds one already does not take a
        second (it would wait for itself)."""
        if getattr(request.state, _HOLDS, False):
            yield
            return
        semaphore = self._semaphore()
        if semaphore.locked():
            self.waited += 1
        await semaphore.acquire()
        setattr(request.state, _HOLDS, True)
        try:
            yield
        finally:
            setattr(request.state, _HOLDS, False)
            semaphore.release()


def admission_of(request: Request) -> Admission:
    admission: Admission = request.app.state.admission
    return admission


async def run_admitted(
    request: Request, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """``func`` in the thread pool with the request admitted: a short piece of database
    work outside the request's transaction (or inside it, if it holds its slot already)."""
    async with admission_of(request).slot(request):
        return await run_in_threadpool(func, *args, **kwargs)

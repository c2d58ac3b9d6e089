"""Issue 18: many requests at once never tie threads and connections in a knot.

A request's transaction keeps its connection across several trips to the thread pool.
Before admission (``web/admission.py``), 100 concurrent users made every thread wait
for a connection while the connections' requests waited for a thread, until the pool's
timeout answered 503. Here far more requests than threads, slots or pooled connections
arrive at once, of every kind that touches the database outside the transaction too
(the route gate's look-up before the body, a rate-limit count, a refusal recorded alone,
the menu of a 404 page): every one is answered as it should be, at most ``slots``
requests hold the database at once, no checkout ever finds the pool full (so nothing
waited for a connection), and the slots were contended (so the test did put them under
pressure).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from typing import Any

import anyio.to_thread
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from consent_service.app import create_app
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import pool_arguments
from consent_service.web.admission import Admission
from tests.api.test_citizens_consents import refer, register
from tests.api.test_referral_api import _body, _issue_token
from tests.conftest import enrolled_person, log_in, make_settings
from tests.factories import synthetic_cpr
from tests.races import run_on_own_loop

SLOTS = 3
THREADS = 5  # fewer threads than requests, more than slots
REQUESTS_PER_KIND = 12


@pytest.fixture
def ctx(db_url: str, test_keys: dict[str, str], clock: FixedClock) -> Iterator[AppContext]:
    settings = make_settings(
        db_url,
        test_keys,
        db_concurrency=SLOTS,
        rate_limits={"referral.token": "1000/minute", "referral.address": "1000/minute"},
    )
    context = AppContext.build(settings, clock)
    yield context
    context.engine.dispose()


class PoolWatch:
    """The most connections checked out at once, and whether a checkout found none free."""

    def __init__(self, ctx: AppContext) -> None:
        self.pool = ctx.engine.pool
        self.capacity = sum(pool_arguments(SLOTS).values())
        self.in_use = 0
        self.peak = 0
        self.found_full = 0

    def checkout(self, *_: Any) -> None:
        self.in_use += 1
        self.peak = max(self.peak, self.in_use)
        if self.in_use >= self.capacity:
            self.found_full += 1

    def checkin(self, *_: Any) -> None:
        self.in_use -= 1


async def _all_at_once(app: Any, cookies: httpx.Cookies, csrf: str, bearer: str, pid: str) -> Any:
    anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
    admission: Admission = app.state.admission
    peak_slots = 0
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(
            transport=transport, base_url="http://testserver", cookies=cookies
        ) as web,
        httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {bearer}"},
        ) as api,
    ):

        async def watch_slots() -> None:
            nonlocal peak_slots
            while True:
                peak_slots = max(peak_slots, admission.in_use())
                await asyncio.sleep(0)

        serial = iter(range(1, 10_000))
        kinds = {
            "citizen page": (lambda: web.get(f"/borgere/{pid}"), 200),
            "worklist": (lambda: web.get("/arbejdsliste"), 200),
            "referral API write": (
                lambda: api.post(
                    "/api/v1/referrals",
                    json=_body(synthetic_cpr(date(1960, 1, 1), next(serial))),
                ),
                202,
            ),
            # refused after the gate: the denial is recorded in a transaction of its own
            "wrong CSRF token": (
                lambda: web.post(f"/borgere/{pid}/henvisning", data={"csrf_token": "forkert"}),
                403,
            ),
            "unknown page": (lambda: web.get("/ingen-side-her"), 404),
        }
        calls = [
            (name, send) for name, (send, _) in kinds.items() for _ in range(REQUESTS_PER_KIND)
        ]
        watcher = asyncio.create_task(watch_slots())
        try:
            answers = await asyncio.gather(*(send() for _, send in calls))
        finally:
            watcher.cancel()
        statuses = [
            (name, answer.status_code, kinds[name][1])
            for (name, _), answer in zip(calls, answers, strict=True)
        ]
        return statuses, peak_slots, admission.waited


def test_far_more_requests_than_slots_threads_or_connections_are_all_answered(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    csrf = log_in(client, enrolled_person(ctx, "navigator"), clock)
    pid = register(client, csrf, synthetic_cpr(date(1970, 5, 17), 3))
    refer(client, csrf, pid, date(2026, 11, 20))
    bearer = _issue_token(ctx, client, clock)
    app = create_app(ctx)
    watch = PoolWatch(ctx)
    event.listen(watch.pool, "checkout", watch.checkout)
    event.listen(watch.pool, "checkin", watch.checkin)
    try:
        statuses, peak_slots, waited = run_on_own_loop(
            _all_at_once(app, httpx.Cookies(dict(client.cookies)), csrf, bearer, pid)
        )
    finally:
        event.remove(watch.pool, "checkout", watch.checkout)
        event.remove(watch.pool, "checkin", watch.checkin)
    wrong = [s for s in statuses if s[1] != s[2]]
    assert not wrong, wrong
    assert peak_slots <= SLOTS
    assert waited > 0, "the requests never contended for a slot: the test put no pressure"
    assert watch.found_full == 0, (watch.peak, watch.capacity)
    assert watch.peak <= SLOTS * 2

"""``web/admission.py``: slots per event loop, and a request never waits for itself."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from consent_service.db import CONNECTIONS_PER_REQUEST, SPARE_CONNECTIONS, pool_arguments
from consent_service.web.admission import Admission
from tests.races import run_on_own_loop


def _request() -> Any:
    return SimpleNamespace(state=SimpleNamespace())


def test_a_request_holding_a_slot_takes_no_second_one() -> None:
    admission = Admission(1)

    async def nested() -> int:
        request = _request()
        async with admission.slot(request):
            async with admission.slot(request):  # would wait forever for itself
                return admission.in_use()

    assert run_on_own_loop(asyncio.wait_for(nested(), timeout=60)) == 1


def test_at_most_slots_requests_hold_one_at_once_and_the_rest_wait() -> None:
    admission = Admission(2)
    holding = 0
    peak = 0

    async def one() -> None:
        nonlocal holding, peak
        async with admission.slot(_request()):
            holding += 1
            peak = max(peak, holding)
            await asyncio.sleep(0.01)
            holding -= 1

    async def many() -> None:
        await asyncio.gather(*(one() for _ in range(10)))

    run_on_own_loop(many())
    assert peak == 2
    assert admission.waited > 0


def test_each_event_loop_has_its_own_slots() -> None:
    """The test client may run each request on a new loop: a semaphore bound to an old
    loop must not be used from another."""
    admission = Admission(1)

    async def once() -> int:
        async with admission.slot(_request()):
            return admission.in_use()

    assert run_on_own_loop(once()) == 1
    assert run_on_own_loop(once()) == 1


def test_the_pool_has_room_for_every_admitted_request_and_spares() -> None:
    sizes = pool_arguments(8)
    assert (
        sizes["pool_size"] + sizes["max_overflow"]
        == 8 * CONNECTIONS_PER_REQUEST + SPARE_CONNECTIONS
    )
    with pytest.raises(ValueError, match="at least one"):
        Admission(0)

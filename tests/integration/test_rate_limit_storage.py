"""The database storage of the rate limits: one atomic statement per hit (real threads,
real connections), keys only as keyed hashes, windows that end, and pruning."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from limits import parse
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import select

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import make_engine
from consent_service.web.limits_storage import DatabaseStorage, RateLimitCounter


def _storage(ctx: AppContext) -> DatabaseStorage:
    return DatabaseStorage(ctx.engine, ctx.clock, ctx.crypto.rate_limit_key)


def test_concurrent_hits_each_count_once(ctx: AppContext) -> None:
    n = 16
    engines = [make_engine(ctx.engine.url.render_as_string(hide_password=False)) for _ in range(4)]
    storages = [DatabaseStorage(e, ctx.clock, ctx.crypto.rate_limit_key) for e in engines]
    start = threading.Barrier(n)

    def hit(i: int) -> int:
        start.wait()
        return storages[i % len(storages)].incr("login/address/192.0.2.1", 60)

    with ThreadPoolExecutor(n) as pool:
        counts = sorted(pool.map(hit, range(n)))
    for engine in engines:
        engine.dispose()
    assert counts == list(range(1, n + 1))  # no two hits saw the same count
    assert _storage(ctx).get("login/address/192.0.2.1") == n


def test_the_table_holds_keyed_hashes_only(ctx: AppContext) -> None:
    storage = _storage(ctx)
    limiter = FixedWindowRateLimiter(storage)
    item = parse("2/minute")
    assert limiter.hit(item, "login", "account", "name:hanne")
    with ctx.sessions() as session:
        keys = session.scalars(select(RateLimitCounter.key)).all()
    assert len(keys) == 1
    assert "hanne" not in keys[0]
    assert keys[0] == ctx.crypto.rate_limit_key(item.key_for("login", "account", "name:hanne"))


def test_a_window_ends_and_starts_again_and_old_rows_are_pruned(
    ctx: AppContext, clock: FixedClock
) -> None:
    storage = _storage(ctx)
    limiter = FixedWindowRateLimiter(storage)
    item = parse("2/minute")
    assert [limiter.hit(item, "k") for _ in range(3)] == [True, True, False]
    reset = limiter.get_window_stats(item, "k").reset_time
    assert reset == (clock.now() + timedelta(seconds=60)).timestamp()
    clock.advance(timedelta(seconds=59))
    assert not limiter.hit(item, "k")  # the window is fixed: hitting does not extend it
    clock.advance(timedelta(seconds=2))
    assert storage.get(item.key_for("k")) == 0
    assert limiter.hit(item, "k")  # a new window
    assert storage.incr("other", 10) == 1
    clock.advance(timedelta(seconds=61))
    assert storage.prune() == 2
    with ctx.sessions() as session:
        assert session.scalars(select(RateLimitCounter)).all() == []
    assert storage.check()


def test_a_requests_keys_are_counted_together_each_in_its_own_window(
    ctx: AppContext, clock: FixedClock
) -> None:
    """``incr_many``: one statement, one row per key, each key's own window and count; hits
    naming the same keys in either order, from parallel connections, each count once (on
    PostgreSQL the rows are locked in one order, so two such hits cannot deadlock)."""
    n = 12
    engines = [make_engine(ctx.engine.url.render_as_string(hide_password=False)) for _ in range(4)]
    storages = [DatabaseStorage(e, ctx.clock, ctx.crypto.rate_limit_key) for e in engines]
    start = threading.Barrier(n)
    keys = [("referral/token/7", 60), ("referral/address/192.0.2.9", 3600)]

    def hit(i: int) -> dict[str, int]:
        start.wait()
        return storages[i % len(storages)].incr_many(keys if i % 2 else keys[::-1])

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(hit, range(n)))
    for engine in engines:
        engine.dispose()
    for key, _expiry in keys:
        assert sorted(r[key] for r in results) == list(range(1, n + 1))
    storage = _storage(ctx)
    now = clock.now().timestamp()
    assert storage.get_expiry("referral/token/7") == now + 60
    assert storage.get_expiry("referral/address/192.0.2.9") == now + 3600
    clock.advance(timedelta(seconds=61))  # the token's window ends, the address's goes on
    assert storage.incr_many(keys) == {
        "referral/token/7": 1,
        "referral/address/192.0.2.9": n + 1,
    }

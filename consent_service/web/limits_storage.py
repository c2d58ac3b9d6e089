"""A `limits` storage in our own database, so rate limits hold across processes and hosts.

There is no Redis or memcached in production here; PostgreSQL is the one shared component
(DESIGN.md: no home-made clustering). The storage keeps one row per rate-limit key and
window: ``rate_limit_counter(key, count, expires_at)``. A hit is one atomic statement,
``INSERT ... ON CONFLICT (key) DO UPDATE ... RETURNING count``, which starts a new window
when the old one has expired; both engines support it (SQLite from 3.35). A request's
keys (its address and its account or token) are counted together, one row each in the
same statement (``incr_many``). The statement runs in autocommit (``db.autocommit``): one
round trip, no BEGIN or COMMIT, and a count survives the rollback of a refused request.

Keys are keyed hashes (``Crypto.rate_limit_key``): the table never holds a source address,
user name or token. Expired rows are pruned by this storage now and then (at most once a
minute per process), so the table stays as small as the set of keys in use.

Only the fixed-window strategy is supported (``incr``/``get``/``get_expiry``), which is
what ``consent_service.web.ratelimit`` uses.

Being the storage of one table, this module is also that table's named query module.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from limits.storage import Storage
from sqlalchemy import Engine, Integer, String, Table, case, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.clock import Clock
from consent_service.db import Base, UtcDateTime, autocommit

PRUNE_EVERY = timedelta(minutes=1)


class RateLimitCounter(Base):
    """One fixed window of one rate-limit key: how many hits, and when the window ends."""

    __tablename__ = "rate_limit_counter"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class DatabaseStorage(Storage):
    """A ``limits`` storage backed by ``rate_limit_counter`` (fixed windows only)."""

    STORAGE_SCHEME = None  # made directly with an engine, never from a URI

    def __init__(self, engine: Engine, clock: Clock, hash_key: Callable[[str], str]) -> None:
        super().__init__(wrap_exceptions=False)
        self._engine = engine
        self._autocommit = autocommit(engine)
        self._clock = clock
        self._hash_key = hash_key
        self._pruned_at: datetime | None = None
        self._prune_lock = threading.Lock()

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def _upsert(self, rows: list[dict[str, Any]], now: datetime) -> Any:
        table = cast(Table, RateLimitCounter.__table__)
        insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(table).values(rows)
        expired = table.c.expires_at <= literal(now, UtcDateTime())
        return stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "count": case(
                    (expired, stmt.excluded.count), else_=table.c.count + stmt.excluded.count
                ),
                "expires_at": case((expired, stmt.excluded.expires_at), else_=table.c.expires_at),
            },
        ).returning(table.c.key, table.c.count)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Count ``amount`` hits on ``key``; a window that has ended starts again at
        ``amount`` and lasts ``expiry`` seconds. Returns the count in the window."""
        return self.incr_many([(key, expiry)], amount)[key]

    def incr_many(self, keys: list[tuple[str, int]], amount: int = 1) -> dict[str, int]:
        """``incr`` of each (key, expiry) given, in one statement; returns each key's count.
        Rows are written in the order of their hashed keys, so two requests counting the
        same keys lock them in the same order (PostgreSQL: no deadlock)."""
        now = self._clock.now()
        hashed: dict[str, tuple[str, int]] = {}
        for key, expiry in keys:
            digest = self._hash_key(key)
            if digest in hashed:  # one row per key: a statement may not touch a row twice
                raise ValueError("a rate limit key is counted twice in one hit")
            hashed[digest] = (key, expiry)
        rows = [
            {"key": digest, "count": amount, "expires_at": now + timedelta(seconds=expiry)}
            for digest, (_key, expiry) in sorted(hashed.items())
        ]
        with self._autocommit.begin() as conn:
            counts = {str(k): cast(int, c) for k, c in conn.execute(self._upsert(rows, now))}
        self._prune_now_and_then(now)
        return {key: counts[digest] for digest, (key, _expiry) in hashed.items()}

    def _live(self, key: str) -> tuple[int, datetime] | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(RateLimitCounter.count, RateLimitCounter.expires_at).where(
                    RateLimitCounter.key == self._hash_key(key)
                )
            ).first()
        if row is None or row[1] <= self._clock.now():
            return None
        return int(row[0]), row[1]

    def get(self, key: str) -> int:
        live = self._live(key)
        return live[0] if live else 0

    def get_expiry(self, key: str) -> float:
        """When the key's window ends, in seconds since the epoch (now if none is open)."""
        live = self._live(key)
        return (live[1] if live else self._clock.now()).timestamp()

    def check(self) -> bool:
        try:
            with self._engine.connect() as conn:
                conn.execute(select(func.count()).select_from(RateLimitCounter.__table__))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self._engine.begin() as conn:
            return conn.execute(delete(RateLimitCounter)).rowcount

    def clear(self, key: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                delete(RateLimitCounter).where(RateLimitCounter.key == self._hash_key(key))
            )

    def prune(self) -> int:
        """Delete the rows of windows that have ended; returns how many."""
        now = self._clock.now()
        with self._autocommit.begin() as conn:
            return conn.execute(
                delete(RateLimitCounter).where(
                    RateLimitCounter.expires_at <= literal(now, UtcDateTime())
                )
            ).rowcount

    def _prune_now_and_then(self, now: datetime) -> None:
        with self._prune_lock:
            if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
                return
            self._pruned_at = now
        self.prune()


def seconds_until(reset_at: float, now: datetime) -> int:
    """Whole seconds from ``now`` until ``reset_at`` (epoch seconds), at least 1: the
    value of a Retry-After header."""
    return max(1, math.ceil(reset_at - now.timestamp()))

"""How an event reaches the chain: directly on SQLite; on PostgreSQL through
``audit_pending`` and the sealer after the commit (consent_service.audit.recorder)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from consent_service.audit.checkpoints import sign_head, sign_if_due
from consent_service.audit.models import AuditCheckpoint, AuditEvent, AuditPending
from consent_service.audit.recorder import SYSTEM, Actor
from consent_service.audit.service import verify_chain
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.identity import users
from consent_service.identity.models import User
from consent_service.worker.runner import housekeeping
from tests.conftest import ORIGIN, allow_inserts, organisation, refuse_inserts


def _chained(ctx: AppContext) -> int:
    with ctx.sessions() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent)) or 0


def _pending(ctx: AppContext) -> int:
    with ctx.sessions() as s:
        return s.scalar(select(func.count()).select_from(AuditPending)) or 0


def _record(ctx: AppContext, n: int = 1) -> None:
    for i in range(n):
        with session_scope(ctx.sessions) as s:
            ctx.audit.record(
                s, Actor(username="t"), action="test.event", outcome="success", resource_id=str(i)
            )


def test_an_event_is_chained_by_the_time_its_commit_returns(ctx: AppContext) -> None:
    postgres = ctx.engine.dialect.name == "postgresql"
    with session_scope(ctx.sessions) as s:
        ctx.audit.record(s, Actor(username="t"), action="test.event", outcome="success")
        in_chain = s.scalar(select(func.count()).select_from(AuditEvent))
        staged = s.scalar(select(func.count()).select_from(AuditPending))
        # Inside the transaction: staged on PostgreSQL, already chained on SQLite.
        assert (in_chain, staged) == ((0, 1) if postgres else (1, 0))
    assert (_chained(ctx), _pending(ctx)) == (1, 0)
    assert _verify(ctx) == (1, None)


def test_a_rolled_back_transaction_leaves_no_event(ctx: AppContext) -> None:
    def failing_request() -> None:
        with session_scope(ctx.sessions) as s:
            ctx.audit.record(s, Actor(username="t"), action="test.event", outcome="success")
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        failing_request()
    _record(ctx)
    assert (_chained(ctx), _pending(ctx)) == (1, 0)


def test_savepoints_do_not_seal_early_or_forget_the_seal(ctx: AppContext) -> None:
    """A savepoint's release or rollback fires the session's commit and rollback hooks;
    only the transaction's own commit may seal, and it must still seal."""
    with session_scope(ctx.sessions) as s:
        ctx.audit.record(s, Actor(username="t"), action="test.event", outcome="success")
        with s.begin_nested():
            ctx.audit.record(s, Actor(username="t"), action="test.event", outcome="success")
        with pytest.raises(ValueError, match="rolled back"), s.begin_nested():
            raise ValueError("a savepoint rolled back")
    assert (_chained(ctx), _pending(ctx)) == (2, 0)
    assert _verify(ctx) == (2, None)


def _verify(ctx: AppContext) -> tuple[int, object]:
    with ctx.sessions() as s:
        result = verify_chain(s, ctx.crypto.public_key)
    return result.events, result.problems or None


@pytest.fixture
def postgres_only(ctx: AppContext) -> None:
    if ctx.engine.dialect.name != "postgresql":
        pytest.skip("SQLite chains events in the request's own transaction; nothing is staged")


@pytest.mark.usefixtures("postgres_only")
def test_a_failed_seal_keeps_the_write_and_the_next_seal_chains_it(ctx: AppContext) -> None:
    org = organisation(ctx)
    _record(ctx)
    refuse_inserts(ctx, "audit_event")  # the seal fails after the request committed
    with session_scope(ctx.sessions) as s:
        users.create_user(
            s,
            ctx.identity,
            Actor(username="t"),
            organisation_id=org,
            username="cy",
            display_name="Cy",
            role="navigator",
        )
    with ctx.sessions() as s:
        assert s.scalar(select(User.id).where(User.username == "cy")) is not None
    assert (_chained(ctx), _pending(ctx)) == (1, 1)

    allow_inserts(ctx, "audit_event")
    _record(ctx)  # any later commit seals everything pending, in recording order
    assert (_chained(ctx), _pending(ctx)) == (3, 0)
    with ctx.sessions() as s:
        actions = s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    assert actions == ["test.event", "user.created", "test.event"]
    assert _verify(ctx) == (3, None)


@pytest.mark.usefixtures("postgres_only")
def test_the_worker_seals_what_a_crash_left_pending(ctx: AppContext) -> None:
    _record(ctx, 2)
    # A process that died between its commit and its seal: committed, never chained.
    with ctx.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_pending (occurred_at, action, outcome, details) "
                "VALUES (now(), 'test.event', 'success', '{}')"
            )
        )
    assert (_chained(ctx), _pending(ctx)) == (2, 1)
    housekeeping(ctx.sessions, ctx.deps)
    assert _pending(ctx) == 0
    count, problem = _verify(ctx)
    assert problem is None
    with ctx.sessions() as s:
        third = s.scalar(select(AuditEvent.action).where(AuditEvent.seq == 3))
    assert third == "test.event"
    assert count >= 3


def test_a_staged_event_cannot_be_changed(ctx: AppContext) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_pending (occurred_at, action, outcome, details) "
                "VALUES (CURRENT_TIMESTAMP, 'test.event', 'success', '{}')"
            )
        )
    with pytest.raises(DBAPIError), ctx.engine.begin() as conn:
        conn.execute(text("UPDATE audit_pending SET outcome = 'denied'"))
    if ctx.engine.dialect.name == "sqlite":
        # Only the sealer removes rows. On PostgreSQL that is a privilege (the application
        # login holds no DELETE on audit_pending; revision 0007 and its tests), not a trigger.
        with pytest.raises(DBAPIError), ctx.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_pending"))
    else:
        with pytest.raises(DBAPIError), ctx.engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_pending"))
    with ctx.sessions() as s:
        assert s.scalars(select(AuditPending.outcome)).all() == ["success"]


def test_the_worker_signs_a_checkpoint_at_the_interval_and_not_on_a_quiet_log(
    ctx: AppContext, clock: FixedClock
) -> None:
    hour = timedelta(minutes=60)

    def due() -> AuditCheckpoint | None:
        with session_scope(ctx.sessions) as s:
            return sign_if_due(s, ctx.crypto, clock, ctx.audit, SYSTEM, hour, origin=ORIGIN)

    def signed() -> list[int]:
        with ctx.sessions() as s:
            return list(s.scalars(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq)))

    assert due() is None  # an empty log has no head to sign
    _record(ctx, 3)
    first = due()
    assert (first.seq if first else None) == 3
    _record(ctx)
    assert due() is None  # the newest checkpoint is younger than the interval
    clock.advance(hour)
    second = due()
    assert (second.seq if second else None) == 5  # after the signing event (4) and one more
    clock.advance(hour)
    assert due() is None  # only the signing itself happened since: a quiet log
    assert signed() == [3, 5]
    # The worker's pass does the same.
    _record(ctx)
    clock.advance(hour)
    housekeeping(ctx.sessions, ctx.deps)
    assert signed()[-1] == 7


AWKWARD = [
    'quote " backslash \\ slash / newline \n tab \t return \r bs \b ff \f',
    "controls \x01 \x1f del \x7f nbsp \xa0 line sep \u2028 para sep \u2029",
    "æøå ÆØÅ é ß 中文 😀 \U0001f9d1\u200d\U0001f4bb",
    "",
]


def test_the_database_seal_hashes_as_the_python_definition_does(
    ctx: AppContext, clock: FixedClock
) -> None:
    """On PostgreSQL the hashes are computed by the audit_seal function (SQL), on SQLite
    by chain.event_hash; verify_chain recomputes every one with chain.event_hash."""
    for i, value in enumerate(AWKWARD):
        clock.advance(timedelta(microseconds=123_457 * (i + 1)))
        with session_scope(ctx.sessions) as s:
            ctx.audit.record(
                s,
                Actor(
                    user_id=2_000_000_000 + i,
                    username=value[:64],
                    organisation_id=None,
                    request_id=value[:64] or None,
                    source_ip="2001:db8::1",
                ),
                action="test.event",
                outcome="success",
                resource_type="thing",
                resource_id=value[:64],
                reason=value[:200],
                details={"text": value, "nested": {"list": [1, None, value]}, "n": -1.5},
            )
    clock.advance(timedelta(microseconds=-clock.now().microsecond))  # .000000 prints too
    _record(ctx)
    assert _verify(ctx) == (len(AWKWARD) + 1, None)
    with ctx.sessions() as s:
        stored = s.scalars(select(AuditEvent.reason).order_by(AuditEvent.seq)).all()
    assert stored[: len(AWKWARD)] == AWKWARD


@pytest.mark.usefixtures("postgres_only")
def test_two_signers_of_one_head_make_one_checkpoint(ctx: AppContext) -> None:
    """No lock orders signers: the second waits on the unique seq, then returns the first's
    checkpoint instead of failing."""
    _record(ctx, 2)
    results: list[int] = []

    def second_signer() -> None:
        with session_scope(ctx.sessions) as s:
            cp = sign_head(s, ctx.crypto, ctx.clock, ctx.audit, SYSTEM, "on_demand", origin=ORIGIN)
            results.append(cp.id if cp else -1)

    with session_scope(ctx.sessions) as first:
        mine = sign_head(first, ctx.crypto, ctx.clock, ctx.audit, SYSTEM, "interval", origin=ORIGIN)
        assert mine is not None
        thread = threading.Thread(target=second_signer)
        thread.start()
        with ctx.engine.connect() as watcher:  # until the second signer waits on our row
            for _ in range(500):
                waiting = watcher.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                ).scalar_one()
                if waiting or not thread.is_alive():
                    break
                watcher.rollback()
                time.sleep(0.01)
        first_id = mine.id
    thread.join(timeout=30)
    assert results == [first_id]
    with ctx.sessions() as s:
        assert s.scalars(select(AuditCheckpoint.seq)).all() == [2]

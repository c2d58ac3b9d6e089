"""Issue 18: "last used" and "last seen" bookkeeping holds no lock through a request. An
API token's ``last_used_at`` and a session's ``last_seen_at`` are written at most once a
minute, and a request that finds the row locked by another one leaves the stamp to it
(SKIP LOCKED): on PostgreSQL two open transactions authenticating with the same token (or
the same session) both get through while the first still holds its row, where the old
per-request UPDATE made the second wait for the first's commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.crypto import token_hash
from consent_service.identity import sessions as user_sessions
from consent_service.identity.models import ApiToken, UserSession
from consent_service.identity.tokens import api_token_user
from tests.api.test_referral_api import _issue_token
from tests.conftest import enrolled_person, log_in


def _stamp(ctx: AppContext, bearer: str) -> object:
    with ctx.sessions() as s:
        return s.scalar(
            select(ApiToken.last_used_at).where(ApiToken.token_hash == token_hash(bearer))
        )


def test_a_token_is_stamped_at_most_once_a_minute(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    bearer = _issue_token(ctx, client, clock)
    assert _stamp(ctx, bearer) is None
    for _ in range(2):
        with ctx.sessions() as s, s.begin():
            assert api_token_user(s, ctx.deps, bearer).user is not None
    first = _stamp(ctx, bearer)
    assert first == clock.now()
    clock.advance(timedelta(seconds=59))
    with ctx.sessions() as s, s.begin():
        assert api_token_user(s, ctx.deps, bearer).user is not None
    assert _stamp(ctx, bearer) == first
    clock.advance(timedelta(seconds=2))
    with ctx.sessions() as s, s.begin():
        assert api_token_user(s, ctx.deps, bearer).user is not None
    assert _stamp(ctx, bearer) == clock.now()


def _waits_at_most_two_seconds(s: Session) -> None:
    s.execute(text("SET LOCAL lock_timeout = '2s'"))


def test_parallel_requests_on_one_token_do_not_queue(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    if ctx.engine.dialect.name != "postgresql":
        pytest.skip("row locks: SQLite serialises every writer anyway")
    bearer = _issue_token(ctx, client, clock)
    first = ctx.sessions()
    try:
        first.begin()
        assert api_token_user(first, ctx.deps, bearer).user is not None  # stamps, holds the row
        for minutes in (0, 2):  # within the minute, and when the stamp is due again
            clock.advance(timedelta(minutes=minutes))
            with ctx.sessions() as second, second.begin():
                _waits_at_most_two_seconds(second)
                assert api_token_user(second, ctx.deps, bearer).user is not None
        first.commit()
    finally:
        first.close()


def test_parallel_requests_in_one_session_do_not_queue(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    log_in(client, enrolled_person(ctx, "navigator"), clock)
    cookie = next(v for k, v in client.cookies.items() if "session" in k)
    clock.advance(timedelta(minutes=2))
    if ctx.engine.dialect.name != "postgresql":
        with ctx.sessions() as s, s.begin():
            assert user_sessions.active_session(s, ctx.deps, cookie).row is not None
        with ctx.sessions() as s:
            row = s.get(UserSession, token_hash(cookie))
            assert row is not None
            assert row.last_seen_at == clock.now()
        return
    first = ctx.sessions()
    try:
        first.begin()
        assert user_sessions.active_session(first, ctx.deps, cookie).row is not None
        for minutes in (0, 2):
            clock.advance(timedelta(minutes=minutes))
            with ctx.sessions() as second, second.begin():
                _waits_at_most_two_seconds(second)
                assert user_sessions.active_session(second, ctx.deps, cookie).row is not None
        first.commit()
    finally:
        first.close()


def test_a_session_is_stamped_at_most_once_a_minute(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    """The session's stamp follows the token's rule (one shared ``touch_query._stamp``),
    with ``last_seen_at`` set from the login on."""
    log_in(client, enrolled_person(ctx, "navigator"), clock)
    cookie = next(v for k, v in client.cookies.items() if "session" in k)

    def seen() -> object:
        with ctx.sessions() as s, s.begin():
            assert user_sessions.active_session(s, ctx.deps, cookie).row is not None
        with ctx.sessions() as s:
            row = s.get(UserSession, token_hash(cookie))
            assert row is not None
            return row.last_seen_at

    first = seen()
    clock.advance(timedelta(seconds=59))
    assert seen() == first
    clock.advance(timedelta(seconds=2))
    assert seen() == clock.now()

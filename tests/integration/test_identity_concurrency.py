"""The second factor and the failure counters hold under parallel requests (issue 13).

Each test fires N requests at once from real threads, each with its own HTTP client (and
so its own database connection from the pool), started together by a barrier. On
PostgreSQL the requests really overlap; SQLite serialises writers, and the same answers
must come out (and never a 500). The assertions are exact: exactly one of N logins with
one code succeeds, N wrong codes count N, a lockout is reached once and counts exactly the
limit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from consent_service.app import create_app
from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import Actor
from consent_service.clock import FixedClock
from consent_service.config import DEFAULT_RATE_LIMITS, Settings
from consent_service.context import AppContext
from consent_service.errors import StepUpFailed
from consent_service.identity import login, stepup
from consent_service.identity.models import User, UserSession
from consent_service.web.cookies import SESSION_COOKIE
from tests.conftest import Person, csrf_from, current_code, enrolled_person, log_in, make_settings

N = 8


@pytest.fixture
def settings(db_url: str, test_keys: dict[str, str]) -> Settings:
    """The rate limits (tests/api/test_rate_limits.py) out of the way: these tests count
    what the account's own counters do when many attempts arrive at once."""
    return make_settings(
        db_url, test_keys, rate_limits=dict.fromkeys(DEFAULT_RATE_LIMITS, "1000/minute")
    )


def _parallel(clients: list[TestClient], call: Callable[[TestClient], Any]) -> list[Any]:
    """``call`` once per client, each in its own thread, all released together."""
    barrier = threading.Barrier(len(clients))

    def run(c: TestClient) -> Any:
        barrier.wait(timeout=30)
        return call(c)

    with ThreadPoolExecutor(len(clients)) as pool:
        return list(pool.map(run, clients))


def _clients(ctx: AppContext, n: int = N) -> list[TestClient]:
    app = create_app(ctx)
    return [TestClient(app, follow_redirects=False) for _ in range(n)]


def _events(ctx: AppContext, action: str) -> list[AuditEvent]:
    with ctx.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _user(ctx: AppContext, person: Person) -> User:
    with ctx.sessions() as s:
        user = s.get(User, person.user_id)
        assert user is not None
        s.expunge(user)
        return user


def _password_step(client: TestClient, person: Person, password: str | None = None) -> int:
    token = csrf_from(client.get("/login").text)
    r = client.post(
        "/login",
        data={
            "username": person.username,
            "password": password or person.password,
            "csrf_token": token,
        },
    )
    return r.status_code


def _code_step(client: TestClient, code: str) -> tuple[int, str]:
    token = client.headers["x-test-csrf"]  # the code page's, read before the race
    r = client.post("/login/kode", data={"code": code, "csrf_token": token})
    return r.status_code, r.headers.get("location", "")


def _pending(ctx: AppContext, clock: FixedClock, person: Person, n: int) -> list[TestClient]:
    """n clients, each with its own half-finished login (password given, code asked)."""
    clients = _clients(ctx, n)
    clock.advance(timedelta(seconds=30))
    for c in clients:
        assert _password_step(c, person) == 303
        c.headers["x-test-csrf"] = csrf_from(c.get("/login/kode").text)
    return clients


def test_one_code_in_parallel_logins_succeeds_once(ctx: AppContext, clock: FixedClock) -> None:
    person = enrolled_person(ctx, "navigator")
    clients = _pending(ctx, clock, person, N)
    code = current_code(person, clock)
    results = _parallel(clients, lambda c: _code_step(c, code))
    assert sorted(results).count((303, "/")) == 1, results
    assert sorted(status for status, _ in results) == [303] + [401] * (N - 1)
    assert len(_events(ctx, "login.succeeded")) == 1
    assert len(_events(ctx, "security.totp_replay")) == N - 1
    assert {e.reason for e in _events(ctx, "login.code_failed")} == {"replayed code"}
    # The code is spent: a fresh login with it fails too.
    [late] = _pending(ctx, clock, person, 1)  # 30 s on: the code is one step old
    assert _code_step(late, code)[0] == 401


def test_wrong_codes_in_parallel_are_each_counted(ctx: AppContext, clock: FixedClock) -> None:
    person = enrolled_person(ctx, "navigator")
    clients = _pending(ctx, clock, person, N)
    results = _parallel(clients, lambda c: _code_step(c, "000000"))
    assert [status for status, _ in results] == [401] * N
    user = _user(ctx, person)
    assert user.code_failures == N
    assert not user.needs_admin_unlock
    assert len(_events(ctx, "login.code_failed")) == N


def test_wrong_codes_beyond_the_limit_lock_once_with_exactly_the_limit_counted(
    ctx: AppContext, clock: FixedClock
) -> None:
    limit = ctx.settings.code_failure_limit
    n = limit + 4
    person = enrolled_person(ctx, "navigator")
    clients = _pending(ctx, clock, person, n)
    results = _parallel(clients, lambda c: _code_step(c, "000000"))
    # Refused, or sent back to the password when the lock ended the pending login first.
    assert all(status in (303, 401) for status, _ in results), results
    assert all(loc in ("", "/login") for _, loc in results), results
    user = _user(ctx, person)
    assert user.code_failures == limit
    assert user.needs_admin_unlock
    [locked] = _events(ctx, "login.locked")
    assert locked.reason == "code failures"
    counted = [e for e in _events(ctx, "login.code_failed") if "locked" not in (e.reason or "")]
    assert len(counted) == limit
    with ctx.sessions() as s:
        open_sessions = s.scalars(
            select(UserSession).where(
                UserSession.user_id == person.user_id, UserSession.ended_at.is_(None)
            )
        ).all()
        assert open_sessions == []  # every pending login ended with the lock


def test_wrong_passwords_in_parallel_are_each_counted(ctx: AppContext, clock: FixedClock) -> None:
    ctx.settings = ctx.settings.model_copy(update={"password_failure_limit": 50})
    person = enrolled_person(ctx, "navigator")
    clients = _clients(ctx)
    results = _parallel(clients, lambda c: _password_step(c, person, "forkert adgangskode!"))
    assert results == [401] * N
    user = _user(ctx, person)
    assert user.password_failures == N
    assert user.locked_until is None
    assert len(_events(ctx, "login.password_failed")) == N


def test_wrong_passwords_beyond_the_limit_lock_once(ctx: AppContext, clock: FixedClock) -> None:
    limit = ctx.settings.password_failure_limit
    assert limit < N
    person = enrolled_person(ctx, "navigator")
    active = _clients(ctx, 1)[0]
    log_in(active, person, clock)
    clients = _clients(ctx)
    results = _parallel(clients, lambda c: _password_step(c, person, "forkert adgangskode!"))
    assert results == [401] * N
    user = _user(ctx, person)
    assert user.password_lockouts == 1
    assert user.locked_until == clock.now() + timedelta(
        minutes=ctx.settings.password_lockout_minutes[0]
    )
    [locked] = _events(ctx, "login.locked")
    assert locked.reason == "password failures"
    reasons = [e.reason for e in _events(ctx, "login.password_failed")]
    assert reasons.count("wrong password") == limit
    assert reasons.count("account locked") == N - limit
    # A timed password lockout, which anyone who knows the user name can cause, leaves
    # the session the real user has open alone (a lock an administrator must lift ends
    # it: see the wrong-codes test above).
    assert active.get("/").status_code == 200


def test_wrong_step_ups_in_parallel_are_each_counted(ctx: AppContext, clock: FixedClock) -> None:
    controller = enrolled_person(ctx, "data_controller")
    clients = _clients(ctx)
    tokens = [log_in(c, controller, clock) for c in clients]
    by_client = dict(zip(map(id, clients), tokens, strict=True))

    def wrong(c: TestClient) -> int:
        data = {"confirm": "SLET", "code": "000000", "csrf_token": by_client[id(c)]}
        return c.post("/sletning", data=data).status_code

    assert _parallel(clients, wrong) == [409] * N
    user = _user(ctx, controller)
    assert user.code_failures == N
    assert not user.needs_admin_unlock
    failed = _events(ctx, "login.step_up_failed")
    assert len(failed) == N
    assert {e.reason for e in failed} == {"wrong code"}


def test_one_code_in_parallel_step_ups_passes_once(ctx: AppContext, clock: FixedClock) -> None:
    """Service level (no HTTP action commits a step-up before the pilot ends): N
    transactions check the same fresh code at once; one commits it, the rest are refused."""
    controller = enrolled_person(ctx, "data_controller")
    clock.advance(timedelta(seconds=30))
    code = current_code(controller, clock)
    barrier = threading.Barrier(N)

    def attempt(_: int) -> str:
        barrier.wait(timeout=30)  # before the transaction: SQLite's BEGIN IMMEDIATE waits
        with ctx.sessions() as s, s.begin():
            user = s.get(User, controller.user_id)
            assert user is not None
            try:
                stepup.step_up(s, ctx.deps, Actor(), user, code, purpose="extract_approval")
            except StepUpFailed as failed:
                return failed.reason
            return "ok"

    with ThreadPoolExecutor(N) as pool:
        outcomes = list(pool.map(attempt, range(N)))
    assert sorted(outcomes) == ["ok"] + ["replayed code"] * (N - 1)
    assert len([e for e in _events(ctx, "login.step_up") if e.outcome == "success"]) == 1


def test_one_recovery_code_in_parallel_logins_succeeds_once(
    ctx: AppContext, clock: FixedClock
) -> None:
    person = enrolled_person(ctx, "navigator")
    with ctx.sessions() as s, s.begin():
        user = s.get(User, person.user_id)
        assert user is not None
        codes = login.new_recovery_codes(s, ctx.deps, user)
    clients = _pending(ctx, clock, person, N)
    results = _parallel(clients, lambda c: _code_step(c, codes[0]))
    assert sorted(results).count((303, "/")) == 1, results
    assert len(_events(ctx, "login.recovery_code_used")) == 1
    assert len(_events(ctx, "login.code_failed")) == N - 1


def test_parallel_logins_never_answer_500(ctx: AppContext, clock: FixedClock) -> None:
    """The careless user's side: double-clicked submits, the same person in many tabs,
    a mix of right and wrong codes: every answer is a page, never an error."""
    person = enrolled_person(ctx, "navigator")
    clients = _pending(ctx, clock, person, N)
    code = current_code(person, clock)
    codes = {id(c): code if i % 2 else "123456" for i, c in enumerate(clients)}
    results = _parallel(clients, lambda c: _code_step(c, codes[id(c)]))
    assert all(status in (303, 401) for status, _ in results), results
    assert sorted(results).count((303, "/")) == 1, results
    for c in clients:
        assert c.get("/").status_code in (200, 303)
        c.cookies.delete(SESSION_COOKIE)

"""Rate limits per source address and per account (or API token), counted in the database
so two application processes share them; 429 with Retry-After, a Danish page for people
and problem+json for the API; the first refusal per key and window is audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Annotated, Any

import pytest
from fastapi import Form, Request
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from consent_service.app import create_app
from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import SYSTEM
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.oversight.alerts import evaluate_alerts
from consent_service.web.deps import public
from consent_service.web.limits_storage import RateLimitCounter
from consent_service.web.ratelimit import rate_limited, username_account
from tests.api.test_referral_api import _body, _issue_token
from tests.conftest import (
    Person,
    csrf_from,
    current_code,
    enrolled_person,
    log_in,
    make_settings,
)
from tests.factories import synthetic_cpr

BIRTH = date(1958, 3, 9)
WRONG = "forkert adgangskode"
LIMITS = {
    "login.account": "4/minute",
    "login.address": "8/minute",
    "code.account": "3/minute",
    "code.address": "4/minute",
    "step_up.account": "2/minute",
    "step_up.address": "3/minute",
    "password_reset.account": "2/hour",
    "password_reset.address": "3/hour",
    "referral.token": "3/minute",
    "referral.address": "4/minute",
}


def _ctx(db_url: str, keys: dict[str, str], clock: FixedClock, **extra: Any) -> AppContext:
    extra.setdefault("rate_limits", LIMITS)
    extra.setdefault("code_failure_limit", 100)  # the lockout is not what is tested here
    return AppContext.build(make_settings(db_url, keys, **extra), clock)


@pytest.fixture
def limited(db_url: str, test_keys: dict[str, str], clock: FixedClock) -> Iterator[AppContext]:
    context = _ctx(db_url, test_keys, clock)
    yield context
    context.engine.dispose()


@pytest.fixture
def second(db_url: str, test_keys: dict[str, str], clock: FixedClock) -> Iterator[AppContext]:
    """Another application on the same database, with its own engine: a second process."""
    context = _ctx(db_url, test_keys, clock)
    yield context
    context.engine.dispose()


def _client(ctx: AppContext, **kwargs: Any) -> TestClient:
    return TestClient(create_app(ctx), follow_redirects=False, **kwargs)


def _login(client: TestClient, username: str, password: str = WRONG) -> Any:
    token = csrf_from(client.get("/login").text)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def _events(ctx: AppContext, action: str) -> list[AuditEvent]:
    with ctx.sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


def _assert_page_429(r: Any) -> None:
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["content-type"].startswith("text/html")
    assert "For mange forsøg" in r.text
    assert "prøv så igen" in r.text


def _assert_problem_429(r: Any) -> None:
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 429


def test_defaults_are_sane_and_a_bad_limit_is_refused(test_keys: dict[str, str]) -> None:
    settings = make_settings("sqlite://", test_keys)
    assert settings.rate_limits["login.account"] == "10/minute"
    assert settings.rate_limits["login.address"] == "30/minute"
    assert settings.max_body_bytes == 64 * 1024
    merged = make_settings("sqlite://", test_keys, rate_limits={"login.account": "3/hour"})
    assert merged.rate_limits["login.account"] == "3/hour"
    assert merged.rate_limits["login.address"] == "30/minute"  # the rest keep the defaults
    with pytest.raises(ValueError, match="not like"):
        make_settings("sqlite://", test_keys, rate_limits={"login.account": "many"})
    with pytest.raises(ValueError, match="unknown rate limit"):
        make_settings("sqlite://", test_keys, rate_limits={"logon.account": "3/hour"})


def test_login_per_account_shared_by_two_processes_unknown_names_too(
    limited: AppContext, second: AppContext, clock: FixedClock
) -> None:
    a, b = _client(limited), _client(second)
    for client in (a, b, a, b):  # 4 attempts, two on each process
        assert _login(client, "ingen.saadan").status_code == 401
    refused = _login(a, "ingen.saadan")
    _assert_page_429(refused)
    assert int(refused.headers["retry-after"]) <= 60
    _assert_page_429(_login(b, "INGEN.SAADAN "))  # the same account as typed differently
    # Refused before any password work: no failed-login event for the refused attempts.
    assert len(_events(limited, "login.password_failed")) == 4
    # Another account from the same address is not limited by this one.
    assert _login(a, "en.anden").status_code == 401
    # One audit event per key and window, however often it is hit.
    exceeded = _events(limited, "rate_limit.exceeded")
    assert len(exceeded) == 1
    assert exceeded[0].outcome == "deny"
    assert '"scope":"login"' in exceeded[0].details
    assert '"key":"account"' in exceeded[0].details
    assert "ingen.saadan" not in exceeded[0].details
    # The window ends: the account may try again.
    clock.advance(timedelta(seconds=61))
    assert _login(a, "ingen.saadan").status_code == 401


def test_login_per_address_and_a_forged_forwarded_for_does_not_escape_it(
    limited: AppContext,
) -> None:
    client = _client(limited)
    for n in range(8):
        r = client.post(
            "/login",
            data={"username": f"navn{n}", "password": "x", "csrf_token": "x"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},  # not a trusted proxy: ignored
        )
        assert r.status_code == 400  # a stale form, but an attempt all the same
    r = client.post(
        "/login",
        data={"username": "navn9", "password": "x", "csrf_token": "x"},
        headers={"X-Forwarded-For": "198.51.100.99"},
    )
    _assert_page_429(r)
    exceeded = _events(limited, "rate_limit.exceeded")
    assert [e.source_ip for e in exceeded] == ["testclient"]
    assert '"key":"address"' in exceeded[0].details
    # The DPO is alerted to the address (rules are data: audit/alerts.yaml).
    with session_scope(limited.sessions) as session:
        raised = evaluate_alerts(session, limited.clock, limited.audit, SYSTEM)
    assert [(a.rule, a.subject) for a in raised if a.rule == "rate_limited_address"] == [
        ("rate_limited_address", "testclient")
    ]


def test_behind_a_trusted_proxy_each_client_address_has_its_own_limit(
    db_url: str, test_keys: dict[str, str], clock: FixedClock
) -> None:
    ctx = _ctx(db_url, test_keys, clock, trusted_proxies=["testclient"])
    client = _client(ctx)
    for n in range(8):
        headers = {"X-Forwarded-For": "203.0.113.7"}
        client.post("/login", data={"username": f"u{n}", "password": "x"}, headers=headers)
    blocked = client.post(
        "/login",
        data={"username": "u9", "password": "x"},
        headers={"X-Forwarded-For": "203.0.113.7"},
    )
    assert blocked.status_code == 429
    other = client.post(
        "/login",
        data={"username": "u9", "password": "x"},
        headers={"X-Forwarded-For": "203.0.113.8"},
    )
    assert other.status_code == 400
    ctx.engine.dispose()


def _pending(client: TestClient, person: Person) -> str:
    r = _login(client, person.username, person.password)
    assert r.headers["location"] == "/login/kode"
    return csrf_from(client.get("/login/kode").text)


def test_code_per_account_across_two_pending_logins_and_processes(
    limited: AppContext, second: AppContext, clock: FixedClock
) -> None:
    person = enrolled_person(limited, "navigator")
    a, b = _client(limited), _client(second)
    token_a, token_b = _pending(a, person), _pending(b, person)
    for client, token in ((a, token_a), (b, token_b), (a, token_a)):
        r = client.post("/login/kode", data={"code": "000000", "csrf_token": token})
        assert r.status_code == 401
    right = b.post("/login/kode", data={"code": current_code(person, clock), "csrf_token": token_b})
    _assert_page_429(right)  # refused before the code is looked at
    assert _events(limited, "login.succeeded") == []
    assert len(_events(limited, "rate_limit.exceeded")) == 1
    clock.advance(timedelta(seconds=61))
    ok = b.post("/login/kode", data={"code": current_code(person, clock), "csrf_token": token_b})
    assert ok.status_code == 303


def test_code_per_address(limited: AppContext, clock: FixedClock) -> None:
    people = [enrolled_person(limited, "navigator") for _ in range(2)]
    clients = [_client(limited) for _ in people]
    tokens = [_pending(c, p) for c, p in zip(clients, people, strict=True)]
    for i in range(4):
        r = clients[i % 2].post("/login/kode", data={"code": "000000", "csrf_token": tokens[i % 2]})
        assert r.status_code == 401
    _assert_page_429(
        clients[0].post("/login/kode", data={"code": "000000", "csrf_token": tokens[0]})
    )
    exceeded = _events(limited, "rate_limit.exceeded")
    assert ['"key":"address"' in e.details for e in exceeded] == [True]


def _wrong_step_up(client: TestClient, token: str) -> Any:
    return client.post("/sletning", data={"confirm": "SLET", "code": "000000", "csrf_token": token})


def test_step_up_per_account(limited: AppContext, second: AppContext, clock: FixedClock) -> None:
    controller = enrolled_person(limited, "data_controller")
    a = _client(limited)
    token = log_in(a, controller, clock)
    for _ in range(2):
        assert _wrong_step_up(a, token).status_code == 409
    _assert_page_429(_wrong_step_up(a, token))
    steps = [e.outcome for e in _events(limited, "login.step_up_failed")]
    assert steps == ["failure", "failure"]  # the refused attempt never reached the code
    # The same user's second session, on another process, shares the limit.
    b = _client(second)
    token_b = log_in(b, controller, clock)  # 30 s later: the same window
    _assert_page_429(_wrong_step_up(b, token_b))
    exceeded = [
        e for e in _events(limited, "rate_limit.exceeded") if '"key":"account"' in e.details
    ]
    assert len(exceeded) == 1  # (the address went over too on the fourth attempt)
    assert exceeded[0].actor_user_id == controller.user_id
    assert '"scope":"step_up"' in exceeded[0].details


def test_step_up_per_address(limited: AppContext, clock: FixedClock) -> None:
    clients, tokens = [], []
    for _ in range(2):
        client = _client(limited)
        tokens.append(log_in(client, enrolled_person(limited, "data_controller"), clock))
        clients.append(client)
    for i in range(3):
        assert _wrong_step_up(clients[i % 2], tokens[i % 2]).status_code == 409
    _assert_page_429(_wrong_step_up(clients[1], tokens[1]))
    assert ['"key":"address"' in e.details for e in _events(limited, "rate_limit.exceeded")] == [
        True
    ]


def test_password_reset_dependency_per_account_and_address(limited: AppContext) -> None:
    app = create_app(limited)

    def account(request: Request) -> str | None:
        return username_account(request.headers.get("x-test-user", ""))

    @app.post(
        "/nulstil-test", dependencies=[public("test"), rate_limited("password_reset", account)]
    )
    def reset(username: Annotated[str, Form()]) -> dict[str, str]:
        return {"ok": username}

    client = TestClient(app, follow_redirects=False)
    for _ in range(2):
        r = client.post("/nulstil-test", data={"username": "a"}, headers={"x-test-user": "a"})
        assert r.status_code == 200
    _assert_page_429(
        client.post("/nulstil-test", data={"username": "a"}, headers={"x-test-user": "a"})
    )
    # per address: the third account-fresh attempt from the same address is the fourth hit
    _assert_page_429(
        client.post("/nulstil-test", data={"username": "b"}, headers={"x-test-user": "b"})
    )
    kinds = sorted(e.details for e in _events(limited, "rate_limit.exceeded"))
    assert len(kinds) == 2
    assert '"key":"account"' in kinds[0]
    assert '"key":"address"' in kinds[1]


def test_referral_api_per_token_with_problem_json(
    limited: AppContext, second: AppContext, clock: FixedClock
) -> None:
    token = _issue_token(limited, _client(limited), clock)
    a = _client(limited, headers={"Authorization": f"Bearer {token}"})
    b = _client(second, headers={"Authorization": f"Bearer {token}"})
    codes = [
        c.post("/api/v1/referrals", json=_body(synthetic_cpr(BIRTH, n))).status_code
        for n, c in enumerate((a, b, a))
    ]
    assert codes == [202, 202, 202]
    refused = b.post("/api/v1/referrals", json=_body(synthetic_cpr(BIRTH, 9)))
    _assert_problem_429(refused)
    with limited.sessions() as session:
        assert session.scalar(select(func.count()).select_from(RateLimitCounter)) >= 2
    exceeded = _events(limited, "rate_limit.exceeded")
    assert len(exceeded) == 1
    assert '"scope":"referral"' in exceeded[0].details
    assert '"key":"token"' in exceeded[0].details
    assert token not in exceeded[0].details


def test_referral_api_per_address(limited: AppContext, clock: FixedClock) -> None:
    first = _issue_token(limited, _client(limited), clock)
    clock.advance(timedelta(seconds=30))
    other = _issue_token(limited, _client(limited), clock)
    clients = [_client(limited, headers={"Authorization": f"Bearer {t}"}) for t in (first, other)]
    for n in range(4):
        r = clients[n % 2].post("/api/v1/referrals", json=_body(synthetic_cpr(BIRTH, n)))
        assert r.status_code == 202
    _assert_problem_429(clients[1].post("/api/v1/referrals", json=_body(synthetic_cpr(BIRTH, 8))))
    assert ['"key":"address"' in e.details for e in _events(limited, "rate_limit.exceeded")] == [
        True
    ]

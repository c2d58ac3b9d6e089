"""The account page (/konto): every user changes their own password and makes new
recovery codes, each with a fresh code; a wrong code or password changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from consent_service.app import create_app
from consent_service.audit.models import AuditEvent
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.identity.models import Role, User
from tests.conftest import PASSWORD, Person, csrf_from, current_code, enrolled_person, log_in

NEW_PASSWORD = "tre blå cykler ved havnen"
WRONG_CODE = "Koden er forkert eller allerede brugt"


@pytest.fixture
def other_client(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx), follow_redirects=False) as c:
        yield c


def _events(ctx: AppContext, action: str) -> list[AuditEvent]:
    with ctx.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)).all())


def _password_hash(ctx: AppContext, person: Person) -> str:
    with ctx.sessions() as s:
        user = s.get(User, person.user_id)
        assert user is not None
        return user.password_hash


def _fresh_code(person: Person, clock: FixedClock) -> str:
    clock.advance(timedelta(seconds=30))
    return current_code(person, clock)


def _change(client: TestClient, token: str, **fields: str) -> httpx.Response:
    form = {
        "current_password": PASSWORD,
        "new_password": NEW_PASSWORD,
        "repeat_password": NEW_PASSWORD,
        "csrf_token": token,
    }
    return client.post("/konto/adgangskode", data=form | fields)


def _password_ok(client: TestClient, username: str, password: str) -> bool:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
    )
    return r.status_code == 303


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_role_has_the_account_page(
    ctx: AppContext, client: TestClient, clock: FixedClock, role: str
) -> None:
    person = enrolled_person(ctx, role)
    log_in(client, person, clock)
    page = client.get("/konto")
    assert page.status_code == 200
    assert 'action="/konto/adgangskode"' in page.text
    assert 'action="/konto/gendannelseskoder"' in page.text
    assert 'href="/konto"' in client.get("/").text


def test_changing_the_password_needs_a_fresh_code_and_the_current_password(
    ctx: AppContext, client: TestClient, other_client: TestClient, clock: FixedClock
) -> None:
    person = enrolled_person(ctx, "navigator")
    token = log_in(client, person, clock)
    log_in(other_client, person, clock)  # the same person on another machine
    before = _password_hash(ctx, person)

    # The careless user: a wrong code keeps the form with a Danish message.
    r = _change(client, token, code="000000")
    assert r.status_code == 400
    assert WRONG_CODE in r.text
    assert 'action="/konto/adgangskode"' in r.text
    # The login's own code again: a replay.
    assert _change(client, token, code=current_code(person, clock)).status_code == 400
    # A wrong current password (with a right code): refused and audited.
    r = _change(client, token, current_password="forkert gæt", code=_fresh_code(person, clock))
    assert r.status_code == 400
    assert "nuværende adgangskode er forkert" in r.text
    assert _events(ctx, "user.password_change_refused")
    # Two different new passwords; a too common one.
    r = _change(client, token, repeat_password="noget andet helt", code=_fresh_code(person, clock))
    assert "ikke ens" in r.text
    r = _change(
        client, token, new_password="password123", repeat_password="password123",
        code=_fresh_code(person, clock),
    )  # fmt: skip
    assert r.status_code == 400
    assert _password_hash(ctx, person) == before
    failures = list(_events(ctx, "login.step_up_failed"))
    assert len(failures) == 2
    assert {json.loads(e.details)["purpose"] for e in failures} == {"password_change"}

    r = _change(client, token, code=_fresh_code(person, clock))
    assert r.status_code == 303
    assert "Din adgangskode er skiftet" in client.get(r.headers["location"]).text
    assert _password_hash(ctx, person) != before
    # The other session ended; this one goes on.
    assert other_client.get("/").status_code == 303
    assert client.get("/").status_code == 200
    changed = _events(ctx, "user.password_changed")
    assert changed[-1].actor_user_id == person.user_id
    with TestClient(create_app(ctx), follow_redirects=False) as fresh:
        assert not _password_ok(fresh, person.username, PASSWORD)
        assert _password_ok(fresh, person.username, NEW_PASSWORD)


def test_new_recovery_codes_replace_the_old_ones(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    person = enrolled_person(ctx, "data_controller")
    token = log_in(client, person, clock)
    r = client.post("/konto/gendannelseskoder", data={"code": "000000", "csrf_token": token})
    assert r.status_code == 400
    assert WRONG_CODE in r.text
    assert 'id="recovery-codes"' not in r.text

    first = client.post(
        "/konto/gendannelseskoder",
        data={"code": _fresh_code(person, clock), "csrf_token": token},
    )
    assert first.status_code == 200
    old_codes = _codes(first.text)
    assert len(old_codes) == 10
    second = client.post(
        "/konto/gendannelseskoder",
        data={"code": _fresh_code(person, clock), "csrf_token": token},
    )
    new_codes = _codes(second.text)
    assert len(new_codes) == 10
    assert not set(old_codes) & set(new_codes)
    assert len(_events(ctx, "user.recovery_codes_renewed")) == 2
    with TestClient(create_app(ctx), follow_redirects=False) as fresh:
        assert _recovery_login(fresh, person, old_codes[0]) == 401
        assert _recovery_login(fresh, person, new_codes[0]) == 303
    with ctx.sessions() as s:
        text = " ".join(e.details or "" for e in s.scalars(select(AuditEvent)))
    assert not any(c in text for c in new_codes)


def _codes(html: str) -> list[str]:
    block = html.split('id="recovery-codes">')[1].split("</ul>")[0]
    return [part.split("</code>")[0] for part in block.split("<code>")[1:]]


def _recovery_login(client: TestClient, person: Person, code: str) -> int:
    assert _password_ok(client, person.username, person.password)
    page = client.get("/login/kode")
    r = client.post("/login/kode", data={"code": code, "csrf_token": csrf_from(page.text)})
    return r.status_code

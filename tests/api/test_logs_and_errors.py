"""Logs: JSON, a request id on every request line, and never a password, code, session token
or CPR number. Errors: problem+json or a Danish page, no stack trace, no echoed input."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.logging import configure_logging
from consent_service.web.cookies import SESSION_COOKIE
from tests.conftest import csrf_from, current_code, enrolled_person, log_in, owner_engine

CPR_LIKE = re.compile(r"(?<![0-9A-Za-z])\d{6}-?\d{4}(?![0-9A-Za-z])")


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", stream)
    yield stream
    logging.getLogger().handlers[:] = []


def test_logs_never_hold_secrets(
    ctx: AppContext, client: TestClient, clock: FixedClock, captured_logs: io.StringIO
) -> None:
    person = enrolled_person(ctx, "administrator")
    secrets_seen: list[str] = [person.password, person.secret]
    # Failed logins with a CPR number typed as the user name and a wrong code.
    cpr_typed = "0101901234"  # generated shape, not a person's number
    page = client.get("/login")
    client.post(
        "/login",
        data={
            "username": cpr_typed,
            "password": "typo " + person.password,
            "csrf_token": csrf_from(page.text),
        },
    )
    secrets_seen += [cpr_typed, "typo " + person.password]
    token = log_in(client, person, clock)
    secrets_seen += [client.cookies[SESSION_COOKIE], token, current_code(person, clock)]
    created = client.post(
        "/admin/brugere",
        # A role that reads no citizens' data: the one-time password is shown at once.
        data={
            "username": "nina",
            "display_name": "Nina",
            "role": "administrator",
            "csrf_token": token,
        },
    )
    one_time = created.text.split('id="one-time-password">')[1].split("<")[0]
    secrets_seen.append(one_time)
    client.post("/logout", data={"csrf_token": token})
    # An API call with a CPR number in the query string and a bad body.
    client.get("/api/v1/me", params={"cpr": "010190-1234"})
    secrets_seen.append("010190-1234")

    output = captured_logs.getvalue()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert len(lines) > 10
    for secret in secrets_seen:
        assert secret not in output, "a secret reached the log"
    assert not CPR_LIKE.search(output)
    requests = [line for line in lines if line.get("event") == "request"]
    assert requests
    assert all(len(line["request_id"]) == 32 for line in requests)
    assert all("timestamp" in line and "level" in line for line in lines)


def test_api_errors_are_problem_json(ctx: AppContext, client: TestClient) -> None:
    r = client.get("/api/v1/me")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 401
    assert body["request_id"] == r.headers["x-request-id"]


def test_unknown_pages_get_a_danish_page(ctx: AppContext, client: TestClient) -> None:
    r = client.get("/findes-ikke")
    assert r.status_code == 404
    assert "Siden findes ikke" in r.text
    assert "Traceback" not in r.text


def test_invalid_form_input_is_a_danish_400_without_echo(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator")
    token = log_in(client, admin, clock)
    r = client.post(
        "/admin/brugere",
        data={
            "username": "x" * 500,
            "display_name": "010190-1234",
            "role": "navigator",
            "csrf_token": token,
        },
    )
    assert r.status_code == 400
    assert "Formularen var ikke udfyldt korrekt" in r.text
    assert "x" * 100 not in r.text
    assert "010190-1234" not in r.text


def test_bad_input_changes_nothing(ctx: AppContext, client: TestClient, clock: FixedClock) -> None:
    admin = enrolled_person(ctx, "administrator")
    token = log_in(client, admin, clock)
    before = client.get("/admin/brugere").text.count('<tr id="user-')
    for bad in (
        {"username": "ugyldigt navn!", "display_name": "A", "role": "navigator"},
        {"username": "ok", "display_name": "A", "role": "superuser"},
        {"username": admin.username, "display_name": "A", "role": "navigator"},
    ):
        r = client.post("/admin/brugere", data={**bad, "csrf_token": token})
        assert r.status_code == 400
        assert 'class="form-error-message"' in r.text
    assert client.get("/admin/brugere").text.count('<tr id="user-') == before


def test_health_and_readiness(ctx: AppContext, client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_readiness_fails_on_a_wrong_migration(ctx: AppContext, client: TestClient) -> None:
    from sqlalchemy import text

    owner = owner_engine(ctx)  # only migrate's login may write alembic_version
    with owner.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff0000'"))
    owner.dispose()
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {"status": "not ready"}

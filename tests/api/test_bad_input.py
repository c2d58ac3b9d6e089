"""Bad input gets a clear refusal, never a 500: NUL, control characters and bidirectional
overrides are refused at the edge (a Danish page naming the field, or problem+json), a
database error logs no parameter, any unhandled error answers a page or problem+json
with the request id, and a busy SQLite database answers 503 with Retry-After."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from consent_service.app import create_app
from consent_service.citizens.models import Citizen
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.logging import configure_logging
from consent_service.web import textguard
from tests.api.test_citizens_consents import print_form, record, refer, register
from tests.api.test_referral_api import _body, _issue_token
from tests.conftest import csrf_from, enrolled_person, log_in, make_settings
from tests.factories import synthetic_cpr, tiny_png

PERSON = "Jens Peter Hansen"


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", stream)
    yield stream
    logging.getLogger().handlers[:] = []


def _citizens(ctx: AppContext) -> int:
    with ctx.sessions() as s:
        return s.scalar(select(func.count()).select_from(Citizen)) or 0


def _citizen_form(token: str, name: str, birth: date = date(1961, 4, 17)) -> dict[str, str]:
    return {
        "cpr": synthetic_cpr(birth),
        "name": name,
        "municipality": "Norddjurs",
        "gp_clinic": "Lægehuset Grenaa",
        "csrf_token": token,
    }


def test_nul_in_the_user_name_at_login_is_a_danish_400_and_logs_nothing(
    ctx: AppContext, client: TestClient, captured_logs: io.StringIO
) -> None:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": "jens\x00hansen", "password": "x", "csrf_token": csrf_from(page.text)},
    )
    assert r.status_code == 400
    assert "Feltet »brugernavn« indeholder et nul-tegn" in r.text
    assert "jens" not in r.text
    assert r.headers["x-request-id"] in r.text
    # The same as multipart/form-data, which the login route parses just as well.
    r = client.post(
        "/login",
        data={"username": "jens\x00hansen", "password": "x", "csrf_token": csrf_from(page.text)},
        files={"extra": ("a.txt", b"x", "text/plain")},
    )
    assert r.status_code == 400
    assert "Feltet »brugernavn« indeholder et nul-tegn" in r.text
    logged = captured_logs.getvalue()
    assert "jens" not in logged
    assert "parameters" not in logged
    assert "error" not in {json.loads(line)["level"] for line in logged.splitlines()}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (f"Jens\x00{PERSON}", "nul-tegn"),
        (f"{PERSON}\u202egnirts", "vender skriveretningen"),
        (f"{PERSON}\u2066x\u2069", "vender skriveretningen"),
        (f"{PERSON}\x07", "kontroltegn"),
        (f"{PERSON}\x9b", "kontroltegn"),
        (f"{PERSON}\n", "én linje"),
    ],
)
def test_bad_characters_in_a_name_are_refused_and_change_nothing(
    ctx: AppContext, client: TestClient, clock: FixedClock, name: str, reason: str
) -> None:
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    before = _citizens(ctx)
    r = client.post("/borgere/ny", data=_citizen_form(token, name))
    assert r.status_code == 400
    assert "Feltet »navn«" in r.text
    assert reason in r.text
    assert "Hansen" not in r.text
    assert _citizens(ctx) == before


def test_names_are_stored_nfc_and_the_csrf_flow_survives(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    pid = register(client, token, synthetic_cpr(date(1970, 2, 3)), name="Jo\u0301n Ærø")
    shown = client.get(f"/borgere/{pid}").text
    assert "J\u00f3n Ærø" in shown
    assert "Jo\u0301n" not in shown


def test_query_strings_and_paths_are_checked(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    log_in(client, enrolled_person(ctx, "navigator"), clock)
    r = client.get("/borgere", params={"side": "1\x00"})
    assert r.status_code == 400
    assert "»side«" in r.text
    r = client.get("/borgere/abc%00def")
    assert r.status_code == 400
    assert "Adressen indeholder et nul-tegn" in r.text


def test_api_bodies_get_problem_json_per_field(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    token = _issue_token(ctx, client, clock)
    api = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
    body = _body(synthetic_cpr(date(1958, 3, 9)))
    before = _citizens(ctx)
    r = api.post(
        "/api/v1/referrals",
        json={**body, "name": "Ayşe\x00", "gp_clinic": "\u202eLæge", "clinic": "ok"},
    )
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["request_id"] == r.headers["x-request-id"]
    assert {e["field"] for e in problem["errors"]} == {"body.name", "body.gp_clinic"}
    assert "Ayşe" not in r.text
    # A lone surrogate can be written in JSON; it is refused, never stored.
    raw = json.dumps({**body, "name": "x"}).replace('"x"', '"\\ud800"')
    r = api.post("/api/v1/referrals", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "body.name"
    assert _citizens(ctx) == before


def test_multipart_text_is_checked_at_the_edge_and_in_the_endpoint(
    ctx: AppContext, client: TestClient, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    pid = register(client, token, synthetic_cpr(date(1961, 4, 17)))
    refer(client, token, pid, clock.now().date() - timedelta(days=3))
    form_id = print_form(client, token, pid, "journal")
    today = clock.now().date()

    def with_witness(witness: str) -> int:
        r = client.post(
            f"/borgere/{pid}/samtykke/journal/registrer",
            data={
                "form_id": form_id,
                "signed_on": today.isoformat(),
                "witness": witness,
                "csrf_token": token,
            },
            files={"scan": ("scan\u202egnp.png", tiny_png(), "image/png")},
        )
        return r.status_code

    assert with_witness(f"{PERSON}") == 400  # the file name's override, at the edge
    # Too large to buffer at the edge: the endpoint's SafeText refuses it, after login.
    monkeypatch.setattr(textguard, "MAX_CHECKED_BODY", 10)
    assert with_witness(f"{PERSON}\x00") == 400
    monkeypatch.undo()
    r = record(client, token, pid, "journal", form_id, today)
    assert r.status_code == 303, r.text


def _fail_with_a_real_database_error(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """Registering a citizen inserts a row that breaks a NOT NULL constraint: a real
    integrity error whose parameters (and, on PostgreSQL, DETAIL "Failing row contains
    ...") hold the name."""
    from consent_service.citizens import service

    def broken(session: Session, *_args: object, **_kw: object) -> None:
        session.execute(
            text("INSERT INTO organisation (name, created_at) VALUES (:name, NULL)"),
            {"name": PERSON},
        )

    monkeypatch.setattr(service, "register_citizen", broken)


def test_a_database_error_logs_no_parameter_and_answers_a_page(
    ctx: AppContext,
    client: TestClient,
    clock: FixedClock,
    captured_logs: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    _fail_with_a_real_database_error(ctx, monkeypatch)
    r = client.post("/borgere/ny", data=_citizen_form(token, PERSON))
    assert r.status_code == 500
    assert "Der opstod en fejl" in r.text
    assert r.headers["x-request-id"] in r.text
    assert r.headers["content-security-policy"]
    logged = captured_logs.getvalue()
    errors = [json.loads(line) for line in logged.splitlines() if '"level": "error"' in line]
    assert [e["exc_type"] for e in errors] == ["IntegrityError"]
    assert errors[0]["request_id"] == r.headers["x-request-id"]
    for leak in ("Hansen", "Jens", "parameters", "DETAIL"):
        assert leak not in logged
    assert PERSON not in r.text


def test_a_commit_failure_after_the_endpoint_answers_with_the_request_id(
    ctx: AppContext,
    client: TestClient,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    captured_logs: io.StringIO,
) -> None:
    """The session dependency commits after the endpoint returned (web/deps.py); a failure
    there once reached the browser as a dropped connection."""
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    api_token = _issue_token(ctx, client, clock)

    def failing_commit(self: Session) -> None:
        self.execute(text("SELECT * FROM no_such_table WHERE name = :n"), {"n": PERSON})

    monkeypatch.setattr(Session, "commit", failing_commit)
    r = client.post("/borgere/ny", data=_citizen_form(token, PERSON))
    assert r.status_code == 500
    assert "Der opstod en fejl, og intet blev gemt" in r.text
    assert r.headers["x-request-id"] in r.text
    api = TestClient(client.app, headers={"Authorization": f"Bearer {api_token}"})
    r = api.post("/api/v1/referrals", json=_body(synthetic_cpr(date(1958, 3, 9))))
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["request_id"] == r.headers["x-request-id"]


def test_a_busy_sqlite_database_answers_503_with_retry_after(
    db_url: str, test_keys: dict[str, str], clock: FixedClock, captured_logs: io.StringIO
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL writers wait on row locks, not a database lock")
    settings = make_settings(db_url, test_keys, sqlite_busy_timeout_seconds=0.2)
    ctx = AppContext.build(settings, clock)
    try:
        with TestClient(create_app(ctx), follow_redirects=False) as client:
            token = log_in(client, enrolled_person(ctx, "navigator"), clock)
            holder = sqlite3.connect(db_url.split("///", 1)[1], isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            try:
                r = client.post("/borgere/ny", data=_citizen_form(token, PERSON))
                assert r.status_code == 503
                assert r.headers["retry-after"] == "5"
                assert "Prøv igen om et par sekunder" in r.text
                assert r.headers["x-request-id"] in r.text
                r = client.get("/api/v1/me")
                assert r.status_code == 503
                assert r.headers["content-type"] == "application/problem+json"
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            register(client, token, synthetic_cpr(date(1961, 4, 17)), name=PERSON)
    finally:
        ctx.engine.dispose()


def test_fifty_concurrent_consent_recordings_never_answer_500(
    ctx: AppContext, client: TestClient, clock: FixedClock, captured_logs: io.StringIO
) -> None:
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    pid = register(client, token, synthetic_cpr(date(1961, 4, 17)))
    refer(client, token, pid, clock.now().date() - timedelta(days=3))
    forms = [print_form(client, token, pid, "journal") for _ in range(3)]
    today = clock.now().date()
    statuses: list[int] = []
    retry_after: list[str | None] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        if i % 2:
            r = record(client, token, pid, "journal", forms[i % 3], today)
        else:
            r = client.post(
                f"/borgere/{pid}/samtykke/journal/afslag",
                data={"decided_on": today.isoformat(), "csrf_token": token},
            )
        with lock:
            statuses.append(r.status_code)
            retry_after.append(r.headers.get("retry-after"))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(statuses) == 50
    assert all(s < 500 or s == 503 for s in statuses), sorted(statuses)
    assert any(s == 303 for s in statuses)
    assert all(ra for s, ra in zip(statuses, retry_after, strict=True) if s == 503)

"""Error pages for people: Danish, in the normal layout with the menu when the person is
signed in, saying what happened and showing the request id for support; never a stack
trace, an English status text or a file path. Programs get problem+json with the id."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.identity.models import UserSession
from consent_service.web import pages
from tests.conftest import enrolled_person, log_in

MENU = 'id="logout"'


def _support_code(r: Response) -> None:
    request_id = r.headers["x-request-id"]
    assert f"Fejlkode til support: <code>{request_id}</code>" in r.text
    assert "Traceback" not in r.text
    assert ".yaml" not in r.text


def test_an_unknown_page_is_danish_with_the_request_id_and_no_menu_signed_out(
    ctx: AppContext, client: TestClient
) -> None:
    r = client.get("/findes-ikke")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Siden findes ikke" in r.text
    assert "Tjek adressen" in r.text
    assert "Not Found" not in r.text
    assert MENU not in r.text
    _support_code(r)


def test_an_unknown_page_keeps_the_menu_signed_in(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    person = enrolled_person(ctx, "navigator")
    log_in(client, person, clock)
    r = client.get("/borgere/findes/ikke/her")
    assert r.status_code == 404
    assert "Siden findes ikke" in r.text
    assert "Not Found" not in r.text
    assert MENU in r.text
    assert 'href="/konto"' in r.text
    assert "Test navigator" in r.text
    _support_code(r)


def test_an_unknown_page_does_not_move_the_session_idle_clock(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    """The 404's session lookup is read-only: only a real page keeps a session alive."""
    log_in(client, enrolled_person(ctx, "navigator"), clock)

    def last_seen() -> list[object]:
        with ctx.sessions() as session:
            return list(session.scalars(select(UserSession.last_seen_at)).all())

    before = last_seen()
    clock.advance(timedelta(minutes=5))
    assert MENU in client.get("/findes-ikke").text
    assert last_seen() == before


def test_a_refused_page_keeps_the_menu(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    log_in(client, enrolled_person(ctx, "navigator"), clock)
    r = client.get("/admin/brugere")
    assert r.status_code == 403
    assert "Du har ikke adgang" in r.text
    assert MENU in r.text
    _support_code(r)


def test_a_form_refused_before_its_body_is_read_keeps_the_menu(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    r = client.post(
        "/admin/brugere",
        data={"username": "nina", "display_name": "Nina", "role": "navigator", "csrf_token": token},
    )
    assert r.status_code == 403
    assert "Du har ikke adgang" in r.text
    assert MENU in r.text
    _support_code(r)


def test_a_wrong_method_is_danish(ctx: AppContext, client: TestClient) -> None:
    r = client.delete("/login")
    assert r.status_code == 405
    assert "Method Not Allowed" not in r.text
    assert "Siden kan ikke bruges på den måde" in r.text
    _support_code(r)


def test_an_unknown_api_path_is_problem_json_with_the_request_id(
    ctx: AppContext, client: TestClient
) -> None:
    r = client.get("/api/v1/findes-ikke")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 404
    assert body["request_id"] == r.headers["x-request-id"]
    assert set(body) >= {"type", "title", "status", "detail", "request_id"}


def test_a_server_error_is_a_danish_page_with_the_request_id_and_the_menu(
    ctx: AppContext, client: TestClient, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(client, enrolled_person(ctx, "navigator"), clock)

    def fails(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Jens Hansen /srv/consent_service/web/pages.py")

    monkeypatch.setattr(pages, "page", fails)
    r = client.get("/")
    assert r.status_code == 500
    assert "Der opstod en fejl" in r.text
    assert "intet blev gemt" in r.text
    assert "Jens Hansen" not in r.text
    assert "pages.py" not in r.text
    assert "RuntimeError" not in r.text
    assert MENU in r.text
    _support_code(r)

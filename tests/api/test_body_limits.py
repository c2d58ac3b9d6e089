"""The session and the permission are checked before a request body is read, and a body
over the route's limit is refused with 413 before it is read or spooled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.testclient import TestClient

from consent_service.app import create_app
from consent_service.clock import FixedClock
from consent_service.consents import service as consents
from consent_service.context import AppContext
from consent_service.web.cookies import SESSION_COOKIE
from consent_service.web.deps import SAFE_METHODS, iter_routes
from consent_service.web.gate import GatedRoute
from tests.api.test_referral_api import _issue_token
from tests.conftest import enrolled_person, log_in

SCAN_ROUTE = "/borgere/abc/samtykke/journal/registrer"
BOUNDARY = "grænse"


@dataclass
class Exchange:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    read_before_answer: bool = False


async def _send_headers_only(
    app: FastAPI, path: str, headers: dict[str, str], method: str = "POST"
) -> Exchange:
    """A request whose headers arrive and whose body never does: the client promises
    Content-Length bytes and sends none. An application that waits for the body hangs
    (and the test times out); one that answers first has not read it."""
    seen = Exchange()
    answered = False

    async def receive() -> dict[str, Any]:
        if not answered:
            seen.read_before_answer = True
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal answered
        if message["type"] == "http.response.start":
            answered = True
            seen.status = message["status"]
            seen.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            seen.body += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("192.0.2.10", 50000),
        "server": ("testserver", 80),
    }
    with anyio.fail_after(20):
        await app(scope, receive, send)
    return seen


def _upload_headers(length: int, cookie: str | None = None) -> dict[str, str]:
    headers = {
        "content-type": f"multipart/form-data; boundary={BOUNDARY}",
        "content-length": str(length),
        "x-csrf-token": "whatever",
    }
    if cookie:
        headers["cookie"] = f"{SESSION_COOKIE}={cookie}"
    return headers


def test_an_unauthenticated_upload_is_refused_before_its_body_is_read(ctx: AppContext) -> None:
    app = create_app(ctx)
    seen = anyio.run(_send_headers_only, app, SCAN_ROUTE, _upload_headers(5 * 1024 * 1024))
    assert seen.status == 303
    assert seen.headers["location"] == "/login"
    assert not seen.read_before_answer
    # Also with a forged session cookie, and the refusal is audited.
    forged = anyio.run(
        _send_headers_only, app, SCAN_ROUTE, _upload_headers(5 * 1024 * 1024, "forfalsket")
    )
    assert forged.status == 303
    assert not forged.read_before_answer
    from tests.api.test_rate_limits import _events

    refusals = _events(ctx, "access.unauthenticated")
    assert len(refusals) == 2
    assert '"permission":"consent:record"' in refusals[0].details


def test_a_role_without_the_permission_is_refused_before_the_body_is_read(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    log_in(client, enrolled_person(ctx, "dpo"), clock)
    cookie = client.cookies[SESSION_COOKIE]
    seen = anyio.run(
        _send_headers_only, client.app, SCAN_ROUTE, _upload_headers(5 * 1024 * 1024, cookie)
    )
    assert seen.status == 403
    assert "Du har ikke adgang" in seen.body.decode()
    assert not seen.read_before_answer


def test_an_upload_over_the_scan_limit_gets_413_unread_and_a_normal_one_is_allowed(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    log_in(client, enrolled_person(ctx, "navigator"), clock)
    cookie = client.cookies[SESSION_COOKIE]
    too_big = consents.MAX_SCAN_BYTES + 1024 * 1024
    seen = anyio.run(_send_headers_only, client.app, SCAN_ROUTE, _upload_headers(too_big, cookie))
    assert seen.status == 413
    assert "for stor" in seen.body.decode()
    assert not seen.read_before_answer
    # A scan of the largest allowed size is over the default limit, yet within the route's.
    r = client.post(
        SCAN_ROUTE,
        files={"scan": ("scan.png", b"\x89PNG" + b"0" * (consents.MAX_SCAN_BYTES - 4))},
        data={"form_id": "x", "signed_on": "2026-11-20", "witness": "Vidne"},
        headers={"x-csrf-token": csrf_of(client)},
    )
    assert r.status_code == 404  # read in full, then: no such citizen


def csrf_of(client: TestClient) -> str:
    from tests.conftest import csrf_from

    return csrf_from(client.get("/").text)


def test_a_form_over_the_default_limit_gets_a_danish_413(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    r = client.post("/logout", data={"csrf_token": token, "fyld": "x" * (70 * 1024)})
    assert r.status_code == 413
    assert "Forespørgslen er for stor" in r.text
    assert client.get("/").status_code == 200  # not logged out: the request did nothing


def test_a_chunked_body_is_counted_and_cut_off(client: TestClient) -> None:
    def chunks() -> Any:
        for _ in range(100):
            yield b"username=" + b"a" * 1024 + b"&"

    r = client.post(
        "/login",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413
    assert "Forespørgslen er for stor" in r.text


def test_an_api_body_over_the_limit_gets_problem_json(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    token = _issue_token(ctx, client, clock)
    api = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
    r = api.post(
        "/api/v1/referrals",
        content=b'{"cpr": "' + b"1" * (70 * 1024) + b'"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 413
    # Without a token, a promised large body is not waited for either.
    seen = anyio.run(
        _send_headers_only,
        client.app,
        "/api/v1/referrals",
        {"content-type": "application/json", "content-length": str(60 * 1024)},
    )
    assert seen.status == 401
    assert not seen.read_before_answer


def test_every_state_changing_route_is_gated(client: TestClient) -> None:
    for path, route in iter_routes(client.app.routes):
        methods = getattr(route, "methods", None) or set()
        if methods - SAFE_METHODS:
            assert isinstance(route, GatedRoute), path

"""The outermost guard on its own: an exception before the response answers a page with
the request id and is not re-raised (the server would log its message and drop the
connection); one after the response started ends the response quietly."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from consent_service.web.failsafe import FailSafe


def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [],
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
        "root_path": "",
        "http_version": "1.1",
    }


def _run(app: Any, path: str) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    # In a thread of its own: a session-wide fixture (Playwright's sync API in the browser
    # tests) may keep an event loop running in this one.
    call = FailSafe(app, headers={"X-Frame-Options": "DENY"})(_scope(path), receive, send)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, call).result()
    return sent


async def _fails_before(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("Jens Hansen")


async def _fails_after(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"half", "more_body": True})
    raise RuntimeError("Jens Hansen")


def test_an_error_before_the_response_answers_a_page_with_the_request_id() -> None:
    sent = _run(_fails_before, "/borgere")
    start = sent[0]
    assert start["status"] == 500
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    request_id = headers["x-request-id"]
    body = b"".join(m.get("body", b"") for m in sent[1:]).decode()
    assert request_id in body
    assert "Der opstod en fejl" in body
    assert "Jens" not in body
    assert headers["x-frame-options"] == "DENY"


def test_an_api_error_is_problem_json() -> None:
    sent = _run(_fails_before, "/api/v1/me")
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    assert headers["content-type"] == "application/problem+json"
    assert headers["x-request-id"] in sent[1]["body"].decode()


def test_an_error_after_the_response_started_is_not_re_raised() -> None:
    sent = _run(_fails_after, "/dpo/eksport")  # would raise out of asyncio.run if re-raised
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]

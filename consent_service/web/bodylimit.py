"""Request bodies over a route's limit are refused with 413 before they are read.

``BodyLimitMiddleware`` (pure ASGI) puts a budget in every HTTP request's scope, at the
service's default (``CONSENT_MAX_BODY_BYTES``), and wraps ``receive``: a body whose
declared Content-Length exceeds the budget is refused before the first byte is taken,
and a chunked body is counted as it arrives and refused as soon as it passes the budget.
A route that takes more (the scan upload) says so with ``@body_limit(n)``; the route
gate (``consent_service.web.gate``) sets that route's budget, and checks Content-Length
itself, before anything reads the body.

Not FastAPI's own ``max_body_size``: when the declared length is over the limit, its
limiter replaces whatever response the application sends (our Danish page, our
problem+json, the 401 of a request without a session) with a plain-text 413.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SCOPE_KEY = "consent_service.body_budget"
ENDPOINT_ATTR = "__max_body_bytes__"
TOO_LARGE = "Forespørgslen er for stor. Send en mindre fil eller kortere tekst."

F = TypeVar("F", bound=Callable[..., Any])


class BodyTooLarge(HTTPException):
    """413: the body is over the route's limit; nothing of it was kept. FastAPI's own
    HTTPException, which its body reading lets through (any other error there becomes
    a 400)."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail=TOO_LARGE)


@dataclass
class BodyBudget:
    limit: int
    received: int = 0


def body_limit(max_bytes: int) -> Callable[[F], F]:
    """Let one route take bodies up to ``max_bytes`` instead of the default."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, ENDPOINT_ATTR, max_bytes)
        return endpoint

    return mark


def route_limit(endpoint: Callable[..., Any] | None) -> int | None:
    value = getattr(endpoint, ENDPOINT_ATTR, None)
    return value if isinstance(value, int) else None


def declared_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def budget_of(scope: Scope) -> BodyBudget | None:
    budget = scope.get(SCOPE_KEY)
    return budget if isinstance(budget, BodyBudget) else None


def set_route_limit(scope: Scope, max_bytes: int | None) -> None:
    """The route's own limit, if it has one (called before the body is read)."""
    budget = budget_of(scope)
    if budget is not None and max_bytes is not None:
        budget.limit = max_bytes


def refuse_declared_oversize(scope: Scope) -> None:
    """413 now if the declared Content-Length is over the budget."""
    budget = budget_of(scope)
    length = declared_length(scope)
    if budget is not None and length is not None and length > budget.limit:
        raise BodyTooLarge()


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, default_limit: int) -> None:
        self.app = app
        self.default_limit = default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        budget = BodyBudget(self.default_limit)
        scope[SCOPE_KEY] = budget
        responding = False

        async def counted() -> Message:
            if responding:  # e.g. a response listening for the client's disconnect
                return await receive()
            refuse_declared_oversize(scope)
            message = await receive()
            if message["type"] == "http.request":
                budget.received += len(message.get("body", b""))
                if budget.received > budget.limit:
                    raise BodyTooLarge()
            return message

        async def sending(message: Message) -> None:
            nonlocal responding
            if message["type"] == "http.response.start":
                responding = True
            await send(message)

        await self.app(scope, counted, sending)

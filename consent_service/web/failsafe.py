"""The outermost guard: whatever goes wrong, the browser gets a Danish page and a program
problem+json, both with the request id; never a dropped connection or a server's bare
"Internal Server Error", and never the exception's message in a log line.

A pure ASGI middleware around everything else (also around the request-id middleware,
whose own response handling an exception skips). An exception is logged once, by
``consent_service.logging``'s safe formatter, and not re-raised: a re-raise would make the
server log it again, message and all, and close the connection. A database that is busy
(SQLite's write lock held past the busy timeout, the connection pool exhausted,
PostgreSQL lock or serialisation failures) answers 503 with Retry-After instead of 500;
a unique constraint refusing what a concurrent request just wrote answers 409.

Only if the response has already started (a streamed download failing half-way) can no
page be sent; the error is then logged and the response ended.
"""

from __future__ import annotations

import sqlite3
import uuid

import structlog
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent_service.web import problems

log = structlog.get_logger()

RETRY_AFTER_SECONDS = 5
# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available,
# too_many_connections, query_canceled (statement timeout), cannot_connect_now.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03", "53300", "57014", "57P03"})
_SQLITE_BUSY = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})
_BUSY_MESSAGES = ("database is locked", "database table is locked")


def database_busy(exc: BaseException) -> bool:
    """Whether ``exc`` means "the database is busy, try again shortly" (not a fault)."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        name = getattr(orig, "sqlite_errorname", "")
        return name in _SQLITE_BUSY or str(orig).startswith(_BUSY_MESSAGES)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(
        getattr(orig, "diag", None), "sqlstate", None
    )
    return sqlstate in RETRYABLE_SQLSTATES


def concurrent_duplicate(exc: BaseException) -> bool:
    """Whether ``exc`` is a unique constraint refusing a row that a concurrent request
    wrote between this request's check and its insert: a conflict, not a fault."""
    if not isinstance(exc, IntegrityError):
        return False
    orig = exc.orig
    if isinstance(orig, sqlite3.IntegrityError):
        return str(orig).startswith("UNIQUE constraint failed")
    return getattr(orig, "sqlstate", None) == "23505"


def _request_id(scope: Scope) -> str:
    state = scope.setdefault("state", {})
    request_id = state.get("request_id")
    if not isinstance(request_id, str):
        request_id = uuid.uuid4().hex
        state["request_id"] = request_id
    return request_id


def error_response(request: Request, exc: BaseException) -> Response:
    """The 503 (busy) or 500 answer for an unhandled exception, as page or problem+json."""
    busy = database_busy(exc)
    response: Response
    if concurrent_duplicate(exc):
        if problems.is_api(request):
            return problems.problem(
                request,
                409,
                "Conflict",
                "A concurrent request changed the same data; nothing was saved.",
            )
        return problems.error_page(
            request,
            409,
            "En anden har netop registreret det samme. Intet er gemt; "
            "genindlæs siden og se, hvad der er registreret.",
        )
    if problems.is_api(request):
        if busy:
            response = problems.problem(
                request,
                503,
                "Service busy",
                "The database is busy; nothing was saved. Try again in a few seconds.",
            )
        else:
            response = problems.problem(
                request,
                500,
                "Internal error",
                "The request failed; nothing was saved. Quote the request id when reporting it.",
            )
    elif busy:
        response = problems.error_page(
            request,
            503,
            "Der er travlt lige nu, og intet blev gemt. Prøv igen om et par sekunder.",
        )
    else:
        response = problems.error_page(
            request,
            500,
            "Der opstod en fejl, og intet blev gemt. Oplys fejlkoden nedenfor, "
            "hvis du kontakter support.",
        )
    if busy:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _bare_page(request_id: str) -> Response:
    """If even the error page cannot be rendered: a page made without templates."""
    return HTMLResponse(
        '<!doctype html><html lang="da"><meta charset="utf-8"><title>Der opstod en fejl'
        "</title><h1>Der opstod en fejl</h1><p>Intet blev gemt. Fejlkode til support: "
        f"<code>{request_id}</code></p></html>",
        status_code=500,
    )


class FailSafe:
    """Answers every unhandled exception (see the module's docstring)."""

    def __init__(self, app: ASGIApp, headers: dict[str, str] | None = None) -> None:
        self.app = app
        self.headers = {**(headers or {}), "Cache-Control": "no-store"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            request_id = _request_id(scope)
            expected = database_busy(exc) or concurrent_duplicate(exc)
            log.log(
                30 if expected else 40,  # WARNING for busy or conflict, ERROR otherwise
                "database busy or conflict" if expected else "unhandled error",
                request_id=request_id,
                exc_type=type(exc).__name__,
                path_template=_route_path(scope),
                response_started=started,
                exc_info=exc,
            )
            if started:
                return
            request = Request(scope, receive)
            try:
                response = error_response(request, exc)
            except Exception:
                log.error("error page failed", request_id=request_id, exc_info=True)
                response = _bare_page(request_id)
            response.headers["X-Request-ID"] = request_id
            for name, value in self.headers.items():
                response.headers.setdefault(name, value)
            await response(scope, receive, send)


def _route_path(scope: Scope) -> str:
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))

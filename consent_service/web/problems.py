"""Errors as people and programs should see them: problem+json for the API (RFC 9457),
a Danish page for people; never a stack trace, never the input that was refused."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from consent_service.citizens.vault import CitizenKeyDestroyed
from consent_service.errors import InvalidInput, NotFound, RuleRefusal
from consent_service.web import viewer
from consent_service.web.admission import run_admitted
from consent_service.web.deps import AccessDenied
from consent_service.web.templating import page
from consent_service.web.viewer import Viewer

log = structlog.get_logger()

DANISH_STATUS = {
    400: "Ugyldig forespørgsel",
    401: "Du er ikke logget ind",
    403: "Du har ikke adgang",
    404: "Siden findes ikke",
    405: "Handlingen er ikke tilladt",
    409: "Handlingen er afvist",
    413: "Filen er for stor",
    415: "Filtypen understøttes ikke",
    422: "Oplysningerne kunne ikke behandles",
    429: "For mange forsøg",
    500: "Der opstod en fejl",
    503: "Der er travlt lige nu",
}

# What happened, in plain Danish, when Starlette raises a status with its English default
# ``detail`` ("Not Found", "Method Not Allowed"); the service's own details are Danish.
DANISH_MESSAGE = {
    400: "Forespørgslen kunne ikke forstås. Gå tilbage og prøv igen.",
    401: "Log ind for at se siden.",
    403: "Du har ikke adgang til denne side eller handling.",
    404: "Siden findes ikke. Tjek adressen, eller vælg en side i menuen.",
    405: "Siden kan ikke bruges på den måde. Gå tilbage og prøv igen.",
    409: "Handlingen kunne ikke gennemføres. Genindlæs siden og prøv igen.",
    413: "Det sendte er for stort. Vælg en mindre fil.",
    415: "Filtypen understøttes ikke. Vælg en anden fil.",
    422: "Oplysningerne kunne ikke behandles. Gå tilbage og ret dem.",
    429: "Der har været for mange forsøg. Vent lidt, og prøv igen.",
}
FALLBACK_MESSAGE = "Der opstod en fejl. Prøv igen senere."
_ENGLISH_PHRASES = frozenset(s.phrase for s in HTTPStatus)


def is_api(request: Request) -> bool:
    """Whether the request is a program's (problem+json) rather than a person's (a page)."""
    return request.url.path.startswith("/api/")


def problem(
    request: Request,
    status: int,
    title: str,
    detail: str,
    extra: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An RFC 9457 problem, with the request id (``request_id``) for support."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "request_id": getattr(request.state, "request_id", None),
    }
    body.update(extra or {})
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def error_page(request: Request, status: int, message: str, me: Viewer | None = None) -> Response:
    """The Danish error page: the normal layout, with the menu if the request's person is
    known (``web.viewer``), what happened, and the request id for support."""
    return page(
        request,
        "error.html",
        status_code=status,
        title=DANISH_STATUS.get(status, "Der opstod en fejl"),
        message=message,
        request_id=getattr(request.state, "request_id", None),
        me=me or viewer.current(request),
    )


def _page_message(exc: StarletteHTTPException) -> str:
    """The service's own (Danish) detail, or a Danish text for Starlette's English
    default ("Not Found"); never a server error's detail."""
    status = exc.status_code
    if status >= 500 or exc.detail in _ENGLISH_PHRASES:
        return DANISH_MESSAGE.get(status, FALLBACK_MESSAGE)
    return str(exc.detail)


def _unrouted_page(request: Request) -> bool:
    """An address no route matched (not a missing static file): nobody authenticated."""
    return request.scope.get("route") is None and not request.url.path.startswith("/static/")


def install(app: FastAPI) -> None:
    @app.exception_handler(AccessDenied)
    async def _denied(request: Request, exc: AccessDenied) -> Response:
        if not exc.authenticated:
            if is_api(request):
                return problem(
                    request, 401, "Unauthorized", "Log in with password and TOTP code first."
                )
            target = "/login?udloebet=1" if exc.expired else "/login"
            return RedirectResponse(target, status_code=303)
        if is_api(request):
            return problem(request, 403, "Forbidden", "The access policy does not allow this.")
        return error_page(
            request,
            403,
            "Du har ikke adgang til denne side eller handling. Forsøget er registreret.",
        )

    @app.exception_handler(NotFound)
    @app.exception_handler(CitizenKeyDestroyed)  # a citizen whose key is gone is deleted
    async def _not_found(request: Request, exc: Exception) -> Response:
        if is_api(request):
            return problem(request, 404, "Not found", "No such resource in your organisation.")
        return error_page(request, 404, "Det, du leder efter, findes ikke i din organisation.")

    @app.exception_handler(InvalidInput)
    async def _invalid_input(request: Request, exc: InvalidInput) -> Response:
        if is_api(request):
            return problem(
                request,
                422,
                "Invalid input",
                exc.message,
                {"field": exc.field} if exc.field else None,
            )
        return error_page(request, 400, exc.message)

    @app.exception_handler(RuleRefusal)
    async def _refused(request: Request, exc: RuleRefusal) -> Response:
        if is_api(request):
            return problem(request, 409, "Refused by a rule", exc.message)
        return error_page(request, 409, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if is_api(request):
            return problem(
                request,
                exc.status_code,
                DANISH_STATUS.get(exc.status_code, "Error"),
                str(exc.detail),
                headers=exc.headers,  # e.g. Allow on 405
            )
        me = None
        if exc.status_code == 404 and _unrouted_page(request):
            # No route ran, so nobody authenticated: look the session up, read-only. A
            # database that cannot answer costs the menu, not the page.
            try:
                me = await run_admitted(request, viewer.from_cookie, request)
            except SQLAlchemyError:
                log.warning("no menu on a 404 page: the session lookup failed", exc_info=True)
        return error_page(request, exc.status_code, _page_message(exc), me)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # Field locations and messages only: the refused input may be a CPR number.
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        if is_api(request):
            return problem(
                request,
                422,
                "Invalid request",
                "The request body or parameters are not valid.",
                {"errors": errors},
            )
        return error_page(
            request, 400, "Formularen var ikke udfyldt korrekt. Gå tilbage og prøv igen."
        )

    # Any other exception: web/failsafe.py, the outermost middleware.

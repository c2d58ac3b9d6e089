"""The FastAPI application: middleware, routers, health."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from consent_service.audit.recorder import Actor
from consent_service.citizens.endpoints import router as citizens_router
from consent_service.citizens.referral_endpoints import router as referrer_router
from consent_service.consents.endpoints import router as consents_router
from consent_service.consents.paper_endpoints import router as paper_router
from consent_service.context import AppContext
from consent_service.db import ping
from consent_service.deletion.erasure_endpoints import router as erasure_router
from consent_service.extracts.coverage_endpoints import router as coverage_router
from consent_service.extracts.endpoints import router as extracts_router
from consent_service.extracts.verification_endpoints import router as extract_verify_router
from consent_service.identity.account_endpoints import router as account_router
from consent_service.identity.login_endpoints import router as login_router
from consent_service.identity.organisation_endpoints import router as organisations_router
from consent_service.identity.proposal_endpoints import router as proposals_router
from consent_service.identity.token_endpoints import router as api_tokens_router
from consent_service.identity.user_endpoints import router as users_router
from consent_service.jobs.endpoints import router as jobs_router
from consent_service.oversight.alert_endpoints import router as alerts_router
from consent_service.oversight.endpoints import router as audit_router
from consent_service.oversight.report_endpoints import router as access_report_router
from consent_service.rulebook.endpoints import router as rulebook_router
from consent_service.startup import StartupError, check_database
from consent_service.subject_requests.endpoints import router as subject_requests_router
from consent_service.web import openapi, problems, ratelimit, textguard
from consent_service.web.admission import Admission
from consent_service.web.bodylimit import BodyLimitMiddleware
from consent_service.web.deps import public
from consent_service.web.failsafe import FailSafe
from consent_service.web.pages import router as pages_router
from consent_service.web.textguard import TextGuard
from consent_service.wellbeing.endpoints import router as wellbeing_router

log = structlog.get_logger()

ROUTERS = (
    login_router,
    users_router,
    api_tokens_router,
    account_router,
    proposals_router,
    organisations_router,
    pages_router,
    citizens_router,
    referrer_router,
    consents_router,
    audit_router,
    alerts_router,
    access_report_router,
    jobs_router,
    coverage_router,  # before extracts_router: /udtraek/daekning is not /udtraek/{public_id}
    extract_verify_router,  # before extracts_router: /udtraek/verificer is no request id
    extracts_router,
    wellbeing_router,
    paper_router,
    erasure_router,
    rulebook_router,
    subject_requests_router,
)

# The design system's stylesheet, fonts, icons and script are served from /static; no
# inline script or style, nothing from another origin.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def client_address(request: Request, trusted_proxies: list[str]) -> str | None:
    peer = request.client.host if request.client else None
    if peer and peer in trusted_proxies:
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        for hop in reversed(hops):
            if hop not in trusted_proxies:
                try:
                    return str(ip_address(hop))
                except ValueError:
                    return peer
    return peer


def create_app(ctx: AppContext) -> FastAPI:
    app = FastAPI(
        title="consent-service",
        description="Consents, MFA, audit and extract gating for Sociale henvisninger Norddjurs",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below, at a stable address: web/openapi.py
    )
    app.openapi = lambda: openapi.describe(app)  # type: ignore[method-assign]
    app.state.ctx = ctx
    app.state.admission = Admission(ctx.settings.db_concurrency)
    # Middleware added later wraps what was added before. Inside request_context (it has
    # the request id): TextGuard, and around it the body limit (size is checked first; its
    # own receive must not run in request_context's task group, which would wrap the 413
    # in an exception group). FailSafe, added last, is outside everything.
    app.add_middleware(TextGuard)
    app.add_middleware(BodyLimitMiddleware, default_limit=ctx.settings.max_body_bytes)

    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = uuid.uuid4().hex
        request.state.request_id = request_id
        source = client_address(request, ctx.settings.trusted_proxies)
        request.state.actor = Actor(request_id=request_id, source_ip=source)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        log.info(
            "request",
            method=request.method,
            route=getattr(route, "path", "unmatched"),
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        response.headers["X-Request-ID"] = request_id
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        if ctx.settings.cookies_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    app.add_middleware(FailSafe, headers=SECURITY_HEADERS)
    problems.install(app)
    textguard.install(app)
    ratelimit.install(app, ctx)

    @app.get("/healthz", dependencies=[public("liveness probe")])
    def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", dependencies=[public("readiness probe")], response_model=None)
    def readyz() -> JSONResponse:
        """Database reachable, migrations at head, keys loaded and matching the database."""
        try:
            ping(ctx.engine)
            check_database(ctx.engine, ctx.crypto)
        except StartupError as exc:
            log.warning("not ready", reason=str(exc))
            return JSONResponse({"status": "not ready"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get(
        openapi.DESCRIPTION_PATH,
        dependencies=[public("the API description: holds no data")],
        include_in_schema=False,
    )
    def api_description() -> dict[str, Any]:
        """The OpenAPI description of the JSON API (public: it holds no data)."""
        return openapi.describe(app)

    for router in ROUTERS:
        app.include_router(router)
    static = StaticFiles(directory=str(Path(__file__).resolve().parent / "web" / "static"))
    app.mount("/static", static, name="static")
    return app

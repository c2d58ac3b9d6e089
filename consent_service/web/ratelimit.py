"""Rate limits per source address and per account (or API token), shared by every process
and host through the database (``limits`` with ``DatabaseStorage``, fixed windows).

Scopes and their keys (limits in ``CONSENT_RATE_LIMITS``, defaults in config):

- ``login`` (POST /login): the user name as typed, unknown ones too, and the address;
- ``code`` (POST /login/kode and /login/tilmeld): the account of the half-finished
  login, and the address;
- ``step_up`` (a fresh code for a weighty action): the user, and the address;
- ``password_reset``: the user (or the user name given), and the address;
- ``referral`` (POST /api/v1/referrals): the API token, and the address.

Use: ``dependencies=[rate_limited("step_up")]`` on a route (it runs before the route's
other dependencies, so before the request's transaction begins; on an authenticated
route the account is the one the route gate found), or ``enforce(request, "login",
account=username)`` in an endpoint before it touches the database. Every attempt counts,
refused ones too. A refusal raises ``RateLimited``: 429 with Retry-After, a Danish page
for people, problem+json on /api/. The first refusal of a key in a window is audited
(``rate_limit.exceeded``), in a transaction of its own; later ones in the same window are
not, so a flood cannot fill the audit log.

The source address is the one the request context derived (``Actor.source_ip``): the
peer, or the nearest untrusted hop of X-Forwarded-For when the peer is one of
``CONSENT_TRUSTED_PROXIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from limits import RateLimitItem, parse
from limits.strategies import FixedWindowRateLimiter

from consent_service.audit.recorder import Actor
from consent_service.context import AppContext
from consent_service.crypto import token_hash
from consent_service.db import autocommit
from consent_service.identity import repository as identity_repo
from consent_service.identity.models import SessionStage
from consent_service.web.admission import run_admitted
from consent_service.web.cookies import SESSION_COOKIE
from consent_service.web.limits_storage import DatabaseStorage, seconds_until
from consent_service.web.problems import error_page, is_api, problem

log = structlog.get_logger()

KEYS_OF_SCOPE: dict[str, tuple[str, ...]] = {
    "login": ("account", "address"),
    "code": ("account", "address"),
    "step_up": ("account", "address"),
    "password_reset": ("account", "address"),
    "referral": ("token", "address"),
}
NO_ADDRESS = "-"  # a request without a known peer address still counts, all together
MESSAGE_DA = (
    "Der har været for mange forsøg. Vent {seconds} sekunder, og prøv så igen. "
    "Forsøgene er registreret."
)


class RateLimited(Exception):
    """A rate limit of ``scope`` is used up; try again after ``retry_after`` seconds."""

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(f"rate limit of {scope} reached")
        self.scope = scope
        self.retry_after = retry_after


class RateLimiter:
    """The service's rate limits over its database; one per application."""

    def __init__(self, ctx: AppContext) -> None:
        self._ctx = ctx
        self.storage = DatabaseStorage(ctx.engine, ctx.clock, ctx.crypto.rate_limit_key)
        self._strategy = FixedWindowRateLimiter(self.storage)
        self._items = {name: parse(value) for name, value in ctx.settings.rate_limits.items()}

    def hit(self, actor: Actor, scope: str, **keys: str | None) -> None:
        """Count one attempt at ``scope`` for each key given (``account=``, ``address=``,
        ``token=``; None = not known, not counted); raise ``RateLimited`` if any of them
        is over its limit."""
        known = KEYS_OF_SCOPE[scope]
        retry_after = 0
        hits: list[tuple[str, RateLimitItem, tuple[str, ...]]] = []
        for kind, value in keys.items():
            if kind not in known:
                raise ValueError(f"rate limit scope {scope} has no key {kind}")
            if value is not None:
                hits.append((kind, self._items[f"{scope}.{kind}"], (scope, kind, value)))
        if not hits:
            return
        # Every key counted in one statement; the count, not whether it is within the
        # limit, so the first refusal (count == amount + 1) is the one audited.
        windows = [
            (item.key_for(*identifiers), item.get_expiry()) for _k, item, identifiers in hits
        ]
        counts = self.storage.incr_many(windows)
        for (kind, item, identifiers), (key, _expiry) in zip(hits, windows, strict=True):
            count = counts[key]
            if count <= item.amount:
                continue
            reset = self._strategy.get_window_stats(item, *identifiers).reset_time
            retry_after = max(retry_after, seconds_until(reset, self._ctx.clock.now()))
            log.info("rate limited", scope=scope, key=kind)
            if count == item.amount + 1:
                self._audit(actor, scope, kind, item)
        if retry_after:
            raise RateLimited(scope, retry_after)

    def _audit(self, actor: Actor, scope: str, kind: str, item: RateLimitItem) -> None:
        with self._ctx.sessions() as session, session.begin():
            self._ctx.audit.record(
                session,
                actor,
                action="rate_limit.exceeded",
                outcome="deny",
                reason=f"{scope} per {kind}",
                details={"scope": scope, "key": kind, "limit": str(item)},
            )


def limiter_of(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


def _actor(request: Request) -> Actor:
    actor: Actor = request.state.actor
    return actor


def enforce(request: Request, scope: str, *, account: str | None = None) -> None:
    """Count this request against ``scope`` for its source address and ``account`` (or,
    on a route the gate authenticated, its user or API token). Call it before the
    request's own transaction touches the database (on SQLite that transaction holds
    the only write lock)."""
    actor = _actor(request)
    address = actor.source_ip or NO_ADDRESS
    edge = getattr(request.state, "edge", None)
    keys: dict[str, str | None] = {"address": address}
    if "token" in KEYS_OF_SCOPE[scope]:
        keys["token"] = str(edge.token_id) if edge is not None and edge.token_id else None
    else:
        if account is None and edge is not None:
            account = f"user:{edge.user_id}"
        keys["account"] = account
    limiter_of(request).hit(actor, scope, **keys)


def rate_limited(scope: str, account: Callable[[Request], str | None] | None = None) -> Any:
    """A route dependency counting each request against ``scope`` (see ``enforce``);
    ``account`` finds the account on a route without a logged-in user."""
    if scope not in KEYS_OF_SCOPE:
        raise ValueError(f"unknown rate limit scope {scope}")

    def count(request: Request) -> None:
        enforce(request, scope, account=account(request) if account else None)

    async def check(request: Request) -> None:
        # Admitted like any database work (web/admission.py); inside the request's own
        # slot if its transaction began first.
        await run_admitted(request, count, request)

    return Depends(check)


def username_account(username: str) -> str:
    """The account key of a user name as typed at login (unknown names too)."""
    return f"name:{username.strip().casefold()}"


def pending_login_account(request: Request) -> str | None:
    """The account of the half-finished login the session cookie names (POST
    /login/kode, and the code confirming a new authenticator), looked up in one statement
    outside any transaction (``db.autocommit``)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    ctx: AppContext = request.app.state.ctx
    with ctx.sessions(bind=autocommit(ctx.engine)) as session, session.begin():
        row = identity_repo.session_by_id(session, token_hash(token))
        if row is None or row.ended_at is not None or row.stage == SessionStage.ACTIVE.value:
            return None
        return f"user:{row.user_id}"


def install(app: FastAPI, ctx: AppContext) -> None:
    """One limiter per application, and the 429 answer."""
    app.state.rate_limiter = RateLimiter(ctx)

    @app.exception_handler(RateLimited)
    async def _limited(request: Request, exc: RateLimited) -> Response:
        headers = {"Retry-After": str(exc.retry_after)}
        if is_api(request):
            response: Response = problem(
                request,
                429,
                "Too many requests",
                f"Too many requests; try again in {exc.retry_after} seconds.",
            )
        else:
            response = error_page(request, 429, MESSAGE_DA.format(seconds=exc.retry_after))
        response.headers.update(headers)
        return response

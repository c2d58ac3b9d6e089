"""The route gate: on a state-changing request, the session (or API token) and the role's
permission are checked before anything reads the body.

FastAPI reads and parses a route's body (and Starlette spools multipart files over 1 MB
to disk) before it solves the route's dependencies, so ``require`` alone would let a
stranger make the server store an upload before getting 401. Every router uses
``GatedRoute``: its handler first sets the route's body budget, then, for a POST, PUT,
PATCH or DELETE on a route that is not public, authenticates the request and checks
that the role may use the route's permission (a refusal is audited like any other), then
refuses a declared body over the budget with 413, and only then lets FastAPI read the
body. The look-up is one statement in autocommit (the session or token joined with its
user: no BEGIN, no COMMIT, no lock held while the body arrives); what it found is handed
to ``require`` (``deps.hand_over``), which checks the role again and the CSRF token in the
request's transaction without looking the session or token up a second time.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from consent_service.db import autocommit
from consent_service.web import bodylimit, viewer
from consent_service.web.admission import run_admitted
from consent_service.web.deps import (
    PUBLIC,
    SAFE_METHODS,
    AccessDenied,
    authenticate,
    context_of,
    declared_permission,
    ensure_role_may,
    hand_over,
    record_denial,
)


@dataclass(frozen=True)
class EdgeIdentity:
    """Who the gate let through (``request.state.edge``): for per-account rate limits."""

    user_id: int
    token_id: int | None


def check_before_body(request: Request, permission: str) -> None:
    """Authenticate and check the role, outside any transaction (``db.autocommit``);
    refusals are recorded (and an expired session ended) like ``require``'s."""
    ctx = context_of(request)
    try:
        with ctx.sessions(bind=autocommit(ctx.engine)) as session, session.begin():
            if not ctx.policy.knows(permission):
                raise RuntimeError(f"route declares unknown permission {permission}")
            found = authenticate(request, ctx, session, permission)
            viewer.remember(request, found.user, found.row)  # a refusal's page keeps the menu
            ensure_role_may(ctx, found.user, found.actor, permission)
    except AccessDenied as denied:
        record_denial(ctx, request, denied)
        raise
    request.state.actor = found.actor
    request.state.edge = EdgeIdentity(found.user.id, found.token_id)
    hand_over(request, permission, found)


class GatedRoute(APIRoute):
    """An ``APIRoute`` whose session and permission are checked before its body is read."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        permission = declared_permission(self.dependant)
        max_bytes = bodylimit.route_limit(self.endpoint)
        gated = permission is not None and permission != PUBLIC

        async def gate(request: Request) -> Response:
            bodylimit.set_route_limit(request.scope, max_bytes)
            if gated and request.method not in SAFE_METHODS:
                await run_admitted(request, check_before_body, request, str(permission))
            bodylimit.refuse_declared_oversize(request.scope)
            return await handler(request)

        return gate

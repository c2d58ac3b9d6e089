"""Dependencies an endpoint's signature is read by: its session, its user, its permission.

``require("perm")`` is the only way a route gets a user: it authenticates the session
(password and TOTP both done), checks CSRF on state-changing requests, asks the policy,
and audits. A refusal raises ``AccessDenied``; the session dependency then rolls the
request back and records the denial in a transaction of its own.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from anyio import CancelScope
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from consent_service.access.policy import AccessRequest, Decision
from consent_service.audit.recorder import Actor
from consent_service.context import AppContext
from consent_service.errors import ProbeNotFound, StepUpFailed
from consent_service.identity import sessions, stepup, tokens
from consent_service.identity.models import User, UserSession
from consent_service.web import viewer
from consent_service.web.admission import admission_of
from consent_service.web.cookies import CSRF_HEADER, SESSION_COOKIE

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC = "public"
# Conditions every request meets by construction: each organisation-owned resource is
# loaded through its domain's scoped loader, which filters by the acting user's
# organisation (``Principal.organisation_id``) and answers "not found" for another
# organisation's id exactly as for an unknown one. Isolation rests there, in one place
# per kind; the route matrix test tries every route with another organisation's ids.
SCOPE_CONDITIONS = frozenset({"same_organisation"})


OUT_OF_SCOPE_REASON = "condition same_organisation not met"


class InScope:
    """Marks a resource loaded by a scoped loader: it is in the request's organisation."""


IN_SCOPE = InScope()


class AccessDenied(Exception):
    def __init__(
        self,
        actor: Actor,
        permission: str,
        reason: str,
        *,
        authenticated: bool,
        expired_session_id: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.actor = actor
        self.permission = permission
        self.reason = reason
        self.authenticated = authenticated
        self.expired_session_id = expired_session_id

    @property
    def expired(self) -> bool:
        return self.expired_session_id is not None


class CsrfFailed(AccessDenied):
    pass


def context_of(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def get_ctx(request: Request) -> AppContext:
    """The dependency (a coroutine: it needs no trip to the thread pool)."""
    return context_of(request)


Ctx = Annotated[AppContext, Depends(get_ctx)]


def request_actor(request: Request) -> Actor:
    actor: Actor = request.state.actor
    return actor


async def get_session(request: Request, ctx: Ctx) -> AsyncIterator[Session]:
    """One transaction per request, committed after the endpoint returns and before the
    response is sent; rolled back on any exception. Denials are recorded afterwards, alone.
    Admitted (``web/admission.py``): a database slot is held until the session closes; the
    end runs in one thread trip, shielded so a client that leaves cannot leave it open."""
    async with admission_of(request).slot(request):
        session = ctx.sessions()
        request.state.pending_conditions = []
        try:
            yield session
            unchecked = request.state.pending_conditions
            if unchecked:
                raise RuntimeError(f"conditional permission {unchecked[0]} was never checked")
        except BaseException as exc:
            with CancelScope(shield=True):
                await run_in_threadpool(_end_failed, ctx, request, session, exc)
            raise
        with CancelScope(shield=True):
            await run_in_threadpool(_commit, session)


def _commit(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _end_failed(ctx: AppContext, request: Request, session: Session, exc: BaseException) -> None:
    """Roll back, then record what must outlive the request, alone: a refusal, a probe
    of another organisation (in that organisation's log), a wrong step-up code."""
    session.rollback()
    session.close()
    if isinstance(exc, AccessDenied):
        record_denial(ctx, request, exc)
    elif isinstance(exc, ProbeNotFound):
        # Answered as not found; recorded alone in the log of the organisation probed.
        with ctx.sessions() as alone, alone.begin():
            ctx.audit.record(
                alone,
                request_actor(request),
                action=exc.action,
                outcome="deny",
                resource_type=exc.resource_type,
                resource_id=exc.resource_id,
                reason=exc.reason,
                details=exc.details,
                organisation_id=exc.organisation_id,
            )
    elif isinstance(exc, StepUpFailed):
        # Like a denial: the wrong code outlives the rolled-back action.
        with ctx.sessions() as alone, alone.begin():
            stepup.record_step_up_failure(alone, ctx.identity, request.state.actor, exc)


def record_denial(ctx: AppContext, request: Request, denied: AccessDenied) -> None:
    """The refusal outlives the rolled-back request: its own short transaction."""
    with ctx.sessions() as alone, alone.begin():
        if denied.expired_session_id:
            sessions.end_session(alone, ctx.identity, denied.expired_session_id, denied.reason)
        ctx.audit.record(
            alone,
            denied.actor,
            action="access.denied" if denied.authenticated else "access.unauthenticated",
            outcome="deny",
            reason=denied.reason[:200],
            details={
                "permission": denied.permission,
                "path": request.url.path,
                "method": request.method,
            },
        )


DbSession = Annotated[Session, Depends(get_session, scope="function")]


@dataclass
class Principal:
    """The authenticated, MFA-complete user of this request and the permission it used."""

    user: User
    session_row: UserSession | None
    actor: Actor
    permission: str
    _ctx: AppContext
    _request: Request
    _conditions: tuple[str, ...] = field(default=())

    def _decide(
        self,
        permission: str,
        resource_organisation_id: int | None,
        resource_user_id: int | None = None,
    ) -> Decision:
        if not self._ctx.policy.knows(permission):
            raise RuntimeError(f"code asks for unknown permission {permission}")
        return self._ctx.policy.decide(
            AccessRequest(
                user_id=self.user.id,
                role=self.user.role,
                organisation_id=self.user.organisation_id,
                permission=permission,
                resource_organisation_id=resource_organisation_id,
                resource_user_id=resource_user_id,
            )
        )

    @property
    def organisation_id(self) -> int:
        """The one organisation this request may touch: scoped loaders filter by it."""
        return self.user.organisation_id

    def ensure(
        self,
        *,
        resource_organisation_id: int | InScope | None = IN_SCOPE,
        resource_user_id: int | None = None,
    ) -> None:
        """Check the permission's conditions against a loaded resource (``not_self``, or an
        organisation the request names itself); denies if they fail. Not needed for
        ``same_organisation`` alone: the scoped loaders already filter by organisation, so
        a resource they loaded is in the request's organisation (the default)."""
        organisation_id = (
            self.organisation_id
            if isinstance(resource_organisation_id, InScope)
            else resource_organisation_id
        )
        decision = self._decide(self.permission, organisation_id, resource_user_id)
        pending: list[str] = self._request.state.pending_conditions
        if self.permission in pending:
            pending.remove(self.permission)
        if not decision.allowed:
            raise AccessDenied(self.actor, self.permission, decision.reason, authenticated=True)

    def out_of_scope(self) -> AccessDenied:
        """The refusal for an id a scoped loader did not find, on a route that answers a
        denial rather than "not found": another organisation's id and an unknown id get
        this same audited answer (the policy's own words for an unmet organisation)."""
        return AccessDenied(self.actor, self.permission, OUT_OF_SCOPE_REASON, authenticated=True)

    def may(self, permission: str, *, resource_user_id: int | None = None) -> bool:
        """Whether the policy lets this user do ``permission`` to a resource of their own
        organisation (``resource_user_id``: the user it concerns, for ``not_self``): for a
        page that offers an action only where it would be allowed. Decides only."""
        return self._decide(permission, self.organisation_id, resource_user_id).allowed

    def holds(self, permission: str, *, resource_organisation_id: int | None = None) -> bool:
        """Whether the policy also grants this user ``permission`` on a resource of that
        organisation: for a page that shows more to some (e.g. system-wide alerts). Decides
        only; a route still declares and ``ensure``s its own permission."""
        return self._decide(permission, resource_organisation_id).allowed

    def ensure_also(self, permission: str, *, resource_organisation_id: int | None = None) -> None:
        """Deny, audited like any refusal, unless the policy also grants this user
        ``permission`` on a resource of that organisation: for an action that needs a
        second permission besides the route's own."""
        decision = self._decide(permission, resource_organisation_id)
        if not decision.allowed:
            raise AccessDenied(self.actor, permission, decision.reason, authenticated=True)

    @property
    def csrf_token(self) -> str:
        return self.session_row.csrf_token if self.session_row else ""


async def _submitted_csrf(request: Request) -> str | None:
    if request.method in SAFE_METHODS:
        return None
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    return None


SubmittedCsrf = Annotated[str | None, Depends(_submitted_csrf)]


def _token_user(
    request: Request,
    ctx: AppContext,
    session: Session,
    actor: Actor,
    permission: str,
    bearer: str,
) -> tuple[User, int]:
    """A system client with a scoped API token: only on the JSON API, only its scopes.
    Tokens stand in for a person's login, so they are issued by an administrator (who
    logged in with TOTP), expire, and are audited on every use like a session."""
    if not request.url.path.startswith("/api/"):
        raise AccessDenied(actor, permission, "API token outside the API", authenticated=False)
    found = tokens.api_token_user(session, ctx.identity, bearer.strip())
    if found.user is None or found.token is None:
        raise AccessDenied(actor, permission, found.reason, authenticated=False)
    if permission not in found.token.scopes.split():
        who = actor.as_user(found.user.id, found.user.username, found.user.organisation_id)
        raise AccessDenied(who, permission, "token scope lacks the permission", authenticated=True)
    return found.user, found.token.id


@dataclass
class Authenticated:
    """Who a request's session cookie or API token names, before any permission."""

    user: User
    row: UserSession | None
    token_id: int | None
    actor: Actor


def authenticate(
    request: Request, ctx: AppContext, session: Session, permission: str
) -> Authenticated:
    """The user of the request's bearer token (API) or session cookie (pages); refuses
    with ``AccessDenied`` if there is none. Reads no request body."""
    actor = request_actor(request)
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        user, token_id = _token_user(request, ctx, session, actor, permission, authorization[7:])
        return Authenticated(
            user, None, token_id, actor.as_user(user.id, user.username, user.organisation_id)
        )
    lookup = sessions.active_session(session, ctx.identity, request.cookies.get(SESSION_COOKIE))
    if lookup.row is None or lookup.user is None:
        raise AccessDenied(
            actor,
            permission,
            lookup.expired_reason or "not authenticated",
            authenticated=False,
            expired_session_id=lookup.expired_id,
        )
    user = lookup.user
    return Authenticated(
        user, lookup.row, None, actor.as_user(user.id, user.username, user.organisation_id)
    )


def hand_over(request: Request, permission: str, found: Authenticated) -> None:
    """The route gate's authentication, for ``require`` of the same permission: the token
    or session is looked up once per request, before the body is read."""
    request.state.authenticated = (permission, found)


def _handed_over(request: Request, session: Session, permission: str) -> Authenticated | None:
    """What the gate found for ``permission``, its rows attached to the request's session
    (no query: ``merge`` without loading); None where the gate did not run."""
    handed: tuple[str, Authenticated] | None = getattr(request.state, "authenticated", None)
    if handed is None or handed[0] != permission:
        return None
    found = handed[1]
    user = session.merge(found.user, load=False)
    row = session.merge(found.row, load=False) if found.row is not None else None
    return Authenticated(user, row, found.token_id, found.actor)


def ensure_role_may(ctx: AppContext, user: User, actor: Actor, permission: str) -> None:
    """Refuse unless the user's role holds ``permission`` at all (conditions aside)."""
    if not ctx.policy.role_may(user.role, permission):
        role_request = AccessRequest(
            user_id=user.id,
            role=user.role,
            organisation_id=user.organisation_id,
            permission=permission,
        )
        raise AccessDenied(
            actor, permission, ctx.policy.decide(role_request).reason, authenticated=True
        )


def require(permission: str) -> Any:
    """A dependency granting ``permission`` to an MFA-complete user, or refusing.

    On a state-changing request the session (or token) and the role were already checked
    before the body was read (``consent_service.web.gate``), which hands what it found over
    (``hand_over``): the session or token is looked up once per request. The role is
    checked again here, with the CSRF token (header first, then the form field). Where no
    gate ran (a GET), the session and its user are read here, in one query."""

    def check(request: Request, ctx: Ctx, session: DbSession, csrf: SubmittedCsrf) -> Principal:
        if not ctx.policy.knows(permission):
            raise RuntimeError(f"route declares unknown permission {permission}")
        found = _handed_over(request, session, permission) or authenticate(
            request, ctx, session, permission
        )
        user, row, actor = found.user, found.row, found.actor
        viewer.remember(request, user, row)  # the error page's menu, should one follow
        if (
            row is not None
            and request.method not in SAFE_METHODS
            and (csrf is None or not hmac.compare_digest(csrf, row.csrf_token))
        ):
            raise CsrfFailed(actor, permission, "CSRF token missing or wrong", authenticated=True)
        request.state.actor = actor
        ensure_role_may(ctx, user, actor, permission)
        conditions = ctx.policy.conditions_of(user.role, permission)
        if any(c not in SCOPE_CONDITIONS for c in conditions):
            # A condition about one resource (not_self): the route must ``ensure`` it.
            request.state.pending_conditions.append(permission)
        if ctx.policy.is_personal_data(permission):
            ctx.audit.record(
                session,
                actor,
                action="access.allowed",
                outcome="allow",
                details={"permission": permission, "path": request.url.path},
            )
        return Principal(user, row, actor, permission, ctx, request, conditions)

    check.__permission__ = permission  # type: ignore[attr-defined]
    return Depends(check)


def public(reason: str) -> Any:
    """Marks a route as reachable without login (login flow, health, static)."""

    async def allow() -> None:
        return None

    allow.__permission__ = PUBLIC  # type: ignore[attr-defined]
    allow.__public_reason__ = reason  # type: ignore[attr-defined]
    return Depends(allow)


def declared_permission(dependant: Any) -> str | None:
    """The permission a route declares, found among its dependencies."""
    for dep in dependant.dependencies:
        call: Callable[..., Any] | None = dep.call
        perm = getattr(call, "__permission__", None)
        if perm:
            return str(perm)
        found = declared_permission(dep)
        if found:
            return found
    return None


def iter_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(full path, route) of every route, looking into included routers (newer FastAPI
    keeps those as lazy wrappers holding the original router)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            include = route.include_context
            if include.dependencies:
                raise RuntimeError("router-level dependencies are not used in this service")
            yield from iter_routes(inner.routes, prefix + include.prefix)
        else:
            yield prefix + getattr(route, "path", ""), route

"""HTTP for the administrator's user pages (create, change, deactivate, unlock) and the
API's own-account read. HTTP only: the decisions are in ``identity.users`` and, where
two people are needed, ``identity.proposals``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from consent_service.identity import proposals
from consent_service.identity import users as user_admin
from consent_service.identity.errors import UserInputError
from consent_service.identity.models import Role
from consent_service.identity.schemas import AccountRead
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.gate import GatedRoute
from consent_service.web.scope import user_in_scope
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _users_page(
    request: Request,
    session: DbSession,
    me: Principal,
    *,
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    """The organisation's users, with the form's error if an action was refused."""
    return page(
        request,
        "users.html",
        status_code=status_code,
        me=me,
        users=user_admin.users_of(session, me.organisation_id),
        roles=[r.value for r in Role],
        now=request.app.state.ctx.clock.now(),
        error=error,
    )


@router.get("/admin/brugere", response_class=HTMLResponse)
def users_page(
    request: Request, session: DbSession, me: Annotated[Principal, require("users:read")]
) -> Response:
    return _users_page(request, session, me)


@router.post("/admin/brugere", response_class=HTMLResponse)
def create_user(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("users:create")],
    username: Annotated[str, Form(max_length=64)],
    display_name: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=32)],
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        if proposals.needs_two_people(ctx.policy, role):
            # Two people: a data controller approves; the password never reaches this page.
            proposals.propose_user(
                session, ctx.identity, me.actor, me.user,
                username=username, display_name=display_name, role=role, reason=reason,
            )  # fmt: skip
            return _redirect("/godkendelser/adgang")
        user, password = user_admin.create_user(
            session,
            ctx.identity,
            me.actor,
            organisation_id=me.organisation_id,
            username=username,
            display_name=display_name,
            role=role,
        )
    except UserInputError as exc:
        return _users_page(request, session, me, status_code=400, error=str(exc))
    return page(request, "user_created.html", me=me, user=user, password=password)


@router.post("/admin/brugere/{user_id}/aendr", response_class=HTMLResponse)
def change_user(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("users:change")],
    user_id: int,
    reason: Annotated[str, Form(max_length=500)],
    role: Annotated[str | None, Form(max_length=32)] = None,
    active: Annotated[bool | None, Form()] = None,
) -> Response:
    """Change a user's role, or deactivate/reactivate them; never one's own account."""
    target = user_in_scope(session, me, user_id)
    try:
        if role and role != target.role and proposals.needs_two_people(ctx.policy, role):
            # Two people: a data controller approves the new role before it takes effect.
            proposals.propose_role(
                session, ctx.identity, me.actor, me.user, target, role=role, reason=reason
            )
            return _redirect("/godkendelser/adgang")
        user_admin.change_user(
            session, ctx.identity, me.actor, target, reason=reason, role=role or None, active=active
        )
    except UserInputError as exc:
        return _users_page(request, session, me, status_code=400, error=str(exc))
    return _redirect("/admin/brugere")


@router.post("/admin/brugere/{user_id}/laas-op", response_class=HTMLResponse)
def unlock_user(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("users:unlock")],
    user_id: int,
    reason: Annotated[str, Form(max_length=500)],
) -> Response:
    target = user_in_scope(session, me, user_id)
    try:
        user_admin.unlock_user(session, ctx.identity, me.actor, target, reason)
    except UserInputError as exc:
        return _users_page(request, session, me, status_code=400, error=str(exc))
    return _redirect("/admin/brugere")


@router.get("/api/v1/me", response_model=AccountRead)
def api_me(me: Annotated[Principal, require("account:read")]) -> AccountRead:
    """The calling user's own account."""
    return AccountRead(
        username=me.user.username,
        display_name=me.user.display_name,
        role=me.user.role,
        organisation_id=me.organisation_id,
    )

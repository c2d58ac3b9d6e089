"""HTTP for the administrator's user pages (create, change, deactivate, unlock) and the
API's own-account read. HTTP only: the decisions are in ``identity.users`` and, where
two people are needed, ``identity.proposals``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.identity import proposals
from consent_service.identity import users as user_admin
from consent_service.identity.errors import UserInputError
from consent_service.identity.schemas import AccountRead
from consent_service.web import notices
from consent_service.web.account_forms import (
    NEW_FORM,
    USERS,
    row_form,
    users_context,
    users_page_failed,
)
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import Confirmation, FormState, confirmation, is_confirmed
from consent_service.web.gate import GatedRoute
from consent_service.web.scope import user_in_scope
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)


@router.get(USERS, response_class=HTMLResponse)
def users_page(
    request: Request, session: DbSession, me: Annotated[Principal, require("users:read")]
) -> Response:
    return page(request, "users.html", **users_context(session, me, request))


@router.post(USERS, response_class=HTMLResponse)
def create_user(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("users:create")],
    username: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    form = FormState.of(
        prefix=NEW_FORM, username=username, display_name=display_name, role=role, reason=reason
    )
    try:
        if proposals.needs_two_people(ctx.policy, role):
            # Two people: a data controller approves; the password never reaches this page.
            proposals.propose_user(
                session, ctx.identity, me.actor, me.user,
                username=username, display_name=display_name, role=role, reason=reason,
            )  # fmt: skip
            return notices.redirect("/godkendelser/adgang", "proposal-made")
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
        return users_page_failed(request, session, me, form, exc)
    return page(request, "user_created.html", me=me, user=user, password=password)


@router.post("/admin/brugere/{user_id}/aendr", response_class=HTMLResponse)
def change_user(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("users:change")],
    user_id: int,
    reason: Annotated[str, Form(max_length=500)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    active: Annotated[str, Form(max_length=8)] = "",
    confirmed: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Change a user's role, or deactivate/reactivate them; never one's own account. A
    deactivation asks for confirmation first (it ends the user's sessions)."""
    target = user_in_scope(session, me, user_id)
    activate = {"true": True, "false": False}.get(active)
    form = FormState.of(
        prefix=row_form("status" if activate is not None else "role", target.id),
        reason=reason,
        role=role,
    )
    if activate is False and not is_confirmed(confirmed):
        return confirmation(
            request,
            me,
            Confirmation(
                title=f"Deaktivér {target.display_name}?",
                lines=(
                    f"{target.display_name} ({target.username}) kan ikke længere logge ind, "
                    "og personens aktive sessioner slutter med det samme.",
                    f"Begrundelse: {reason.strip() or '(ingen)'}",
                    "Brugeren kan genaktiveres senere, med en begrundelse.",
                ),
                action=f"{USERS}/{target.id}/aendr",
                fields={"active": "false", "reason": reason},
                button="Deaktivér brugeren",
                cancel_href=USERS,
            ),
        )
    try:
        if role and role != target.role and proposals.needs_two_people(ctx.policy, role):
            # Two people: a data controller approves the new role before it takes effect.
            proposals.propose_role(
                session, ctx.identity, me.actor, me.user, target, role=role, reason=reason
            )
            return notices.redirect("/godkendelser/adgang", "proposal-made")
        user_admin.change_user(
            session, ctx.identity, me.actor, target,
            reason=reason, role=role or None, active=activate,
        )  # fmt: skip
    except UserInputError as exc:
        return users_page_failed(request, session, me, form, exc)
    return notices.redirect(USERS, "user-changed")


@router.post("/admin/brugere/{user_id}/laas-op", response_class=HTMLResponse)
def unlock_user(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("users:unlock")],
    user_id: int,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    target = user_in_scope(session, me, user_id)
    form = FormState.of(prefix=row_form("unlock", target.id), reason=reason)
    try:
        user_admin.unlock_user(session, ctx.identity, me.actor, target, reason)
    except UserInputError as exc:
        return users_page_failed(request, session, me, form, exc)
    return notices.redirect(USERS, "user-unlocked")


@router.get("/api/v1/me", response_model=AccountRead)
def api_me(me: Annotated[Principal, require("account:read")]) -> AccountRead:
    """The calling user's own account."""
    return AccountRead(
        username=me.user.username,
        display_name=me.user.display_name,
        role=me.user.role,
        organisation_id=me.organisation_id,
    )

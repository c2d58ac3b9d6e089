"""HTTP for the administrator's user pages (create, change, deactivate, unlock) and the
API's own-account read. HTTP only: the decisions are in ``identity.users`` and, where
two people are needed, ``identity.proposals``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.identity import proposals
from consent_service.identity import users as user_admin
from consent_service.identity.errors import UserInputError
from consent_service.identity.models import User
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
from consent_service.web.ratelimit import rate_limited
from consent_service.web.scope import organisation_id_from, organisation_in_scope, user_in_scope
from consent_service.web.stepup_form import code_accepted
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)


ROLE_STEP_UP = "role_change"


@router.get(USERS, response_class=HTMLResponse)
def users_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("users:read")],
    organisation: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """One's own organisation's users; a system-wide administrator may choose another
    (``?organisation=<id>``) to see its users and create users in it."""
    org = None
    if organisation.strip():
        org = organisation_in_scope(session, ctx.settings, me, organisation_id_from(organisation))
    return page(request, "users.html", **users_context(session, me, request, org))


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
    organisation: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Create a user, or propose one where the role can read citizens' data (a data
    controller of the user's organisation decides). The organisation is one's own unless
    a system-wide administrator chose another; anyone else naming another organisation
    (or an unknown one) gets the one audited denial, and nothing is made."""
    org_id = organisation_id_from(organisation) if organisation.strip() else me.organisation_id
    org = organisation_in_scope(session, ctx.settings, me, org_id)
    form = FormState.of(
        prefix=NEW_FORM, username=username, display_name=display_name, role=role, reason=reason,
        organisation=org.id,
    )  # fmt: skip
    try:
        if proposals.needs_two_people(ctx.policy, role):
            # Two people: a data controller approves; the password never reaches this page.
            proposals.propose_user(
                session, ctx.identity, me.actor, me.user,
                username=username, display_name=display_name, role=role, reason=reason,
                organisation_id=org.id,
            )  # fmt: skip
            return notices.redirect("/godkendelser/adgang", "proposal-made")
        user, password = user_admin.create_user(
            session,
            ctx.identity,
            me.actor,
            organisation_id=org.id,
            username=username,
            display_name=display_name,
            role=role,
        )
    except UserInputError as exc:
        return users_page_failed(request, session, me, form, exc, org)
    return page(request, "user_created.html", me=me, user=user, password=password, organisation=org)


def _role_page(
    request: Request,
    me: Principal,
    target: User,
    form: FormState,
    *,
    two_people: bool,
    status_code: int = 200,
) -> Response:
    """The confirmation step of a role change: what will happen, and the fresh code."""
    return page(
        request,
        "admin_role_change.html",
        status_code=status_code,
        me=me,
        target=target,
        form=form,
        two_people=two_people,
    )


@router.post(
    USERS + "/{user_id}/rolle",
    dependencies=[rate_limited("step_up")],
    response_class=HTMLResponse,
)
def change_role(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("users:change")],
    user_id: int,
    role: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=200)] = "",
    code: Annotated[str, Form(max_length=12)] = "",
    confirmed: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Change a user's role: a reason, then a confirmation page asking for a fresh code
    (step-up; a wrong one counts toward the lockout like every step-up). A role that can
    read citizens' data is then only proposed: a data controller approves it."""
    target = user_in_scope(session, me, user_id)
    form = FormState.of(prefix=row_form("role", target.id), role=role, reason=reason)
    try:
        user_admin.check_role_change(target, role=role, reason=reason)
    except UserInputError as exc:
        return users_page_failed(request, session, me, form, exc)
    two_people = proposals.needs_two_people(ctx.policy, role)
    step = FormState.of(prefix="step-", role=role, reason=reason)
    if not is_confirmed(confirmed):
        return _role_page(request, me, target, step, two_people=two_people)
    if not code_accepted(session, ctx.identity, me, code, purpose=ROLE_STEP_UP, form=step):
        return _role_page(request, me, target, step, two_people=two_people, status_code=400)
    try:
        if two_people:
            # Two people: a data controller approves the new role before it takes effect.
            proposals.propose_role(
                session, ctx.identity, me.actor, me.user, target, role=role, reason=reason
            )
            return notices.redirect("/godkendelser/adgang", "proposal-made")
        user_admin.change_user(session, ctx.identity, me.actor, target, reason=reason, role=role)
    except UserInputError as exc:
        return users_page_failed(request, session, me, form, exc)
    return notices.redirect(USERS, "role-changed")


@router.post("/admin/brugere/{user_id}/aendr", response_class=HTMLResponse)
def change_user(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("users:change")],
    user_id: int,
    reason: Annotated[str, Form(max_length=500)] = "",
    active: Annotated[str, Form(max_length=8)] = "",
    confirmed: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Deactivate or reactivate a user, with a reason; never one's own account. A
    deactivation asks for confirmation first (it ends the user's sessions). A role is
    changed with a fresh code (``change_role``), not here."""
    target = user_in_scope(session, me, user_id)
    activate = {"true": True, "false": False}.get(active)
    form = FormState.of(prefix=row_form("status", target.id), reason=reason)
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
        if activate is None:
            raise UserInputError("Vælg om brugeren skal deaktiveres eller genaktiveres.")
        user_admin.change_user(
            session, ctx.identity, me.actor, target, reason=reason, active=activate
        )
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

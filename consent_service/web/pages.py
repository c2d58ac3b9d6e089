"""Home pages per role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.clock import legal_today
from consent_service.rulebook import service as rulebook
from consent_service.subject_requests import service as subject_requests
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.gate import GatedRoute
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("home:view")],
) -> Response:
    policy = ctx.policy
    # Who reads the rulebook (the DPO, the data controllers, the legal adviser) learns on
    # the home page when it has changed since the legal adviser's sign-off, or has none.
    rulebook_state = None
    if policy.role_may(me.user.role, "rulebook:read"):
        signed, changed = rulebook.lapse_state(session, ctx.settings.rules_root)
        rulebook_state = "changed" if changed else ("signed" if signed else "unsigned")
    return page(
        request,
        "home.html",
        me=me,
        can_manage_users=policy.role_may(me.user.role, "users:read"),
        rulebook_state=rulebook_state,
        requests_due=(
            subject_requests.due_soon_count(session, me.organisation_id, legal_today(ctx.clock))
            if policy.role_may(me.user.role, "requests:read")
            else None
        ),
    )

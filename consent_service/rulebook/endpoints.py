"""The Regelsamling pages: every Danish scenario by the law it implements, with the rule
files it rests on and what changed since the legal adviser's sign-off (read by the legal
adviser, the DPO and the data controllers), and the sign-off itself (the legal adviser,
with a comment and a fresh code)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.errors import InvalidInput
from consent_service.rulebook import service
from consent_service.web import notices
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import FormState, failed
from consent_service.web.gate import GatedRoute
from consent_service.web.ratelimit import rate_limited
from consent_service.web.stepup_form import code_accepted
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)

TEMPLATE = "rulebook_index.html"
STEP_UP_PURPOSE = "rulebook_approval"


def _page(
    request: Request, ctx: Ctx, session: DbSession, me: Principal, form: FormState | None = None
) -> Response:
    view = service.rulebook_view(session, ctx.settings.rules_root)
    may_approve = me.may("rulebook:approve")
    if form is not None:
        return failed(request, TEMPLATE, form, me=me, view=view, may_approve=may_approve)
    return page(request, TEMPLATE, form=FormState.of(), me=me, view=view, may_approve=may_approve)


@router.get("/regelsamling", response_class=HTMLResponse)
def rulebook_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("rulebook:read")],
) -> Response:
    return _page(request, ctx, session, me)


@router.post(
    "/regelsamling/godkend",
    dependencies=[rate_limited("step_up")],
    response_class=HTMLResponse,
)
def approve(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("rulebook:approve")],
    code: Annotated[str, Form(max_length=12)] = "",
    comment: Annotated[str, Form(max_length=service.MAX_COMMENT)] = "",
) -> Response:
    """Sign off with a comment and a fresh code: a missing comment is named before the code
    is used; a wrong or replayed code keeps the page (400) and counts toward the lock."""
    form = FormState.of(comment=comment)
    if not comment.strip():
        form.add("comment", "Skriv en kommentar til godkendelsen.")
        return _page(request, ctx, session, me, form)
    if not code_accepted(session, ctx.deps, me, code, purpose=STEP_UP_PURPOSE, form=form):
        return _page(request, ctx, session, me, form)
    try:
        service.approve(
            session, ctx.deps, me.actor, me.user.id, me.organisation_id,
            ctx.settings.rules_root, comment,
        )  # fmt: skip
    except InvalidInput as exc:
        return _page(request, ctx, session, me, form.fail(exc, "comment"))
    return notices.redirect("/regelsamling", "rulebook-approved")

"""HTTP for one's own account (/konto): change the password, make new recovery codes.
HTTP only: the decisions are in ``identity.account``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from consent_service.errors import StepUpFailed
from consent_service.identity import account, stepup
from consent_service.identity.errors import PasswordRejected
from consent_service.web.account_forms import password_refused
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.formstate import FormState
from consent_service.web.gate import GatedRoute
from consent_service.web.ratelimit import rate_limited
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)

ACCOUNT = "/konto"
MANAGE = "account:manage"
# The page's two forms, each with its own ids (web/forms.py).
CHANGE_FORM = "password-"
CODES_FORM = "codes-"


def _account_page(
    request: Request, ctx: Ctx, me: Principal, status_code: int = 200, **extra: Any
) -> Response:
    return page(
        request,
        "account.html",
        status_code=status_code,
        me=me,
        min_length=ctx.settings.password_min_length,
        **extra,
    )


@router.get(ACCOUNT, response_class=HTMLResponse)
def account_page(
    request: Request, ctx: Ctx, me: Annotated[Principal, require(MANAGE)], skiftet: int = 0
) -> Response:
    return _account_page(
        request, ctx, me, notice="Din adgangskode er skiftet." if skiftet else None
    )


@router.post(
    ACCOUNT + "/adgangskode",
    dependencies=[rate_limited("step_up")],
    response_class=HTMLResponse,
)
def change_password(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require(MANAGE)],
    current_password: Annotated[str, Form(max_length=1024)] = "",
    new_password: Annotated[str, Form(max_length=1024)] = "",
    repeat_password: Annotated[str, Form(max_length=1024)] = "",
    code: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    if me.session_row is None:  # an API token has no password to change here
        raise RuntimeError("unreachable: account pages need a login session")
    try:
        account.change_own_password(
            session, ctx.identity, me.actor, me.user, me.session_row,
            current=current_password, new=new_password, repeat=repeat_password, code=code,
        )  # fmt: skip
    except StepUpFailed as failed:
        # Nothing was changed before the code was checked: only the failure is kept.
        stepup.record_step_up_failure(session, ctx.identity, me.actor, failed)
        form = FormState(prefix=CHANGE_FORM).add("code", failed.message)
        return _account_page(request, ctx, me, 400, password_form=form)
    except PasswordRejected as rejected:
        form = password_refused(rejected.problems, prefix=CHANGE_FORM)
        return _account_page(request, ctx, me, 400, password_form=form)
    return RedirectResponse(ACCOUNT + "?skiftet=1", status_code=303)


@router.post(
    ACCOUNT + "/gendannelseskoder",
    dependencies=[rate_limited("step_up")],
    response_class=HTMLResponse,
)
def renew_recovery_codes(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require(MANAGE)],
    code: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    try:
        codes = account.renew_recovery_codes(session, ctx.identity, me.actor, me.user, code=code)
    except StepUpFailed as failed:
        stepup.record_step_up_failure(session, ctx.identity, me.actor, failed)
        form = FormState(prefix=CODES_FORM).add("code", failed.message)
        return _account_page(request, ctx, me, 400, codes_form=form)
    return _account_page(request, ctx, me, codes=codes)

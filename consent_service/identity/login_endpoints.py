"""HTTP for logging in: the password, a forced password change, TOTP enrolment and its
recovery codes, the code, and logging out. HTTP only: the decisions are in
``identity.login`` and ``identity.sessions``."""

from __future__ import annotations

import hmac
from typing import Annotated

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from consent_service.crypto import new_token
from consent_service.identity import login, sessions
from consent_service.identity import totp as totp_mod
from consent_service.identity.errors import LoginFailed, PasswordRejected
from consent_service.identity.models import SessionStage, User, UserSession
from consent_service.web.account_forms import password_refused
from consent_service.web.cookies import PRELOGIN_COOKIE, SESSION_COOKIE
from consent_service.web.deps import Ctx, DbSession, Principal, public, request_actor, require
from consent_service.web.formstate import FormState
from consent_service.web.gate import GatedRoute
from consent_service.web.ratelimit import (
    enforce,
    pending_login_account,
    rate_limited,
    username_account,
)
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)

GENERIC_LOGIN_ERROR = (
    "Login mislykkedes. Kontrollér brugernavn, adgangskode og kode. Er du låst ude, "
    "så vent eller kontakt en administrator."
)
LOGIN_FLOW = public("login flow")


def _refused(name: str, message: str, **typed: str) -> FormState:
    """The login form again with ``message`` beside ``name`` (``""``: the whole form) and
    what was typed kept; a password or code is never sent back."""
    return FormState.of(**typed).add(name, message)


def _set_session_cookie(ctx: Ctx, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        secure=ctx.settings.cookies_secure,
        samesite="strict",
        path="/",
    )


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _next_page(stage: str) -> str:
    return {
        SessionStage.NEEDS_CODE.value: "/login/kode",
        SessionStage.NEEDS_PASSWORD_CHANGE.value: "/login/ny-adgangskode",
        SessionStage.NEEDS_ENROLMENT.value: "/login/tilmeld",
        SessionStage.SHOW_RECOVERY_CODES.value: "/login/gendannelseskoder",
    }.get(stage, "/")


def _pending_csrf_ok(row_csrf: str, submitted: str) -> bool:
    return bool(submitted) and hmac.compare_digest(row_csrf, submitted)


@router.get("/login", dependencies=[LOGIN_FLOW], response_class=HTMLResponse)
def login_form(request: Request, ctx: Ctx, udloebet: int = 0) -> Response:
    token = new_token(24)
    response = page(
        request,
        "login.html",
        csrf_token=token,
        notice="Din session er udløbet. Log ind igen." if udloebet else None,
    )
    response.set_cookie(
        PRELOGIN_COOKIE,
        token,
        max_age=1800,
        httponly=True,
        secure=ctx.settings.cookies_secure,
        samesite="strict",
        path="/login",
    )
    return response


@router.post("/login", dependencies=[LOGIN_FLOW], response_class=HTMLResponse)
def login_submit(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    # Before any argon2 work and before the request's transaction: unknown names count too.
    enforce(request, "login", account=username_account(username))
    cookie = request.cookies.get(PRELOGIN_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf_token):
        return page(
            request,
            "login.html",
            status_code=400,
            csrf_token=cookie or new_token(24),
            form=_refused("", "Formularen var forældet. Prøv igen.", username=username),
        )
    try:
        issued = login.begin_login(
            session, ctx.identity, request_actor(request), username, password
        )
    except LoginFailed:
        return page(
            request,
            "login.html",
            status_code=401,
            csrf_token=cookie,
            form=_refused("", GENERIC_LOGIN_ERROR, username=username),
        )
    response = _redirect(_next_page(issued.row.stage))
    _set_session_cookie(ctx, response, issued.token, ctx.settings.pending_login_minutes * 60)
    response.delete_cookie(PRELOGIN_COOKIE, path="/login")
    return response


@router.get("/login/kode", dependencies=[LOGIN_FLOW], response_class=HTMLResponse)
def code_form(request: Request, ctx: Ctx, session: DbSession) -> Response:
    found = login.pending_session(
        session, ctx.identity, request.cookies.get(SESSION_COOKIE), SessionStage.NEEDS_CODE
    )
    if found is None:
        return _redirect("/login")
    return page(request, "code.html", csrf_token=found[0].csrf_token)


@router.post(
    "/login/kode",
    dependencies=[LOGIN_FLOW, rate_limited("code", account=pending_login_account)],
    response_class=HTMLResponse,
)
def code_submit(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    code: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    found = login.pending_session(
        session, ctx.identity, request.cookies.get(SESSION_COOKIE), SessionStage.NEEDS_CODE
    )
    if found is None or not _pending_csrf_ok(found[0].csrf_token, csrf_token):
        return _redirect("/login")
    row, user = found
    try:
        issued = login.submit_code(session, ctx.identity, request_actor(request), row, user, code)
    except LoginFailed:
        if user.needs_admin_unlock:
            response = page(
                request,
                "login.html",
                status_code=401,
                csrf_token=new_token(24),
                form=_refused("", GENERIC_LOGIN_ERROR),
            )
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response
        return page(
            request,
            "code.html",
            status_code=401,
            csrf_token=row.csrf_token,
            form=_refused("code", GENERIC_LOGIN_ERROR),
        )
    return _finish(ctx, issued)


def _finish(ctx: Ctx, issued: sessions.IssuedSession) -> Response:
    if issued.row.stage != SessionStage.ACTIVE.value:
        return _redirect(_next_page(issued.row.stage))
    response = _redirect("/")
    _set_session_cookie(ctx, response, issued.token, ctx.settings.session_absolute_hours * 3600)
    return response


@router.get("/login/ny-adgangskode", dependencies=[LOGIN_FLOW], response_class=HTMLResponse)
def new_password_form(request: Request, ctx: Ctx, session: DbSession) -> Response:
    found = login.pending_session(
        session,
        ctx.identity,
        request.cookies.get(SESSION_COOKIE),
        SessionStage.NEEDS_PASSWORD_CHANGE,
    )
    if found is None:
        return _redirect("/login")
    return page(
        request,
        "new_password.html",
        csrf_token=found[0].csrf_token,
        min_length=ctx.settings.password_min_length,
    )


@router.post("/login/ny-adgangskode", dependencies=[LOGIN_FLOW], response_class=HTMLResponse)
def new_password_submit(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    new_password: Annotated[str, Form(max_length=1024)],
    repeat_password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    found = login.pending_session(
        session,
        ctx.identity,
        request.cookies.get(SESSION_COOKIE),
        SessionStage.NEEDS_PASSWORD_CHANGE,
    )
    if found is None or not _pending_csrf_ok(found[0].csrf_token, csrf_token):
        return _redirect("/login")
    row, user = found
    try:
        issued = login.change_password(
            session, ctx.identity, request_actor(request), row, user, new_password, repeat_password
        )
    except PasswordRejected as rejected:
        return page(
            request,
            "new_password.html",
            status_code=400,
            csrf_token=row.csrf_token,
            min_length=ctx.settings.password_min_length,
            form=password_refused(rejected.problems),
        )
    if issued is None:
        return _redirect("/login/tilmeld")
    return _finish(ctx, issued)


def _qr_svg(uri: str) -> str:
    return str(segno.make(uri, error="m").svg_inline(scale=4, title="QR-kode til godkender-app"))


@router.get("/login/tilmeld", dependencies=[LOGIN_FLOW], response_class=HTMLResponse)
def enrol_form(request: Request, ctx: Ctx, session: DbSession) -> Response:
    found = login.pending_session(
        session, ctx.identity, request.cookies.get(SESSION_COOKIE), SessionStage.NEEDS_ENROLMENT
    )
    if found is None:
        return _redirect("/login")
    row, user = found
    return _enrol_page(request, ctx, session, row, user)


def _enrol_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    row: UserSession,
    user: User,
    status_code: int = 200,
    form: FormState | None = None,
) -> Response:
    secret = login.enrolment_secret(session, ctx.identity, row, user)
    uri = totp_mod.provisioning_uri(secret, user.username, ctx.settings.totp_issuer)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return page(
        request,
        "enrol.html",
        status_code=status_code,
        csrf_token=row.csrf_token,
        qr_svg=_qr_svg(uri),
        secret=grouped,
        uri=uri,
        form=form,
    )


@router.post(
    "/login/tilmeld",
    dependencies=[LOGIN_FLOW, rate_limited("code", account=pending_login_account)],
    response_class=HTMLResponse,
)
def enrol_submit(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    code: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    found = login.pending_session(
        session, ctx.identity, request.cookies.get(SESSION_COOKIE), SessionStage.NEEDS_ENROLMENT
    )
    if found is None or not _pending_csrf_ok(found[0].csrf_token, csrf_token):
        return _redirect("/login")
    row, user = found
    try:
        codes = login.confirm_enrolment(
            session, ctx.identity, request_actor(request), row, user, code
        )
    except LoginFailed:
        if user.needs_admin_unlock:
            return _redirect("/login")
        return _enrol_page(
            request, ctx, session, row, user, 401, _refused("code", GENERIC_LOGIN_ERROR)
        )
    return page(request, "recovery_codes.html", csrf_token=row.csrf_token, codes=codes)


@router.post("/login/gendannelseskoder", dependencies=[LOGIN_FLOW], response_class=HTMLResponse)
def recovery_codes_done(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    found = login.pending_session(
        session, ctx.identity, request.cookies.get(SESSION_COOKIE), SessionStage.SHOW_RECOVERY_CODES
    )
    if found is None or not _pending_csrf_ok(found[0].csrf_token, csrf_token):
        return _redirect("/login")
    row, user = found
    return _finish(
        ctx, login.finish_enrolment(session, ctx.identity, request_actor(request), row, user)
    )


@router.post("/logout", response_class=HTMLResponse)
def logout(
    request: Request, ctx: Ctx, session: DbSession, me: Annotated[Principal, require("home:view")]
) -> Response:
    if me.session_row is not None:
        sessions.logout(session, ctx.identity, me.actor, me.session_row)
    response = _redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response

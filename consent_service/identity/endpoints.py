"""HTTP for identity: the login flow (password, forced password change, TOTP enrolment,
code), logout, and the administrator's user pages. HTTP only: the decisions are in
the other ``identity`` modules."""

from __future__ import annotations

import hmac
from typing import Annotated

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from consent_service.crypto import new_token
from consent_service.identity import login, proposals, sessions, tokens
from consent_service.identity import repository as repo
from consent_service.identity import totp as totp_mod
from consent_service.identity import users as user_admin
from consent_service.identity.errors import LoginFailed, PasswordRejected, UserInputError
from consent_service.identity.models import Role, SessionStage, User, UserSession
from consent_service.identity.schemas import AccountRead
from consent_service.web.cookies import PRELOGIN_COOKIE, SESSION_COOKIE
from consent_service.web.deps import (
    Ctx,
    DbSession,
    Principal,
    public,
    request_actor,
    require,
)
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
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
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
            error="Formularen var forældet. Prøv igen.",
        )
    try:
        issued = login.begin_login(
            session, ctx.identity, request_actor(request), username, password
        )
    except LoginFailed:
        return page(
            request, "login.html", status_code=401, csrf_token=cookie, error=GENERIC_LOGIN_ERROR
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
    code: Annotated[str, Form(max_length=40)],
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
                error=GENERIC_LOGIN_ERROR,
            )
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response
        return page(
            request,
            "code.html",
            status_code=401,
            csrf_token=row.csrf_token,
            error=GENERIC_LOGIN_ERROR,
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
            problems=rejected.problems,
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
    error: str | None = None,
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
        error=error,
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
    code: Annotated[str, Form(max_length=40)],
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
        return _enrol_page(request, ctx, session, row, user, 401, GENERIC_LOGIN_ERROR)
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


# --- administrator: users -----------------------------------------------------------------


def user_in_scope(session: DbSession, me: Principal, user_id: int) -> User:
    """The user an administration route acts on, after the route's permission allowed it
    for that user's organisation; an unknown id is denied like another organisation's."""
    target = repo.user_by_id(session, user_id)
    me.ensure(
        resource_organisation_id=target.organisation_id if target else None,
        resource_user_id=user_id,
    )
    if target is None:  # ensure() has denied it already: no organisation matches None
        raise RuntimeError("unreachable: unknown user passed the organisation condition")
    return target


@router.get("/admin/brugere", response_class=HTMLResponse)
def users_page(
    request: Request, session: DbSession, me: Annotated[Principal, require("users:read")]
) -> Response:
    me.ensure(resource_organisation_id=me.user.organisation_id)
    users = repo.users_of_organisation(session, me.user.organisation_id)
    return page(
        request,
        "users.html",
        me=me,
        users=users,
        roles=[r.value for r in Role],
        now=request.app.state.ctx.clock.now(),
    )


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
    me.ensure(resource_organisation_id=me.user.organisation_id)
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
            organisation_id=me.user.organisation_id,
            username=username,
            display_name=display_name,
            role=role,
        )
    except UserInputError as exc:
        users = repo.users_of_organisation(session, me.user.organisation_id)
        return page(
            request,
            "users.html",
            status_code=400,
            me=me,
            users=users,
            roles=[r.value for r in Role],
            now=ctx.clock.now(),
            error=str(exc),
        )
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
        users = repo.users_of_organisation(session, me.user.organisation_id)
        return page(
            request, "users.html", status_code=400, me=me, users=users, error=str(exc),
            roles=[r.value for r in Role], now=ctx.clock.now(),
        )  # fmt: skip
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
        users = repo.users_of_organisation(session, me.user.organisation_id)
        return page(
            request,
            "users.html",
            status_code=400,
            me=me,
            users=users,
            roles=[r.value for r in Role],
            now=ctx.clock.now(),
            error=str(exc),
        )
    return _redirect("/admin/brugere")


# --- API ----------------------------------------------------------------------------------


@router.get("/api/v1/me", response_model=AccountRead)
def api_me(me: Annotated[Principal, require("account:read")]) -> AccountRead:
    """The calling user's own account."""
    return AccountRead(
        username=me.user.username,
        display_name=me.user.display_name,
        role=me.user.role,
        organisation_id=me.user.organisation_id,
    )


# --- administrator: API tokens for practice systems ----------------------------------------


def _tokens_page(
    request: Request,
    session: DbSession,
    me: Principal,
    status_code: int = 200,
    error: str | None = None,
    new_token: str | None = None,
) -> Response:
    org = me.user.organisation_id
    referrers = [
        u for u in repo.users_of_organisation(session, org) if u.role == Role.REFERRER.value
    ]
    return page(
        request,
        "api_tokens.html",
        status_code=status_code,
        me=me,
        tokens=repo.api_tokens_of_organisation(session, org),
        referrers=referrers,
        now=request.app.state.ctx.clock.now(),
        error=error,
        new_token=new_token,
    )


@router.get("/admin/api-noegler", response_class=HTMLResponse)
def api_tokens_page(
    request: Request, session: DbSession, me: Annotated[Principal, require("api_tokens:manage")]
) -> Response:
    me.ensure(resource_organisation_id=me.user.organisation_id)
    return _tokens_page(request, session, me)


@router.post("/admin/api-noegler", response_class=HTMLResponse)
def create_api_token(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("api_tokens:manage")],
    user_id: Annotated[int, Form()],
    label: Annotated[str, Form(max_length=100)],
    valid_days: Annotated[int, Form(ge=1, le=tokens.API_TOKEN_MAX_DAYS)],
) -> Response:
    target = repo.user_by_id(session, user_id)
    me.ensure(resource_organisation_id=target.organisation_id if target else None)
    if target is None:
        raise RuntimeError("unreachable: unknown user passed the organisation condition")
    try:
        token = tokens.create_api_token(
            session,
            ctx.identity,
            me.actor,
            user=target,
            label=label,
            scopes=["referral:submit"],
            valid_days=valid_days,
        )
    except UserInputError as exc:
        return _tokens_page(request, session, me, 400, error=str(exc))
    return _tokens_page(request, session, me, new_token=token)


@router.post("/admin/api-noegler/{token_id}/tilbagekald", response_class=HTMLResponse)
def revoke_api_token(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("api_tokens:manage")],
    token_id: int,
) -> Response:
    from consent_service.identity.models import ApiToken

    row = session.get(ApiToken, token_id)
    owner = repo.user_by_id(session, row.user_id) if row else None
    me.ensure(resource_organisation_id=owner.organisation_id if owner else None)
    if row is None:
        raise RuntimeError("unreachable: unknown token passed the organisation condition")
    if row.revoked_at is None:
        row.revoked_at = ctx.clock.now()
        ctx.audit.record(
            session,
            me.actor,
            action="api_token.revoked",
            outcome="success",
            resource_type="user",
            resource_id=str(row.user_id),
            details={"token": row.id, "before": {"revoked": False}, "after": {"revoked": True}},
        )
    return _redirect("/admin/api-noegler")

"""HTTP for the administrator's API tokens for practice systems: list, issue, revoke.
HTTP only: the decisions are in ``identity.tokens``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from consent_service.identity import tokens
from consent_service.identity import users as user_admin
from consent_service.identity.errors import UserInputError
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.gate import GatedRoute
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)
TOKENS_PAGE = "/admin/api-noegler"


def _tokens_page(
    request: Request,
    session: DbSession,
    me: Principal,
    status_code: int = 200,
    error: str | None = None,
    new_token: str | None = None,
) -> Response:
    org = me.organisation_id
    referrers = tokens.token_holders(session, org)
    return page(
        request,
        "api_tokens.html",
        status_code=status_code,
        me=me,
        tokens=tokens.tokens_of(session, org),
        referrers=referrers,
        now=request.app.state.ctx.clock.now(),
        error=error,
        new_token=new_token,
    )


@router.get(TOKENS_PAGE, response_class=HTMLResponse)
def api_tokens_page(
    request: Request, session: DbSession, me: Annotated[Principal, require("api_tokens:manage")]
) -> Response:
    return _tokens_page(request, session, me)


@router.post(TOKENS_PAGE, response_class=HTMLResponse)
def create_api_token(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("api_tokens:manage")],
    user_id: Annotated[int, Form()],
    label: Annotated[str, Form(max_length=100)],
    valid_days: Annotated[int, Form(ge=1, le=tokens.API_TOKEN_MAX_DAYS)],
) -> Response:
    """Issue a token to a referrer of the organisation; another organisation's user is
    refused exactly like an unknown id."""
    target = user_admin.user_in_organisation(session, me.organisation_id, user_id)
    if target is None:
        raise me.out_of_scope()
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


@router.post(TOKENS_PAGE + "/{token_id}/tilbagekald", response_class=HTMLResponse)
def revoke_api_token(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("api_tokens:manage")],
    token_id: int,
) -> Response:
    """Revoke a token of the organisation; another organisation's token is refused
    exactly like an unknown id."""
    token = tokens.api_token_in_organisation(session, me.organisation_id, token_id)
    if token is None:
        raise me.out_of_scope()
    tokens.revoke_api_token(session, ctx.identity, me.actor, token)
    return RedirectResponse(TOKENS_PAGE, status_code=303)

"""HTTP for the administrator's API tokens for practice systems: list, issue, revoke.
HTTP only: the decisions are in ``identity.tokens``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.errors import RuleRefusal
from consent_service.identity import organisations, tokens
from consent_service.identity import users as user_admin
from consent_service.identity.errors import UserInputError
from consent_service.text import ascii_number
from consent_service.web import notices
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import Confirmation, FormState, confirmation, is_confirmed
from consent_service.web.gate import GatedRoute
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)
TOKENS_PAGE = "/admin/api-noegler"


def _tokens_page(
    request: Request,
    session: DbSession,
    me: Principal,
    status_code: int = 200,
    form: FormState | None = None,
    new_token: str | None = None,
) -> Response:
    org = me.organisation_id
    referrers = tokens.token_holders(session, org)
    # Each token's holder by name and organisation (people are named, not numbered).
    organisation = organisations.organisation_by_id(session, org)
    holders = {
        u.id: f"{u.display_name} ({organisation.name if organisation else ''})"
        for u in user_admin.users_of(session, org)
    }
    return page(
        request,
        "api_tokens.html",
        status_code=status_code,
        me=me,
        tokens=tokens.tokens_of(session, org),
        referrers=referrers,
        holders=holders,
        now=request.app.state.ctx.clock.now(),
        form=form,
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
    user_id: Annotated[str, Form(max_length=20)] = "",
    label: Annotated[str, Form(max_length=100)] = "",
    valid_days: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Issue a token to an active referrer of the organisation who has completed the second
    factor (409 beside the field otherwise); another organisation's user is refused
    exactly like an unknown id."""
    form = FormState.of(user_id=user_id, label=label, valid_days=valid_days)
    target_id = ascii_number(user_id, 18)
    if target_id is None:
        form.add("user_id", "Vælg den henviser, nøglen er til.")
        return _tokens_page(request, session, me, 400, form=form)
    target = user_admin.user_in_organisation(session, me.organisation_id, target_id)
    if target is None:
        raise me.out_of_scope()
    days = ascii_number(valid_days, 10) or 0
    try:
        token = tokens.create_api_token(
            session,
            ctx.identity,
            me.actor,
            user=target,
            label=label,
            scopes=["referral:submit"],
            valid_days=days,
        )
    except UserInputError as exc:
        return _tokens_page(request, session, me, 400, form=form.add(exc.field or "", exc.message))
    except RuleRefusal as exc:
        form.fail(exc, "user_id")
        return _tokens_page(request, session, me, form.status_code, form=form)
    return _tokens_page(request, session, me, new_token=token)


@router.post(TOKENS_PAGE + "/{token_id}/tilbagekald", response_class=HTMLResponse)
def revoke_api_token(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("api_tokens:manage")],
    token_id: int,
    confirmed: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Revoke a token of the organisation, after a confirmation step; another
    organisation's token is refused exactly like an unknown id."""
    token = tokens.api_token_in_organisation(session, me.organisation_id, token_id)
    if token is None:
        raise me.out_of_scope()
    if not is_confirmed(confirmed):
        return confirmation(
            request,
            me,
            Confirmation(
                title=f"Tilbagekald API-nøglen {token.label}?",
                lines=(
                    "Praksissystemet, der bruger nøglen, kan ikke længere sende henvisninger.",
                    "En tilbagekaldt nøgle kan ikke genbruges; udsted en ny, hvis det var en fejl.",
                ),
                action=f"{TOKENS_PAGE}/{token.id}/tilbagekald",
                fields={},
                button="Tilbagekald nøglen",
                cancel_href=TOKENS_PAGE,
            ),
        )
    tokens.revoke_api_token(session, ctx.identity, me.actor, token)
    return notices.redirect(TOKENS_PAGE, "token-revoked")

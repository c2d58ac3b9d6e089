"""HTTP for the administrator's organisations pages: the list with each organisation's
number of users, one organisation with its users, creating and renaming. HTTP only: the
decisions are in ``identity.organisations``; who sees which organisation is the access
policy's (``organisations:read`` for one's own, ``organisations:manage`` for every one).

The organisation is named in the query or the form (``organisation``), not the path: a
system-wide administrator opens any organisation by design, so these routes are outside
the route matrix's rule that another organisation's id answers as an unknown one; their
own tests (tests/api/test_organisations.py) try every other-organisation case."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.errors import RuleRefusal
from consent_service.identity import organisations
from consent_service.identity.errors import UserInputError
from consent_service.identity.models import Organisation
from consent_service.web import notices
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import FormState, failed
from consent_service.web.gate import GatedRoute
from consent_service.web.scope import (
    ensure_system_wide,
    organisation_id_from,
    organisation_in_scope,
    system_wide,
)
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)
ORGANISATIONS = "/admin/organisationer"
ONE = ORGANISATIONS + "/vis"
NEW_FORM = "new-"
RENAME_FORM = "rename-"


def _list_page(
    request: Request, ctx: Ctx, session: DbSession, me: Principal, form: FormState | None = None
) -> Response:
    everyone = system_wide(session, ctx.settings, me)
    rows = organisations.organisation_rows(
        session, ctx.settings, None if everyone else me.organisation_id
    )
    context: dict[str, Any] = {"me": me, "rows": rows, "system_wide": everyone}
    if form is not None:
        return failed(request, "organisations.html", form, form.status_code, **context)
    return page(request, "organisations.html", **context)


def _one_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Principal,
    org: Organisation,
    form: FormState | None = None,
) -> Response:
    everyone = system_wide(session, ctx.settings, me)
    (row,) = organisations.organisation_rows(session, ctx.settings, org.id)
    context: dict[str, Any] = {
        "me": me,
        "row": row,
        "users": organisations.users_of(session, org.id),
        "system_wide": everyone,
        "own": org.id == me.organisation_id,
        "now": ctx.clock.now(),
    }
    if form is not None:
        return failed(request, "organisation.html", form, form.status_code, **context)
    return page(request, "organisation.html", **context)


@router.get(ORGANISATIONS, response_class=HTMLResponse)
def organisations_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("organisations:read")],
) -> Response:
    """Every organisation for a system-wide administrator, else one's own."""
    return _list_page(request, ctx, session, me)


@router.post(ORGANISATIONS, response_class=HTMLResponse)
def create_organisation(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("organisations:manage")],
    name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    ensure_system_wide(session, ctx.settings, me)
    form = FormState.of(prefix=NEW_FORM, name=name)
    try:
        org = organisations.create_organisation(session, ctx.identity, me.actor, name)
    except UserInputError as exc:
        form.add(exc.field or "name", exc.message)
        return _list_page(request, ctx, session, me, form)
    except RuleRefusal as exc:
        form.fail(exc, "name")
        return _list_page(request, ctx, session, me, form)
    return notices.redirect(f"{ONE}?organisation={org.id}", "organisation-created")


@router.get(ONE, response_class=HTMLResponse)
def organisation_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("organisations:read")],
    organisation: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """One organisation and its users: one's own, or any for a system-wide administrator."""
    org = organisation_in_scope(session, ctx.settings, me, organisation_id_from(organisation))
    return _one_page(request, ctx, session, me, org)


@router.post(ORGANISATIONS + "/omdoeb", response_class=HTMLResponse)
def rename_organisation(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("organisations:manage")],
    organisation: Annotated[str, Form(max_length=20)] = "",
    name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    ensure_system_wide(session, ctx.settings, me)
    org = organisation_in_scope(session, ctx.settings, me, organisation_id_from(organisation))
    form = FormState.of(prefix=RENAME_FORM, name=name)
    try:
        organisations.rename_organisation(session, ctx.identity, me.actor, org, name)
    except UserInputError as exc:
        form.add(exc.field or "name", exc.message)
        return _one_page(request, ctx, session, me, org, form)
    except RuleRefusal as exc:
        form.fail(exc, "name")
        session.refresh(org)
        return _one_page(request, ctx, session, me, org, form)
    return notices.redirect(f"{ONE}?organisation={org.id}", "organisation-renamed")

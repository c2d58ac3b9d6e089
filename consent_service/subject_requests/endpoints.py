"""HTTP for data-subject requests: the form on the citizen's page that registers one, the
forms that extend and answer it there, and the organisation's list of open requests
(``/anmodninger``), nearest deadline first.

The forms follow the form pattern (``web/forms.py``): a mistake comes back on the
citizen's page with 400, a refused action (extension after the deadline, answered
already) with 409, values kept."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.citizens import service as citizens
from consent_service.citizens.models import Citizen
from consent_service.errors import InvalidInput, RuleRefusal
from consent_service.subject_requests import service
from consent_service.subject_requests.models import SubjectRequest
from consent_service.subject_requests.policy import CLOSING, request_rules
from consent_service.web import citizen_page as citizen_view
from consent_service.web import notices
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import FormState, parse_choice, parse_date
from consent_service.web.gate import GatedRoute
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)
LIST = "/anmodninger"
REGISTER_FORM = citizen_view.REQUEST_FORM
extend_prefix = citizen_view.request_extend_prefix
answer_prefix = citizen_view.request_answer_prefix


def _back(citizen: Citizen, key: str) -> Response:
    return notices.redirect(f"/borgere/{citizen.public_id}", key)


def _request(session: DbSession, me: Principal, request_id: str) -> tuple[SubjectRequest, Citizen]:
    return service.request_in_organisation(session, me.organisation_id, request_id)


@router.get(LIST, response_class=HTMLResponse)
def open_requests(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("requests:read")],
) -> Response:
    """The organisation's open requests, nearest deadline first, marked overdue or with
    the days left; citizens by name for those who manage requests, else by pseudonymous
    id."""
    with_names = me.may("requests:manage")
    rows = service.open_requests(
        session, ctx.deps, me.actor, me.organisation_id, with_names=with_names
    )
    return page(
        request,
        "subject_requests.html",
        me=me,
        rows=rows,
        with_names=with_names,
        warn_within_days=request_rules().warn_within_days,
    )


@router.post("/borgere/{public_id}/anmodninger", response_class=HTMLResponse)
def register(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("requests:manage")],
    public_id: str,
    kind: Annotated[str, Form(max_length=32)] = "",
    channel: Annotated[str, Form(max_length=32)] = "",
    received_on: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    citizen = citizens.citizen_in_organisation(session, me.organisation_id, public_id)
    form = FormState.of(prefix=REGISTER_FORM, kind=kind, channel=channel, received_on=received_on)
    policy = request_rules()
    chosen_kind = parse_choice(form, "kind", policy.kinds, "Vælg, hvad borgeren anmoder om.")
    chosen_channel = parse_choice(
        form, "channel", policy.channels, "Vælg, hvordan anmodningen kom."
    )
    day = parse_date(form, "received_on")
    if chosen_kind and chosen_channel and day and not form.has_errors:
        try:
            service.register(
                session,
                ctx.deps,
                me.actor,
                citizen,
                service.RequestInput(chosen_kind, chosen_channel, day),
            )
        except (InvalidInput, RuleRefusal) as exc:
            form.fail(exc)
    if form.has_errors:
        return citizen_view.failed(request, ctx, session, me, citizen, form)
    return _back(citizen, "request-registered")


@router.post(LIST + "/{request_id}/forlaeng", response_class=HTMLResponse)
def extend(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("requests:manage")],
    request_id: str,
    new_deadline: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    found, citizen = _request(session, me, request_id)
    form = FormState.of(
        prefix=extend_prefix(found.public_id), new_deadline=new_deadline, reason=reason
    )
    day = parse_date(form, "new_deadline")
    if day is not None:
        try:
            service.extend(
                session, ctx.deps, me.actor, found, citizen, new_deadline=day, reason=reason
            )
        except (InvalidInput, RuleRefusal) as exc:
            form.fail(exc)
    if form.has_errors:
        return citizen_view.failed(request, ctx, session, me, citizen, form)
    return _back(citizen, "request-extended")


@router.post(LIST + "/{request_id}/besvar", response_class=HTMLResponse)
def answer(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("requests:manage")],
    request_id: str,
    outcome: Annotated[str, Form(max_length=16)] = "",
    answered_on: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    found, citizen = _request(session, me, request_id)
    form = FormState.of(
        prefix=answer_prefix(found.public_id),
        outcome=outcome,
        answered_on=answered_on,
        note=note,
    )
    chosen = parse_choice(
        form, "outcome", CLOSING, "Vælg, om anmodningen er besvaret eller afvist."
    )
    day = parse_date(form, "answered_on")
    if chosen is not None and day is not None and not form.has_errors:
        try:
            service.answer(
                session,
                ctx.deps,
                me.actor,
                found,
                citizen,
                outcome=chosen,
                answered_on=day,
                note=note,
            )
        except (InvalidInput, RuleRefusal) as exc:
            form.fail(exc)
    if form.has_errors:
        return citizen_view.failed(request, ctx, session, me, citizen, form)
    late = found.answered_on is not None and found.answered_on > found.current_deadline
    return _back(citizen, "request-answered-late" if late else f"request-{chosen}")

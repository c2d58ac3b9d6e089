"""Pages for referrers (GP, nurse, midwife, practice staff): the referral form and the
referrals one has sent.

The form uses the same service as the practice systems' API (``submit_referral``), so a
referrer is answered the same whether the citizen was known or not: every success leads
to "Mine henvisninger", which shows the referrer's own referrals and their status, never
anything the pilot knows about the citizen.

An inclusion criterion not ticked (or a citizen under 18) is a warning, not a refusal:
the navigator offer is given regardless (only data collection needs 18+) and the
navigator judges the target group when she calls. The referrer sees the warning before
the referral is sent, and may send it anyway.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.citizens import referrals, service
from consent_service.clock import legal_today
from consent_service.errors import InvalidInput
from consent_service.web import notices
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import FormState, failed, parse_choice, parse_date
from consent_service.web.gate import GatedRoute
from consent_service.web.ratelimit import rate_limited
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)

SEND_ANYWAY = "ja"
# Who refers through this form: practice staff, not the citizen themself.
FORM_REFERRER_KINDS = {k: v for k, v in service.REFERRER_KINDS.items() if k != "self"}


# The service names each refused field by its code (``InvalidInput.field``: the citizen
# form's own names); the referral's clinic is this form's practice field.
_FORM_FIELD = {"clinic": "gp_clinic"}


def _refused(form: FormState, exc: InvalidInput) -> FormState:
    """The service's refusal beside the form's field it concerns."""
    field = _FORM_FIELD.get(exc.field or "", exc.field) or "cpr"
    return form.add(field, exc.message)


def _form_page(ctx: Ctx, me: Principal, **extra: object) -> dict[str, Any]:
    return {
        "me": me,
        "today": legal_today(ctx.clock),
        "referrer_kinds": FORM_REFERRER_KINDS,
        "criteria": referrals.CRITERIA,
        "warnings": [],
        **extra,
    }


@router.get("/henvis", response_class=HTMLResponse)
def referral_form(
    request: Request, ctx: Ctx, me: Annotated[Principal, require("referral:send")]
) -> Response:
    form = FormState()
    return page(request, "referral_send.html", form=form, **_form_page(ctx, me))


@router.post("/henvis", dependencies=[rate_limited("referral")], response_class=HTMLResponse)
def send_referral(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("referral:send")],
    cpr: Annotated[str, Form(max_length=20)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    phone: Annotated[str, Form(max_length=30)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    municipality: Annotated[str, Form(max_length=100)] = "",
    gp_clinic: Annotated[str, Form(max_length=200)] = "",
    referrer_kind: Annotated[str, Form(max_length=32)] = "",
    referred_on: Annotated[str, Form(max_length=40)] = "",
    norddjurs_link: Annotated[str, Form(max_length=8)] = "",
    reachable: Annotated[str, Form(max_length=8)] = "",
    send_anyway: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    form = FormState.of(
        cpr=cpr, name=name, phone=phone, email=email, municipality=municipality,
        gp_clinic=gp_clinic, referrer_kind=referrer_kind, referred_on=referred_on,
        norddjurs_link=norddjurs_link, reachable=reachable,
    )  # fmt: skip
    kind = parse_choice(form, "referrer_kind", FORM_REFERRER_KINDS, "Vælg hvem du er.")
    day = parse_date(form, "referred_on")
    try:
        parsed_cpr = service.parse_cpr_input(cpr, ctx.deps)
    except InvalidInput as exc:
        _refused(form, exc)
        parsed_cpr = None
    if kind is None or day is None or parsed_cpr is None or form.has_errors:
        return failed(request, "referral_send.html", form, **_form_page(ctx, me))
    warnings = referrals.criteria_warnings(
        parsed_cpr, day, norddjurs_link == "true", reachable == "true"
    )
    if warnings and send_anyway != SEND_ANYWAY:
        return page(
            request,
            "referral_send.html",
            form=form,
            **_form_page(ctx, me, warnings=warnings, send_anyway=SEND_ANYWAY),
        )
    try:
        service.submit_referral(
            session,
            ctx.deps,
            me.actor,
            me.organisation_id,
            service.CitizenInput(
                cpr=cpr,
                name=name,
                phone=phone,
                email=email,
                municipality=municipality,
                gp_clinic=gp_clinic,
            ),
            service.ReferralInput(
                referrer_kind=kind,
                clinic=gp_clinic,
                referred_on=day,
                course_start_on=None,
                norddjurs_link=norddjurs_link == "true",
                reachable=reachable == "true",
            ),
        )
    except InvalidInput as exc:
        _refused(form, exc)
        return failed(request, "referral_send.html", form, **_form_page(ctx, me))
    return notices.redirect("/mine-henvisninger", "referral-sent")


@router.get("/mine-henvisninger", response_class=HTMLResponse)
def my_referrals(
    request: Request,
    session: DbSession,
    me: Annotated[Principal, require("referral:send")],
) -> Response:
    sent = referrals.sent_referrals(session, me.actor, me.organisation_id)
    return page(
        request,
        "referrals_mine.html",
        me=me,
        sent=sent,
        referrer_kinds=service.REFERRER_KINDS,
    )

"""Pages of the wellbeing questionnaires: a citizen's answers and scores, and recording
new ones (only under a wellbeing consent in force, for a citizen 18+ at referral)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.citizens import service as citizens
from consent_service.clock import legal_today
from consent_service.errors import InvalidInput, RuleRefusal
from consent_service.web import notices
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import FormState, parse_choice, parse_date
from consent_service.web.gate import GatedRoute
from consent_service.web.templating import page
from consent_service.wellbeing import questionnaire
from consent_service.wellbeing import service as wellbeing

router = APIRouter(route_class=GatedRoute)


def _page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Principal,
    public_id: str,
    form: FormState,
    status_code: int = 200,
) -> Response:
    citizen = citizens.citizen_in_organisation(session, me.organisation_id, public_id)
    overview = wellbeing.read_answers(session, ctx.deps, me.actor, citizen)
    return page(
        request,
        "wellbeing.html",
        status_code=status_code,
        me=me,
        form=form,
        citizen=overview.citizen,
        responses=overview.responses,
        refusal=overview.refusal,
        q=questionnaire,
        today=legal_today(ctx.clock),
    )


@router.get("/borgere/{public_id}/trivsel", response_class=HTMLResponse)
def wellbeing_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("wellbeing:read")],
    public_id: str,
) -> Response:
    return _page(request, ctx, session, me, public_id, FormState())


WHO5_VALUES = tuple(str(value) for value, _ in questionnaire.WHO5_SCALE)
LIFE_VALUES = tuple(str(value) for value in range(11))
Answer = Annotated[str, Form(max_length=8)]


@router.post("/borgere/{public_id}/trivsel", response_class=HTMLResponse)
def wellbeing_record(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("wellbeing:record")],
    public_id: str,
    occasion: Annotated[str, Form(max_length=16)] = "",
    answered_on: Annotated[str, Form(max_length=32)] = "",
    who5_1: Answer = "",
    who5_2: Answer = "",
    who5_3: Answer = "",
    who5_4: Answer = "",
    who5_5: Answer = "",
    life_satisfaction: Answer = "",
) -> Response:
    """Record an answer (the form pattern: a mistake keeps every answer and says what to
    fix; success redirects with a notice)."""
    citizen = citizens.citizen_in_organisation(session, me.organisation_id, public_id)
    items = {"who5_1": who5_1, "who5_2": who5_2, "who5_3": who5_3, "who5_4": who5_4}
    items["who5_5"] = who5_5
    form = FormState.of(
        occasion=occasion, answered_on=answered_on, life_satisfaction=life_satisfaction, **items
    )
    chosen = parse_choice(form, "occasion", questionnaire.OCCASIONS, "Vælg tidspunktet.")
    day = parse_date(form, "answered_on")
    who5 = [parse_choice(form, name, WHO5_VALUES, "Vælg et svar fra 0 til 5.") for name in items]
    life = parse_choice(form, "life_satisfaction", LIFE_VALUES, "Skriv et helt tal fra 0 til 10.")
    if not form.has_errors and chosen and day and life is not None:
        try:
            wellbeing.capture(
                session,
                ctx.deps,
                me.actor,
                citizen,
                occasion=chosen,
                answered_on=day,
                who5=[int(v or 0) for v in who5],
                life_satisfaction=int(life),
            )
        except (InvalidInput, RuleRefusal) as exc:
            form.fail(exc, "who5_1" if getattr(exc, "field", None) == "who5" else "")
    if form.has_errors:
        return _page(request, ctx, session, me, public_id, form, status_code=form.status_code)
    return notices.redirect(f"/borgere/{public_id}/trivsel", "wellbeing-recorded")

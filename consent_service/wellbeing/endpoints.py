"""Pages of the wellbeing questionnaires: a citizen's answers and scores, and recording
new ones (only under a wellbeing consent in force, for a citizen 18+ at referral)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from consent_service.citizens import service as citizens
from consent_service.clock import legal_today
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.gate import GatedRoute
from consent_service.web.templating import page
from consent_service.wellbeing import questionnaire
from consent_service.wellbeing import service as wellbeing

router = APIRouter(route_class=GatedRoute)


@router.get("/borgere/{public_id}/trivsel", response_class=HTMLResponse)
def wellbeing_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("wellbeing:read")],
    public_id: str,
) -> Response:
    citizen = citizens.citizen_in_organisation(session, me.organisation_id, public_id)
    overview = wellbeing.read_answers(session, ctx.deps, me.actor, citizen)
    return page(
        request,
        "wellbeing.html",
        me=me,
        citizen=overview.citizen,
        responses=overview.responses,
        refusal=overview.refusal,
        q=questionnaire,
        today=legal_today(ctx.clock),
    )


@router.post("/borgere/{public_id}/trivsel", response_class=HTMLResponse)
def wellbeing_record(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("wellbeing:record")],
    public_id: str,
    occasion: Annotated[str, Form(max_length=16)],
    answered_on: Annotated[date, Form()],
    who5_1: Annotated[int, Form(ge=0, le=5)],
    who5_2: Annotated[int, Form(ge=0, le=5)],
    who5_3: Annotated[int, Form(ge=0, le=5)],
    who5_4: Annotated[int, Form(ge=0, le=5)],
    who5_5: Annotated[int, Form(ge=0, le=5)],
    life_satisfaction: Annotated[int, Form(ge=0, le=10)],
) -> Response:
    citizen = citizens.citizen_in_organisation(session, me.organisation_id, public_id)
    wellbeing.capture(
        session,
        ctx.deps,
        me.actor,
        citizen,
        occasion=occasion,
        answered_on=answered_on,
        who5=[who5_1, who5_2, who5_3, who5_4, who5_5],
        life_satisfaction=life_satisfaction,
    )
    return RedirectResponse(f"/borgere/{public_id}/trivsel", status_code=303)

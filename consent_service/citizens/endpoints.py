"""Pages for navigators: find or register a citizen, register a referral, see a citizen."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from consent_service.citizens import referrals, service
from consent_service.citizens.cohorts import default_cohorts
from consent_service.citizens.models import Citizen
from consent_service.citizens.schemas import ReferralAccepted, ReferralSubmission
from consent_service.clock import legal_today
from consent_service.consents import reading
from consent_service.consents.labels import CHANNELS, CORRECTION_REASONS
from consent_service.errors import InvalidInput
from consent_service.web import notices
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import FormState, failed, parse_choice, parse_date
from consent_service.web.gate import GatedRoute
from consent_service.web.ratelimit import rate_limited
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)


@router.get("/borgere", response_class=HTMLResponse)
def citizens_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("citizen:list")],
    side: int = 1,
) -> Response:
    page_no = max(1, min(side, 10_000))
    views, total = service.list_citizens(session, ctx.deps, me.actor, me.organisation_id, page_no)
    return page(
        request,
        "citizens.html",
        me=me,
        citizens=views,
        total=total,
        side=page_no,
        pages=max(1, (total + 24) // 25),
    )


@router.post("/borgere/soeg", response_class=HTMLResponse)
def search(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("citizen:search")],
    cpr: Annotated[str, Form(max_length=20)],
) -> Response:
    try:
        found = service.find_by_cpr(session, ctx.deps, me.actor, me.organisation_id, cpr)
    except InvalidInput as exc:
        return page(request, "citizen_search.html", status_code=400, me=me, error=exc.message)
    if found is None:
        return page(
            request,
            "citizen_search.html",
            status_code=404,
            me=me,
            error="Ingen borger med det CPR-nummer er registreret i din organisation.",
        )
    return RedirectResponse(f"/borgere/{found.public_id}", status_code=303)


@router.get("/borgere/ny", response_class=HTMLResponse)
def new_citizen_form(
    request: Request, me: Annotated[Principal, require("citizen:create")]
) -> Response:
    return page(request, "citizen_new.html", me=me, form=FormState())


@router.post("/borgere/ny", response_class=HTMLResponse)
def new_citizen(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("citizen:create")],
    cpr: Annotated[str, Form(max_length=20)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    municipality: Annotated[str, Form(max_length=100)] = "",
    gp_clinic: Annotated[str, Form(max_length=200)] = "",
    phone: Annotated[str, Form(max_length=30)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    form = FormState.of(
        cpr=cpr, name=name, municipality=municipality, gp_clinic=gp_clinic, phone=phone, email=email
    )
    data = service.CitizenInput(
        cpr=cpr, name=name, phone=phone, email=email, municipality=municipality, gp_clinic=gp_clinic
    )
    try:
        citizen = service.register_citizen(session, ctx.deps, me.actor, me.organisation_id, data)
    except InvalidInput as exc:
        return failed(request, "citizen_new.html", form.fail(exc, "cpr"), me=me)
    return notices.redirect(f"/borgere/{citizen.public_id}", "citizen-registered")


REFERRAL_FORM = "henvisning-"  # the id prefix of the citizen page's referral form


@router.post("/borgere/{public_id}/henvisning", response_class=HTMLResponse)
def new_referral(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("referral:create")],
    public_id: str,
    referrer_kind: Annotated[str, Form(max_length=32)] = "",
    referred_on: Annotated[str, Form(max_length=40)] = "",
    clinic: Annotated[str, Form(max_length=200)] = "",
    course_start_on: Annotated[str, Form(max_length=40)] = "",
    norddjurs_link: Annotated[str, Form(max_length=8)] = "",
    reachable: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    citizen = service.citizen_in_organisation(session, me.organisation_id, public_id)
    form = FormState.of(
        prefix=REFERRAL_FORM, referrer_kind=referrer_kind, clinic=clinic,
        referred_on=referred_on, course_start_on=course_start_on,
        norddjurs_link=norddjurs_link, reachable=reachable,
    )  # fmt: skip
    kind = parse_choice(form, "referrer_kind", service.REFERRER_KINDS, "Vælg hvem der henviste.")
    day = parse_date(form, "referred_on")
    start = parse_date(form, "course_start_on", required=False)
    if kind is not None and day is not None and not form.has_errors:
        data = service.ReferralInput(
            referrer_kind=kind,
            clinic=clinic,
            referred_on=day,
            course_start_on=start,
            norddjurs_link=norddjurs_link == "true",
            reachable=reachable == "true",
        )
        try:
            service.register_referral(session, ctx.deps, me.actor, citizen, data)
        except InvalidInput as exc:
            form.fail(exc, "referred_on")
    if form.has_errors:
        return _citizen_page(
            request, ctx, session, me, citizen, status_code=400, referral_form=form
        )
    return notices.redirect(f"/borgere/{public_id}", "referral-registered")


@router.get("/borgere/{public_id}", response_class=HTMLResponse)
def citizen_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("citizen:read")],
    public_id: str,
) -> Response:
    citizen = service.citizen_in_organisation(session, me.organisation_id, public_id)
    return _citizen_page(request, ctx, session, me, citizen)


def _citizen_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Principal,
    citizen: Citizen,
    status_code: int = 200,
    error: str | None = None,
    referral_form: FormState | None = None,
) -> Response:
    view = service.read_citizen(session, ctx.deps, me.actor, citizen, purpose="navigator course")
    overview = reading.citizen_consents(session, ctx.deps, citizen)
    citizen_referrals = list(service.referrals(session, citizen))
    return page(
        request,
        "citizen.html",
        status_code=status_code,
        me=me,
        citizen=view,
        referrals=citizen_referrals,
        referral_contacts=referrals.contacts_by_referral(
            session, ctx.deps, citizen, citizen_referrals
        ),
        referral_form=referral_form or FormState(prefix=REFERRAL_FORM),
        consents=overview.summaries,
        error=error,
        referrer_kinds=service.REFERRER_KINDS,
        data_collection=overview.data_collection,
        correction_reasons=CORRECTION_REASONS,
        channels=CHANNELS,
        cohort_names={c.id: c.name for c in default_cohorts().cohorts},
        today=legal_today(ctx.clock),
    )


@router.post(
    "/api/v1/referrals",
    status_code=202,
    response_model=ReferralAccepted,
    dependencies=[rate_limited("referral")],
)
def submit_referral(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("referral:submit")],
    body: ReferralSubmission,
) -> ReferralAccepted:
    """Submit a referral with a practice system's API token (scope ``referral:submit``).

    The answer is the same whether the citizen is new to the pilot or already taking
    part: 202 with the referral's own id and ``"status": "received"``, never a citizen id
    nor whether the person was known, so the API cannot be used to test who takes part.
    The referral is recorded as the token's referrer account's (its practice's stream),
    in that account's organisation; a token can only add referrals, and reads nothing."""
    referral = service.submit_referral(
        session,
        ctx.deps,
        me.actor,
        me.organisation_id,
        service.CitizenInput(
            cpr=body.cpr,
            name=body.name,
            phone=body.phone,
            email=body.email,
            municipality=body.municipality,
            gp_clinic=body.gp_clinic,
        ),
        service.ReferralInput(
            referrer_kind=body.referrer_kind,
            clinic=body.clinic,
            referred_on=body.referred_on,
            course_start_on=body.course_start_on,
            norddjurs_link=body.norddjurs_link,
            reachable=body.reachable,
        ),
    )
    return ReferralAccepted(referral_id=referral.public_id)

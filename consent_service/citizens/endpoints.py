"""Pages for navigators: find or register a citizen, register a referral, see a citizen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from consent_service.citizens import corrections, directory, service
from consent_service.citizens.schemas import ReferralAccepted, ReferralSubmission
from consent_service.clock import legal_today
from consent_service.consents.standing import Standing, standing_of
from consent_service.errors import InvalidInput
from consent_service.handlers import next_tasks
from consent_service.text import ascii_number
from consent_service.web import citizen_page as citizen_view
from consent_service.web import notices
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import FormState, failed, parse_choice, parse_date
from consent_service.web.gate import GatedRoute
from consent_service.web.ratelimit import rate_limited
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)


@dataclass(frozen=True)
class CitizenRow:
    """A line of the citizen list: name and birth date, the two consents, the next task."""

    listed: directory.Listed
    journal: Standing
    wellbeing: Standing
    next_task: directory.NextTask | None


def _sort_of(value: str) -> directory.Sort:
    try:
        return directory.Sort(value)
    except ValueError:
        return directory.Sort.NAME


def _page_no(value: str) -> int:
    number = ascii_number(value, 6)
    return 1 if number is None else number


def _list_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Principal,
    rows: list[directory.Listed],
    *,
    sort: directory.Sort,
    side: str,
    form: FormState,
    searched: bool,
) -> Response:
    """Sort and page ``rows``, add each shown citizen's consents and next task (asked of
    the consent and job services), audit the names shown, render the list."""
    today = legal_today(ctx.clock)
    next_items = next_tasks(session, me.organisation_id, today)
    due = {cid: task.due_on for cid, task in next_items.items()}
    shown = directory.page_of(directory.sorted_rows(rows, sort, due), _page_no(side))
    directory.record_listed(session, ctx.deps, me.actor, shown.rows)
    lines = [
        CitizenRow(
            listed=row,
            journal=standing_of(session, row.citizen_id, "journal", today),
            wellbeing=standing_of(session, row.citizen_id, "wellbeing", today),
            next_task=next_items.get(row.citizen_id),
        )
        for row in shown.rows
    ]
    return page(
        request,
        "citizens.html",
        status_code=400 if form.has_errors else 200,
        me=me,
        form=form,
        rows=lines,
        shown=shown,
        sort=sort.value,
        sorts=SORTS,
        searched=searched,
    )


SORTS = {
    directory.Sort.NAME.value: "Navn",
    directory.Sort.BIRTH_DATE.value: "Fødselsdato",
    directory.Sort.NEXT_TASK.value: "Næste opgave",
}


@router.get("/borgere", response_class=HTMLResponse)
def citizens_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("citizen:list")],
    sort: Annotated[str, Query(max_length=20)] = "",
    side: Annotated[str, Query(max_length=10)] = "1",
) -> Response:
    """Every citizen of the organisation, sorted and paged (no personal data in the
    address: a search is a POST, see ``search``)."""
    rows = directory.directory(session, ctx.deps, me.organisation_id)
    return _list_page(
        request,
        ctx,
        session,
        me,
        rows,
        sort=_sort_of(sort),
        side=side,
        form=FormState(),
        searched=False,
    )


@router.post("/borgere/soeg", response_class=HTMLResponse)
def search(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("citizen:search")],
    q: Annotated[str, Form(max_length=4 * directory.MAX_TERM)] = "",
    cpr: Annotated[str, Form(max_length=20)] = "",
    sort: Annotated[str, Form(max_length=20)] = "",
    side: Annotated[str, Form(max_length=10)] = "1",
) -> Response:
    """Find citizens by part of a name or by CPR: a POST, so neither a name nor a CPR
    number is ever in an address; sorting and paging a result post the term again. A
    full CPR number goes through the blind index and opens the citizen it finds."""
    term = (q or cpr).strip()
    form = FormState.of(q=term)
    chosen = _sort_of(sort)
    if not term or len(term) > directory.MAX_TERM:
        form.add(
            "q",
            f"Skriv højst {directory.MAX_TERM} tegn."
            if term
            else "Skriv et navn, en del af et navn eller et CPR-nummer.",
        )
        return _list_page(
            request, ctx, session, me, [], sort=chosen, side="1", form=form, searched=True
        )
    criterion = directory.criterion_of(term)
    if criterion is directory.Criterion.CPR:
        try:
            found = service.find_by_cpr(session, ctx.deps, me.actor, me.organisation_id, term)
        except InvalidInput as exc:
            form.add("q", exc.message)
            return _list_page(
                request, ctx, session, me, [], sort=chosen, side="1", form=form, searched=True
            )
        if found is None:
            form.add("q", "Ingen borger med det CPR-nummer er registreret i din organisation.")
            response = _list_page(
                request, ctx, session, me, [], sort=chosen, side="1", form=form, searched=True
            )
            response.status_code = 404
            return response
        return RedirectResponse(f"/borgere/{found.public_id}", status_code=303)
    rows = directory.matching(directory.directory(session, ctx.deps, me.organisation_id), term)
    directory.record_search(session, ctx.deps, me.actor, criterion, term, len(rows))
    return _list_page(
        request, ctx, session, me, rows, sort=chosen, side=side, form=form, searched=True
    )


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
    except service.AlreadyRegistered as exc:
        form.fail(exc, "cpr")
        return failed(request, "citizen_new.html", form, me=me, existing=exc.public_id)
    except InvalidInput as exc:
        return failed(request, "citizen_new.html", form.fail(exc, "cpr"), me=me)
    return notices.redirect(f"/borgere/{citizen.public_id}", "citizen-registered")


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
        prefix=citizen_view.REFERRAL_FORM, referrer_kind=referrer_kind, clinic=clinic,
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
        return citizen_view.failed(request, ctx, session, me, citizen, form)
    return notices.redirect(f"/borgere/{public_id}", "referral-registered")


@router.get("/borgere/{public_id}/ret", response_class=HTMLResponse)
def correction_form(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("citizen:update")],
    public_id: str,
) -> Response:
    citizen = service.citizen_in_organisation(session, me.organisation_id, public_id)
    view = service.read_citizen(session, ctx.deps, me.actor, citizen, purpose="correction")
    form = FormState.of(
        name=view.name,
        phone=view.phone,
        email=view.email,
        municipality=view.municipality,
        gp_clinic=view.gp_clinic,
        reason="",
    )
    return page(request, "citizen_edit.html", me=me, form=form, citizen=view)


@router.post("/borgere/{public_id}/ret", response_class=HTMLResponse)
def correct(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("citizen:update")],
    public_id: str,
    name: Annotated[str, Form(max_length=200)] = "",
    phone: Annotated[str, Form(max_length=30)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    municipality: Annotated[str, Form(max_length=100)] = "",
    gp_clinic: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=corrections.REASON_MAX)] = "",
) -> Response:
    """Correct the citizen's name, contact data or practice with a reason: only the
    fields that changed are recorded, before and after, in the citizen's history."""
    citizen = service.citizen_in_organisation(session, me.organisation_id, public_id)
    form = FormState.of(
        name=name,
        phone=phone,
        email=email,
        municipality=municipality,
        gp_clinic=gp_clinic,
        reason=reason,
    )
    data = corrections.CorrectionInput(name, phone, email, municipality, gp_clinic, reason)
    try:
        corrections.correct_citizen(session, ctx.deps, me.actor, citizen, data)
    except InvalidInput as exc:
        view = service.read_citizen(session, ctx.deps, me.actor, citizen, purpose="correction")
        return failed(request, "citizen_edit.html", form.fail(exc), me=me, citizen=view)
    return notices.redirect(f"/borgere/{public_id}", "citizen-corrected")


@router.get("/borgere/{public_id}", response_class=HTMLResponse)
def citizen_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("citizen:read")],
    public_id: str,
) -> Response:
    citizen = service.citizen_in_organisation(session, me.organisation_id, public_id)
    return citizen_view.render(request, ctx, session, me, citizen)


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

"""HTTP for paper originals: the data controller's locations (``/papir/placeringer``) and
the navigator's custody forms on the citizen's page (lagt på plads, taget ud, lagt
tilbage) and the destruction of an original, which asks for confirmation first.

The forms follow the form pattern (``web/forms.py``): a mistake comes back on the same page
with 400, a refused action (out already, destroyed already) with 409, values kept."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.citizens.models import Citizen
from consent_service.clock import legal_today
from consent_service.consents import paper, service
from consent_service.consents.models import Consent
from consent_service.consents.paper_models import DESTROYED, RETURNED, STORED, PaperLocation
from consent_service.errors import InvalidInput, NotFound, RuleRefusal
from consent_service.text import ascii_number
from consent_service.web import citizen_page as citizen_view
from consent_service.web import notices
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import (
    Confirmation,
    FormState,
    confirmation,
    failed,
    is_confirmed,
    parse_choice,
    parse_date,
)
from consent_service.web.gate import GatedRoute
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)
LOCATIONS = "/papir/placeringer"
NEW_LOCATION = "ny-placering-"


def rename_prefix(location_id: int) -> str:
    return f"placering-{location_id}-"


def custody_prefix(consent_public_id: str) -> str:
    """The id prefix of an original's custody form on the citizen's page."""
    return f"original-{consent_public_id}-"


def _locations_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Principal,
    form: FormState | None = None,
) -> Response:
    context: dict[str, Any] = {
        "me": me,
        "locations": paper.locations(session, me.organisation_id),
        "new_prefix": NEW_LOCATION,
        "rename_prefix": rename_prefix,
        "name_max": paper.NAME_MAX,
    }
    if form is not None:
        return failed(request, "paper_locations.html", form, form.status_code, **context)
    return page(request, "paper_locations.html", form=None, **context)


def _location(session: DbSession, me: Principal, location_id: str) -> PaperLocation:
    number = ascii_number(location_id, 12)
    if number is None:
        raise NotFound("paper location")
    return paper.location_in_organisation(session, me.organisation_id, number)


@router.get(LOCATIONS, response_class=HTMLResponse)
def locations_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("paper:locations")],
) -> Response:
    """Where the organisation keeps its signed originals, and how many lie in each."""
    return _locations_page(request, ctx, session, me)


@router.post(LOCATIONS, response_class=HTMLResponse)
def create_location(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("paper:locations")],
    name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    form = FormState.of(prefix=NEW_LOCATION, name=name)
    try:
        paper.create_location(session, ctx.deps, me.actor, me.organisation_id, name)
    except (InvalidInput, RuleRefusal) as exc:
        form.fail(exc, "name")
        return _locations_page(request, ctx, session, me, form)
    return notices.redirect(LOCATIONS, "paper-location-created")


@router.post(LOCATIONS + "/{location_id}/omdoeb", response_class=HTMLResponse)
def rename_location(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("paper:locations")],
    location_id: str,
    name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    loc = _location(session, me, location_id)
    form = FormState.of(prefix=rename_prefix(loc.id), name=name)
    try:
        paper.rename_location(session, ctx.deps, me.actor, loc, name)
    except (InvalidInput, RuleRefusal) as exc:
        form.fail(exc, "name")
        return _locations_page(request, ctx, session, me, form)
    return notices.redirect(LOCATIONS, "paper-location-renamed")


@router.post(LOCATIONS + "/{location_id}/udgaa", response_class=HTMLResponse)
def retire_location(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("paper:locations")],
    location_id: str,
) -> Response:
    loc = _location(session, me, location_id)
    form = FormState.of(prefix=rename_prefix(loc.id), name=loc.name)
    try:
        paper.retire_location(session, ctx.deps, me.actor, loc)
    except (InvalidInput, RuleRefusal) as exc:
        form.fail(exc, "name")
        return _locations_page(request, ctx, session, me, form)
    return notices.redirect(LOCATIONS, "paper-location-retired")


def _consent(session: DbSession, me: Principal, consent_id: str) -> tuple[Citizen, Consent]:
    return service.consent_in_organisation(session, me.organisation_id, consent_id)


def _back(citizen: Citizen, key: str) -> Response:
    return notices.redirect(f"/borgere/{citizen.public_id}", key)


@router.post("/samtykker/{consent_id}/original", response_class=HTMLResponse)
def record_custody(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("paper:custody")],
    consent_id: str,
    action: Annotated[str, Form(max_length=16)] = "",
    location_id: Annotated[str, Form(max_length=16)] = "",
    person: Annotated[str, Form(max_length=400)] = "",
    occurred_on: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Lagt på plads (stored), taget ud (taken_out) or lagt tilbage (returned)."""
    citizen, consent = _consent(session, me, consent_id)
    form = FormState.of(
        prefix=custody_prefix(consent.public_id),
        action=action,
        location_id=location_id,
        person=person,
        occurred_on=occurred_on,
        note=note,
    )
    event = parse_choice(form, "action", paper.HANDLING, "Vælg, hvad der sker med originalen.")
    day = parse_date(form, "occurred_on")
    where: int | None = None
    if event in (STORED, RETURNED):
        try:
            where = paper.chosen_location(form.value("location_id"))
        except InvalidInput as exc:
            form.fail(exc)
    if event is not None and day is not None and not form.has_errors:
        try:
            paper.record(
                session,
                ctx.deps,
                me.actor,
                citizen,
                consent,
                event,
                occurred_on=day,
                person=person,
                location_id=where,
                note=note,
            )
        except (InvalidInput, RuleRefusal) as exc:
            form.fail(exc)
    if form.has_errors:
        return citizen_view.failed(request, ctx, session, me, citizen, form)
    return _back(citizen, f"paper-{event}")


@router.post("/samtykker/{consent_id}/original/makuler", response_class=HTMLResponse)
def destroy_original(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("paper:custody")],
    consent_id: str,
    person: Annotated[str, Form(max_length=400)] = "",
    occurred_on: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=1000)] = "",
    confirmed: Annotated[str, Form(max_length=8)] = "",
    tilbage: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Two posts (``forms.confirmation``): the first says what destroying the original
    means, the second records who destroyed it, how and when. From the worklist
    (``tilbage=arbejdsliste``), or for an erased citizen, the answer leads back to the
    worklist and a mistake comes back on a page of its own (the citizen's page is gone)."""
    citizen, consent = _consent(session, me, consent_id)
    to_worklist = tilbage == "arbejdsliste" or citizen.deleted_at is not None
    back = "/arbejdsliste" if to_worklist else f"/borgere/{citizen.public_id}"
    form = FormState.of(
        prefix=custody_prefix(consent.public_id) + "makuler-",
        person=person,
        occurred_on=occurred_on,
        note=note,
    )
    day = parse_date(form, "occurred_on")
    if day is not None:
        try:
            if not is_confirmed(confirmed):
                lines = paper.destruction_preview(
                    session, citizen, consent, legal_today(ctx.clock), person, note
                )
                return confirmation(
                    request,
                    me,
                    Confirmation(
                        title="Bekræft, at originalen er destrueret",
                        lines=lines,
                        action=f"/samtykker/{consent.public_id}/original/makuler",
                        fields={
                            "person": person,
                            "occurred_on": day.isoformat(),
                            "note": note,
                            "tilbage": "arbejdsliste" if to_worklist else "",
                        },
                        button="Registrér destruktionen",
                        cancel_href=back,
                    ),
                )
            paper.record(
                session,
                ctx.deps,
                me.actor,
                citizen,
                consent,
                DESTROYED,
                occurred_on=day,
                person=person,
                note=note,
            )
        except (InvalidInput, RuleRefusal) as exc:
            form.fail(exc)
    if form.has_errors and to_worklist:
        return failed(
            request,
            "paper_destroy.html",
            form,
            form.status_code,
            me=me,
            consent_id=consent.public_id,
            form_code=paper.form_code(session, consent),
            today=legal_today(ctx.clock),
        )
    if form.has_errors:
        return citizen_view.failed(request, ctx, session, me, citizen, form)
    return notices.redirect(back, "paper-destroyed")

"""HTTP for consents: print a form (and print it again), record a signed or refused one,
confirm the journal entry, withdraw, invalidate, and export (receipt PDF, scan, FHIR R4,
ISO/IEC TS 27560).

The page forms follow the form pattern (``web/forms.py``): a mistake comes back on the
citizen's page (``web/citizen_page.py``) with status 400, or 409 when a rule refuses the
action: the form in its card with the error summary, the message beside the field, the
values kept, the scan to choose again; success redirects to the citizen's page with a
notice. Withdrawing and invalidating ask for confirmation first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response

from consent_service.citizens import service as citizens
from consent_service.citizens.models import Citizen
from consent_service.consents import paper, printed, reading, service
from consent_service.consents.catalogue import catalogue
from consent_service.consents.models import Consent
from consent_service.consents.paper_models import STORED
from consent_service.errors import InvalidInput, RuleRefusal
from consent_service.text import SINGLE_LINE_PATTERN, SafeText
from consent_service.web import citizen_page as citizen_view
from consent_service.web import notices
from consent_service.web.bodylimit import body_limit
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import (
    Confirmation,
    FormState,
    confirmation,
    is_confirmed,
    parse_date,
)
from consent_service.web.gate import GatedRoute

router = APIRouter(route_class=GatedRoute)
# A consent's public id in an API path: any text under the shared text rule (the edge
# refuses the rest with 400); an unknown id, or another organisation's, is 404.
ConsentId = Annotated[str, Path(pattern=SINGLE_LINE_PATTERN, max_length=64)]
FormId = Annotated[str, Path(pattern=SINGLE_LINE_PATTERN, max_length=64)]
SCAN_FORM_MARGIN = 64 * 1024  # the form's other fields and the multipart framing


class FhirJSON(JSONResponse):
    """An HL7 FHIR resource in JSON (its own media type, as the API description says)."""

    media_type = "application/fhir+json"


FHIR_CONSENT = {
    "description": "An HL7 FHIR R4 Consent resource.",
    "content": {
        "application/fhir+json": {
            "schema": {
                "type": "object",
                "required": ["resourceType"],
                "properties": {"resourceType": {"const": "Consent"}},
            }
        }
    },
}


def _consent(session: DbSession, me: Principal, consent_id: str) -> tuple[Citizen, Consent]:
    return service.consent_in_organisation(session, me.organisation_id, consent_id)


def _pdf(content: bytes, filename: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.post("/borgere/{public_id}/samtykke/{kind}/udskriv")
def print_form(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("consent:print")],
    public_id: str,
    kind: str,
) -> Response:
    """A pre-filled PDF form with a unique form id and short form code; the form and its PDF
    are kept for recording and for printing again."""
    citizen = citizens.citizen_in_organisation(session, me.organisation_id, public_id)
    form, pdf = printed.print_form(session, ctx.deps, me.actor, citizen, kind)
    return _pdf(pdf, f"samtykke-{kind}-{form.form_id}.pdf")


@router.get("/borgere/{public_id}/blanketter/{form_id}")
def printed_again(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("consent:print")],
    public_id: str,
    form_id: FormId,
) -> Response:
    """The printed form's PDF again, byte for byte (its SHA-256 is the recorded one)."""
    citizen = citizens.citizen_in_organisation(session, me.organisation_id, public_id)
    form, pdf = printed.printed_pdf(session, ctx.deps, me.actor, citizen, form_id)
    return _pdf(pdf, f"samtykke-{form.kind}-{form.form_id}.pdf")


def _done(citizen: Citizen, key: str) -> Response:
    return notices.redirect(f"/borgere/{citizen.public_id}", key)


def _storage_location(session: DbSession, me: Principal, form: FormState) -> int | None:
    """The place chosen for the paper original on the recording form, checked before
    anything is written (an unknown, another organisation's or a retired place keeps the
    form); None when none was chosen (it can be recorded later on the consent)."""
    raw = form.value("location_id")
    if not raw.strip():
        return None
    me.ensure_also("paper:custody", resource_organisation_id=me.organisation_id)
    try:
        chosen = paper.chosen_location(raw)
        return paper.storable_location(session, me.organisation_id, chosen).id
    except InvalidInput as exc:
        form.fail(exc)
        return None


@router.post("/borgere/{public_id}/samtykke/{kind}/registrer", response_class=HTMLResponse)
@body_limit(service.MAX_SCAN_BYTES + SCAN_FORM_MARGIN)
def record_signed(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("consent:record")],
    public_id: str,
    kind: str,
    # A multipart form is not read by the text guard of the edge: SafeText checks it here.
    form_id: Annotated[SafeText, Form(max_length=64)] = "",
    short_code: Annotated[SafeText, Form(max_length=32)] = "",
    signed_on: Annotated[SafeText, Form(max_length=32)] = "",
    witness: Annotated[SafeText, Form(max_length=400)] = "",
    location_id: Annotated[SafeText, Form(max_length=16)] = "",
    scan: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Record the signed form with its scan; the consent becomes active. The form is the
    one the scan's QR code names, else the one whose short code was typed, else the one
    chosen (``printed.form_to_record``). With a location chosen, the paper original is
    recorded as put there (custody), in the same transaction."""
    citizen = citizens.citizen_in_organisation(session, me.organisation_id, public_id)
    form = FormState.of(
        prefix=f"{kind}-record-",
        form_id=form_id,
        short_code=short_code,
        signed_on=signed_on,
        witness=witness,
        location_id=location_id,
    )
    signed = parse_date(form, "signed_on")
    where = _storage_location(session, me, form)
    content = scan.file.read(service.MAX_SCAN_BYTES + 1) if scan is not None else b""
    try:
        found = printed.form_to_record(
            session, citizen, kind, scan=content, typed_code=short_code, chosen_form_id=form_id
        )
        if signed is not None and not form.has_errors:
            consent = service.record_signed(
                session,
                ctx.deps,
                me.actor,
                citizen,
                kind,
                form_id=found.form.form_id,
                signed_on=signed,
                witness=witness,
                scan=content,
            )
            if where is not None:
                paper.record(
                    session,
                    ctx.deps,
                    me.actor,
                    citizen,
                    consent,
                    STORED,
                    occurred_on=signed,
                    person=me.user.display_name,
                    location_id=where,
                )
    except (InvalidInput, RuleRefusal) as exc:
        form.fail(exc)
    if form.has_errors:
        service.check_kind(catalogue(), kind)
        form.lose_files("scan")
        return citizen_view.failed(request, ctx, session, me, citizen, form)
    return _done(citizen, "consent-recorded")


@router.post("/borgere/{public_id}/samtykke/{kind}/afslag", response_class=HTMLResponse)
def record_refused(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("consent:record")],
    public_id: str,
    kind: str,
    decided_on: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    citizen = citizens.citizen_in_organisation(session, me.organisation_id, public_id)
    form = FormState.of(prefix=f"{kind}-refuse-", decided_on=decided_on)
    day = parse_date(form, "decided_on")
    if day is not None:
        try:
            service.record_refused(session, ctx.deps, me.actor, citizen, kind, day)
        except (InvalidInput, RuleRefusal) as exc:
            form.fail(exc)
    if form.has_errors:
        service.check_kind(catalogue(), kind)
        return citizen_view.failed(request, ctx, session, me, citizen, form)
    return _done(citizen, "consent-refused")


@router.post("/samtykker/{consent_id}/journal", response_class=HTMLResponse)
def confirm_journal(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("consent:journal")],
    consent_id: str,
    entered_on: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    citizen, consent = _consent(session, me, consent_id)
    form = FormState.of(prefix=f"journal-{consent.public_id}-", entered_on=entered_on)
    day = parse_date(form, "entered_on")
    if day is not None:
        try:
            service.confirm_journal_entry(session, ctx.deps, me.actor, citizen, consent, day)
        except (InvalidInput, RuleRefusal) as exc:
            form.fail(exc)
    if form.has_errors:
        return citizen_view.failed(request, ctx, session, me, citizen, form)
    return _done(citizen, "journal-confirmed")


@router.post("/samtykker/{consent_id}/tilbagekald", response_class=HTMLResponse)
def withdraw(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("consent:withdraw")],
    consent_id: str,
    withdrawn_on: Annotated[str, Form(max_length=32)] = "",
    channel: Annotated[str, Form(max_length=16)] = "",
    confirmed: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Two posts (``forms.confirmation``): the first shows what the withdrawal does, incl.
    by when the retention schedule deletes what it ends; the second records it."""
    citizen, consent = _consent(session, me, consent_id)
    form = FormState.of(
        prefix=f"withdraw-{consent.public_id}-", withdrawn_on=withdrawn_on, channel=channel
    )
    day = parse_date(form, "withdrawn_on")
    if day is not None:
        try:
            lines = reading.withdrawal_preview(session, ctx.deps, consent, day, channel)
            if not is_confirmed(confirmed):
                return confirmation(
                    request,
                    me,
                    Confirmation(
                        title="Bekræft tilbagekaldelsen",
                        lines=lines,
                        action=f"/samtykker/{consent.public_id}/tilbagekald",
                        fields={"withdrawn_on": day.isoformat(), "channel": channel},
                        button="Registrér tilbagekaldelsen",
                        cancel_href=f"/borgere/{citizen.public_id}",
                    ),
                )
            service.withdraw(session, ctx.deps, me.actor, citizen, consent, day, channel)
        except (InvalidInput, RuleRefusal) as exc:
            form.fail(exc)
    if form.has_errors:
        return citizen_view.failed(request, ctx, session, me, citizen, form)
    return _done(citizen, "consent-withdrawn")


@router.post("/samtykker/{consent_id}/ugyldiggoer", response_class=HTMLResponse)
def invalidate(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("consent:record")],
    consent_id: str,
    reason: Annotated[str, Form(max_length=32)] = "",
    confirmed: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Two posts, as a withdrawal: the confirmation says what marking it invalid does."""
    citizen, consent = _consent(session, me, consent_id)
    form = FormState.of(prefix=f"invalidate-{consent.public_id}-", reason=reason)
    try:
        lines = reading.invalidation_preview(session, consent, reason)
        if not is_confirmed(confirmed):
            return confirmation(
                request,
                me,
                Confirmation(
                    title="Bekræft, at registreringen er forkert",
                    lines=lines,
                    action=f"/samtykker/{consent.public_id}/ugyldiggoer",
                    fields={"reason": reason},
                    button="Ugyldiggør registreringen",
                    cancel_href=f"/borgere/{citizen.public_id}",
                ),
            )
        service.invalidate(session, ctx.deps, me.actor, citizen, consent, reason)
    except (InvalidInput, RuleRefusal) as exc:
        form.fail(exc)
    if form.has_errors:
        return citizen_view.failed(request, ctx, session, me, citizen, form)
    return _done(citizen, "consent-invalidated")


@router.get("/samtykker/{consent_id}/kvittering.pdf")
def receipt(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("consent:export")],
    consent_id: ConsentId,
) -> Response:
    citizen, consent = _consent(session, me, consent_id)
    pdf = reading.receipt_pdf(session, ctx.deps, me.actor, citizen, consent)
    return _pdf(pdf, f"kvittering-{consent.public_id}.pdf")


@router.get("/samtykker/{consent_id}/scanning")
def scan(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("consent:export")],
    consent_id: ConsentId,
) -> Response:
    citizen, consent = _consent(session, me, consent_id)
    content, content_type = reading.scan_file(session, ctx.deps, me.actor, citizen, consent)
    return Response(content, media_type=content_type, headers={"Content-Disposition": "attachment"})


@router.get(
    "/api/v1/consents/{consent_id}/fhir", response_class=FhirJSON, responses={200: FHIR_CONSENT}
)
def fhir(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("consent:export")],
    consent_id: ConsentId,
) -> Response:
    """The consent as an HL7 FHIR R4 Consent resource."""
    citizen, consent = _consent(session, me, consent_id)
    return FhirJSON(reading.fhir_consent(session, ctx.deps, me.actor, citizen, consent))


@router.get("/api/v1/consents/{consent_id}/iso27560")
def iso27560(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("consent:export")],
    consent_id: ConsentId,
) -> dict[str, Any]:
    """The consent as a record shaped after ISO/IEC TS 27560."""
    citizen, consent = _consent(session, me, consent_id)
    return reading.iso27560_record(session, ctx.deps, me.actor, citizen, consent)

"""HTTP for consents: print a form, record a signed or refused one, confirm the journal
entry, withdraw, and export (receipt PDF, scan, FHIR R4, ISO/IEC TS 27560)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response

from consent_service.citizens import service as citizens
from consent_service.citizens.models import Citizen
from consent_service.consents import reading, service
from consent_service.consents.models import Consent
from consent_service.text import SINGLE_LINE_PATTERN, SafeText
from consent_service.web.bodylimit import body_limit
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.gate import GatedRoute

router = APIRouter(route_class=GatedRoute)
# A consent's public id in an API path: any text under the shared text rule (the edge
# refuses the rest with 400); an unknown id, or another organisation's, is 404.
ConsentId = Annotated[str, Path(pattern=SINGLE_LINE_PATTERN, max_length=64)]
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


def _back(citizen: Citizen) -> RedirectResponse:
    return RedirectResponse(f"/borgere/{citizen.public_id}", status_code=303)


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
    """A pre-filled PDF form with a unique form id; the form is remembered for recording."""
    citizen = citizens.citizen_in_organisation(session, me.organisation_id, public_id)
    form, pdf = service.print_form(session, ctx.deps, me.actor, citizen, kind)
    return _pdf(pdf, f"samtykke-{kind}-{form.form_id}.pdf")


@router.post("/borgere/{public_id}/samtykke/{kind}/registrer")
@body_limit(service.MAX_SCAN_BYTES + SCAN_FORM_MARGIN)
def record_signed(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("consent:record")],
    public_id: str,
    kind: str,
    form_id: Annotated[SafeText, Form(max_length=32)],
    signed_on: Annotated[date, Form()],
    witness: Annotated[SafeText, Form(max_length=200)],
    scan: Annotated[UploadFile, File()],
) -> Response:
    """Record the signed form with its scan; the consent becomes active."""
    citizen = citizens.citizen_in_organisation(session, me.organisation_id, public_id)
    content = scan.file.read(service.MAX_SCAN_BYTES + 1)
    service.record_signed(
        session,
        ctx.deps,
        me.actor,
        citizen,
        kind,
        form_id=form_id,
        signed_on=signed_on,
        witness=witness,
        scan=content,
    )
    return _back(citizen)


@router.post("/borgere/{public_id}/samtykke/{kind}/afslag")
def record_refused(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("consent:record")],
    public_id: str,
    kind: str,
    decided_on: Annotated[date, Form()],
) -> Response:
    citizen = citizens.citizen_in_organisation(session, me.organisation_id, public_id)
    service.record_refused(session, ctx.deps, me.actor, citizen, kind, decided_on)
    return _back(citizen)


@router.post("/samtykker/{consent_id}/journal")
def confirm_journal(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("consent:journal")],
    consent_id: str,
    entered_on: Annotated[date, Form()],
) -> Response:
    citizen, consent = _consent(session, me, consent_id)
    service.confirm_journal_entry(session, ctx.deps, me.actor, citizen, consent, entered_on)
    return _back(citizen)


@router.post("/samtykker/{consent_id}/tilbagekald")
def withdraw(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("consent:withdraw")],
    consent_id: str,
    withdrawn_on: Annotated[date, Form()],
    channel: Annotated[str, Form(max_length=16)],
) -> Response:
    citizen, consent = _consent(session, me, consent_id)
    service.withdraw(session, ctx.deps, me.actor, citizen, consent, withdrawn_on, channel)
    return _back(citizen)


@router.post("/samtykker/{consent_id}/ugyldiggoer")
def invalidate(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("consent:record")],
    consent_id: str,
    reason: Annotated[str, Form(max_length=32)],
) -> Response:
    citizen, consent = _consent(session, me, consent_id)
    service.invalidate(session, ctx.deps, me.actor, citizen, consent, reason)
    return _back(citizen)


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

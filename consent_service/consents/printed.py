"""Printed forms: print one (with its short form code), keep the PDF sealed and give it
again byte for byte, and find the form a signed scan belongs to.

Which form a recording is for, in this order:
1. the scan's QR code, if one can be read: it decides, and is refused with a clear message
   when it is another citizen's form, another kind's, or a form already recorded; a QR that
   is not one of the organisation's forms (another organisation's, or no form at all) gets
   the same message as an unknown one, so nothing is learned about other organisations;
2. else the short form code typed by the navigator (``shortcode``: forgiving of case,
   dashes, O/0 and I/L/1);
3. else the form chosen on the page (the newest unrecorded form is preselected).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.citizens.models import Citizen
from consent_service.citizens.service import decrypt
from consent_service.citizens.vault import CitizenVault
from consent_service.clock import legal_today
from consent_service.consents import repository as repo
from consent_service.consents import shortcode
from consent_service.consents.catalogue import catalogue
from consent_service.consents.form_pdf import render_form
from consent_service.consents.models import ConsentForm
from consent_service.consents.qr import qr_texts
from consent_service.consents.scans import validate_scan
from consent_service.consents.service import check_kind, controller_name, require_adult
from consent_service.consents.views import ConsentFormInput
from consent_service.errors import InvalidInput, NotFound, RuleRefusal
from consent_service.services import ServiceDeps

log = structlog.get_logger()

FORM_ID = re.compile(r"^[0-9a-f]{32}$")
CODE_ATTEMPTS = 8  # 35 random bits: a second collision in a row is already improbable

UNKNOWN_QR = (
    "Scanningens QR-kode kendes ikke som en samtykkeerklæring fra jeres organisation. "
    "Kontrollér, at det er den rigtige scanning, eller skriv blanketkoden."
)
SEVERAL_QR = "Scanningen har QR-koder fra flere erklæringer. Scan én erklæring ad gangen."
OTHER_CITIZEN = (
    "Scanningens QR-kode skal tilhøre borgeren: erklæringen er udskrevet til en anden borger."
)
UNKNOWN_CODE = "Der er ingen erklæring med den blanketkode. Kontrollér koden på papiret."
BAD_CODE = "Blanketkoden er ikke gyldig. Den har 8 tegn, fx K7QM-4XP2; kontrollér den."
CODE_OTHER_CITIZEN = "Blanketkoden hører til en erklæring udskrevet til en anden borger."
ALREADY_RECORDED = "Erklæringen er allerede registreret."
CHOOSE_FORM = "Vælg erklæringen, eller skriv blanketkoden fra papiret."
NOT_KEPT = (
    "Denne erklæring blev udskrevet, før udskrifterne blev gemt, og kan ikke hentes igen. "
    "Udskriv en ny erklæring."
)
PDF_MISMATCH = (
    "Den gemte udskrift stemmer ikke med den registrerede kontrolsum og udleveres ikke. "
    "Udskriv en ny erklæring, og kontakt den dataansvarlige."
)


def _pdf_column(form_id: str) -> str:
    return f"form-pdf:{form_id}"


def _new_short_code(session: Session) -> str:
    for _ in range(CODE_ATTEMPTS):
        code = shortcode.new_code()
        if repo.form_by_short_code(session, code) is None:
            return code
    raise RuntimeError("no free short form code")  # pragma: no cover


def print_form(
    session: Session, deps: ServiceDeps, actor: Actor, citizen: Citizen, kind: str
) -> tuple[ConsentForm, bytes]:
    """A pre-filled PDF consent form with a unique form id (in the QR) and short form code
    (beside it), for the citizen to sign. The PDF is kept sealed under the citizen's key."""
    cat = catalogue()
    check_kind(cat, kind)
    require_adult(session, deps, citizen)
    template = cat.current_template(kind)
    view = decrypt(deps, citizen)
    today = legal_today(deps.clock)
    form_id = uuid.uuid4().hex
    code = _new_short_code(session)
    pdf = render_form(
        ConsentFormInput(
            form_id=form_id,
            kind=kind,
            version=template.version,
            language=template.language,
            title=template.title,
            body_markdown=template.body,
            text_sha256=template.sha256,
            citizen_name=view.name,
            citizen_cpr=view.cpr.formatted,
            organisation_name=controller_name(session, citizen.organisation_id),
            printed_on=today,
            short_code=shortcode.formatted(code),
        )
    )
    vault = CitizenVault(deps.crypto)
    key = vault.unwrap(citizen.public_id, citizen.wrapped_key)
    form = ConsentForm(
        form_id=form_id,
        short_code=code,
        pdf_sealed=vault.seal_bytes(key, citizen.public_id, _pdf_column(form_id), pdf),
        citizen_id=citizen.id,
        organisation_id=citizen.organisation_id,
        kind=kind,
        template_version=template.version,
        language=template.language,
        text_sha256=template.sha256,
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        printed_on=today,
        printed_at=deps.clock.now(),
        printed_by=actor.user_id or 0,
    )
    session.add(form)
    session.flush()
    deps.audit.record(
        session,
        actor,
        action="consent.printed",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        details={
            "kind": kind,
            "form_id": form_id,
            "version": template.version,
            "text_sha256": template.sha256,
        },
    )
    return form, pdf


def printed_pdf(
    session: Session, deps: ServiceDeps, actor: Actor, citizen: Citizen, form_id: str
) -> tuple[ConsentForm, bytes]:
    """The printed PDF of the citizen's form again, byte for byte; audited. Refused when the
    form was printed before PDFs were kept, or when the bytes do not hash to ``pdf_sha256``
    (then logged: the stored copy is not what was printed)."""
    form = repo.form(session, citizen.organisation_id, form_id) if FORM_ID.match(form_id) else None
    if form is None or form.citizen_id != citizen.id:
        raise NotFound("form")
    if form.pdf_sealed is None:
        raise RuleRefusal(NOT_KEPT)
    vault = CitizenVault(deps.crypto)
    key = vault.unwrap(citizen.public_id, citizen.wrapped_key)
    pdf = vault.open_bytes(key, citizen.public_id, _pdf_column(form.form_id), form.pdf_sealed)
    if hashlib.sha256(pdf).hexdigest() != form.pdf_sha256:
        log.error("printed_form_hash_mismatch", form_id=form.form_id)
        raise RuleRefusal(PDF_MISMATCH)
    deps.audit.record(
        session,
        actor,
        action="consent.form_downloaded",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        details={
            "kind": form.kind,
            "form_id": form.form_id,
            "version": form.template_version,
            "text_sha256": form.text_sha256,
        },
    )
    return form, pdf


@dataclass(frozen=True)
class FoundForm:
    """The form a recording is for, and how it was found: ``qr``, ``code`` or ``chosen``."""

    form: ConsentForm
    found_by: str


def _check(
    session: Session, citizen: Citizen, kind: str, form: ConsentForm, field: str, other: str
) -> ConsentForm:
    if form.citizen_id != citizen.id:
        raise InvalidInput(other, field=field)
    if form.kind != kind:
        kinds = catalogue().kinds
        found, wanted = kinds[form.kind].short_name_da, kinds[kind].short_name_da
        raise InvalidInput(
            f"Erklæringen er et {found.lower()}, ikke et {wanted.lower()}. "
            f"Registrér den under {found.lower()}.",
            field=field,
        )
    if repo.consent_for_form(session, form.form_id) is not None:
        raise InvalidInput(ALREADY_RECORDED, field=field)
    return form


def form_to_record(
    session: Session,
    citizen: Citizen,
    kind: str,
    *,
    scan: bytes,
    typed_code: str,
    chosen_form_id: str,
) -> FoundForm:
    """The form a signed scan is recorded on (the order is in the module docstring); raises
    ``InvalidInput`` beside the field that decided (``scan``, ``short_code``, ``form_id``)."""
    check_kind(catalogue(), kind)
    content_type = validate_scan(scan)
    org = citizen.organisation_id
    texts = qr_texts(scan, content_type)
    if texts:
        ids = [t for t in texts if FORM_ID.match(t)]
        if len(ids) > 1:
            raise InvalidInput(SEVERAL_QR, field="scan")
        form = repo.form(session, org, ids[0]) if ids else None
        if form is None:
            raise InvalidInput(UNKNOWN_QR, field="scan")
        return FoundForm(_check(session, citizen, kind, form, "scan", OTHER_CITIZEN), "qr")
    if typed_code.strip():
        code = shortcode.normalise(typed_code)
        if code is None:
            raise InvalidInput(BAD_CODE, field="short_code")
        form = repo.form_by_short_code(session, code)
        if form is None or form.organisation_id != org:
            raise InvalidInput(UNKNOWN_CODE, field="short_code")
        return FoundForm(
            _check(session, citizen, kind, form, "short_code", CODE_OTHER_CITIZEN), "code"
        )
    form = repo.form(session, org, chosen_form_id) if FORM_ID.match(chosen_form_id) else None
    if form is None:
        raise InvalidInput(CHOOSE_FORM, field="form_id")
    return FoundForm(_check(session, citizen, kind, form, "form_id", CHOOSE_FORM), "chosen")

"""Reading consents: a citizen's consents with their state, history and what can be done
next, the record a controller demonstrates (GDPR art. 7(1)), and its exports (receipt
PDF, scan, HL7 FHIR R4, ISO/IEC TS 27560), each export audited in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.citizens.models import Citizen
from consent_service.citizens.service import decrypt
from consent_service.citizens.vault import CitizenVault
from consent_service.clock import legal_today
from consent_service.consents import repository as repo
from consent_service.consents import rules
from consent_service.consents.active import facts_of
from consent_service.consents.catalogue import catalogue
from consent_service.consents.exports import to_fhir_r4, to_iso27560
from consent_service.consents.labels import (
    CHANNELS,
    CORRECTION_REASONS,
    EVENT_NAMES_DA,
    STATE_NAMES_DA,
)
from consent_service.consents.models import Consent
from consent_service.consents.pdf import render_receipt
from consent_service.consents.service import (
    DataCollection,
    controller_name,
    data_collection,
    kind_offers,
)
from consent_service.consents.views import ConsentRecordView, LegalBasis
from consent_service.errors import NotFound
from consent_service.services import ServiceDeps

EXPIRY_WARNING_DAYS = 60


@dataclass(frozen=True)
class HistoryItem:
    """One line of a consent's history: the day, what happened (Danish), who recorded it."""

    on: date
    what: str
    by: int
    recorded_at: object


@dataclass(frozen=True)
class ConsentSummary:
    """A consent as the citizen's page shows it: its state today, its dates, its history
    and which actions the navigator may take on it."""

    public_id: str
    kind: str
    kind_name: str
    decision: str
    state: str
    state_name: str
    signed_on: date | None
    valid_until: date | None
    expiring_soon: bool
    journal_confirmed_on: date | None
    withdrawn_on: date | None
    template_version: str
    text_sha256: str
    has_scan: bool
    can_confirm_journal: bool
    can_withdraw: bool
    can_invalidate: bool
    journal_note: str | None
    notice: str | None
    history: tuple[HistoryItem, ...]


def journal_note(consent: Consent, facts: rules.ConsentFacts, recorder: str) -> str | None:
    """The note the navigator enters in the patient journal for a given journal consent."""
    if consent.kind != "journal" or consent.decision != "given" or facts.signed_on is None:
        return None
    kind = catalogue().kinds["journal"]
    until = rules.validity_end(kind, facts.signed_on)
    return (
        "Samtykke til indhentning og videregivelse af helbredsoplysninger "
        "(sundhedsloven § 42 d, stk. 1, og § 43, stk. 1) til resultatopfølgning i projektet "
        "Sociale henvisninger Norddjurs.\n"
        f"Givet skriftligt den {facts.signed_on:%d-%m-%Y}; gælder til og med "
        f"{until:%d-%m-%Y} (højst 1 år, sundhedsloven § 44).\n"
        f"Samtykkeerklæring {consent.form_id}, tekstversion {consent.template_version} "
        f"(sha256 {consent.text_sha256[:16]}).\n"
        "Patienten er informeret om formål, hvilke oplysninger det drejer sig om, og at "
        "samtykket kan tilbagekaldes, indtil oplysningerne er indhentet/videregivet.\n"
        f"Registreret af {recorder}."
    )


def summaries(session: Session, deps: ServiceDeps, citizen: Citizen) -> list[ConsentSummary]:
    """Every consent of the citizen with its state today, history and what can be done."""
    cat = catalogue()
    today = legal_today(deps.clock)
    out = []
    for consent in repo.consents_of(session, citizen.id):
        events = repo.events_of(session, consent.id)
        facts = facts_of(consent, events)
        kind = cat.kinds[consent.kind]
        state = rules.status_on(facts, kind, today)
        valid_until = (
            rules.validity_end(kind, facts.signed_on) if facts.signed_on is not None else None
        )
        history = [
            HistoryItem(
                consent.decided_on,
                "Samtykke givet" if consent.decision == "given" else "Samtykke afslået",
                consent.recorded_by,
                consent.recorded_at,
            )
        ]
        history += [
            HistoryItem(
                e.occurred_on,
                EVENT_NAMES_DA.get(e.event_type, e.event_type)
                + (f" ({CHANNELS[e.channel].lower()})" if e.channel in CHANNELS else "")
                + (f": {CORRECTION_REASONS[e.note]}" if e.note in CORRECTION_REASONS else ""),
                e.recorded_by,
                e.recorded_at,
            )
            for e in events
        ]
        open_ = facts.withdrawn_on is None and facts.invalidated_on is None
        if valid_until is not None and valid_until < today and open_:
            history.append(
                HistoryItem(valid_until + timedelta(days=1), "Udløbet", 0, consent.recorded_at)
            )
        notice = None
        if facts.withdrawn_on is not None and consent.kind == "journal":
            notice = rules.can_withdraw(facts, kind, facts.withdrawn_on).message
        out.append(
            ConsentSummary(
                public_id=consent.public_id,
                kind=consent.kind,
                kind_name=cat.name(consent.kind),
                decision=consent.decision,
                state=state.value,
                state_name=STATE_NAMES_DA[state.value],
                signed_on=facts.signed_on,
                valid_until=valid_until,
                expiring_soon=rules.expiring_within(facts, kind, today, EXPIRY_WARNING_DAYS),
                journal_confirmed_on=facts.journal_entry_confirmed_on,
                withdrawn_on=facts.withdrawn_on,
                template_version=consent.template_version,
                text_sha256=consent.text_sha256,
                has_scan=repo.scan_of(session, consent.id) is not None,
                can_confirm_journal=consent.kind == "journal"
                and consent.decision == "given"
                and facts.journal_entry_confirmed_on is None
                and open_,
                can_withdraw=consent.decision == "given" and open_,
                can_invalidate=facts.invalidated_on is None and facts.data_obtained_on is None,
                journal_note=journal_note(consent, facts, "navigatøren"),
                notice=notice,
                history=tuple(history),
            )
        )
    return out


def record_view(
    session: Session, deps: ServiceDeps, citizen: Citizen, consent: Consent
) -> ConsentRecordView:
    """The consent as the controller demonstrates it (GDPR art. 7(1)); decrypts identity."""
    cat = catalogue()
    kind = cat.kinds[consent.kind]
    facts = facts_of(consent, repo.events_of(session, consent.id))
    state = rules.status_on(facts, kind, legal_today(deps.clock))
    person = decrypt(deps, citizen)
    scan = repo.scan_of(session, consent.id)
    return ConsentRecordView(
        consent_id=consent.public_id,
        kind=consent.kind,
        state=state.value,
        subject_id=citizen.public_id,
        subject_cpr=person.cpr.value,
        subject_name=person.name,
        controller_name=controller_name(session, citizen.organisation_id),
        controller_contact=cat.controller_contact,
        dpo_contact=cat.dpo_contact,
        purpose=cat.purpose(consent.kind),
        data_categories=cat.data_categories(consent.kind),
        legal_bases=tuple(LegalBasis(code, text) for code, text in cat.legal_bases(consent.kind)),
        template_version=consent.template_version,
        language=consent.language,
        text_sha256=consent.text_sha256,
        form_id=consent.form_id,
        signed_on=facts.signed_on,
        recorded_at=consent.recorded_at,
        valid_from=facts.signed_on,
        valid_until=rules.validity_end(kind, facts.signed_on) if facts.signed_on else None,
        withdrawn_on=facts.withdrawn_on,
        withdrawal_method=cat.withdrawal_method(consent.kind),
        scan_sha256=scan.sha256 if scan else None,
        scan_content_type=scan.content_type if scan else None,
    )


def _read_scan(
    session: Session, deps: ServiceDeps, citizen: Citizen, consent: Consent
) -> tuple[bytes, str]:
    scan = repo.scan_of(session, consent.id)
    if scan is None:
        raise NotFound(consent.public_id)
    vault = CitizenVault(deps.crypto)
    key = vault.unwrap(citizen.public_id, citizen.wrapped_key)
    content = vault.open_bytes(
        key, citizen.public_id, f"scan:{consent.public_id}", scan.content_sealed
    )
    return content, scan.content_type


@dataclass(frozen=True)
class CitizenConsents:
    """What the citizen's page shows of consents: each one, and whether (and which) new
    data-collection consents may be recorded."""

    summaries: list[ConsentSummary]
    data_collection: DataCollection


def citizen_consents(session: Session, deps: ServiceDeps, citizen: Citizen) -> CitizenConsents:
    """The citizen's consents and the data-collection offer, with the forms printed and
    not yet recorded when the citizen may give them."""
    collection = data_collection(session, deps, citizen)
    if collection.allowed:
        collection = replace(collection, kinds=kind_offers(session, citizen))
    return CitizenConsents(summaries(session, deps, citizen), collection)


def _record_export(
    session: Session, deps: ServiceDeps, actor: Actor, citizen: Citizen, consent: Consent, fmt: str
) -> None:
    deps.audit.record(
        session,
        actor,
        action="consent.exported",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        details={"consent": consent.public_id, "format": fmt},
    )


def receipt_pdf(
    session: Session, deps: ServiceDeps, actor: Actor, citizen: Citizen, consent: Consent
) -> bytes:
    """The consent's receipt as a PDF, with the text the citizen signed; audited."""
    view = record_view(session, deps, citizen, consent)
    body = catalogue().template(consent.kind, consent.language, consent.template_version).body
    _record_export(session, deps, actor, citizen, consent, "receipt-pdf")
    return render_receipt(view, body)


def scan_file(
    session: Session, deps: ServiceDeps, actor: Actor, citizen: Citizen, consent: Consent
) -> tuple[bytes, str]:
    """The signed form's scan as uploaded, and its content type; audited."""
    content, content_type = _read_scan(session, deps, citizen, consent)
    _record_export(session, deps, actor, citizen, consent, "scan")
    return content, content_type


def fhir_consent(
    session: Session, deps: ServiceDeps, actor: Actor, citizen: Citizen, consent: Consent
) -> dict[str, Any]:
    """The consent as an HL7 FHIR R4 Consent resource; audited."""
    view = record_view(session, deps, citizen, consent)
    _record_export(session, deps, actor, citizen, consent, "fhir-r4")
    return to_fhir_r4(view)


def iso27560_record(
    session: Session, deps: ServiceDeps, actor: Actor, citizen: Citizen, consent: Consent
) -> dict[str, Any]:
    """The consent as a record shaped after ISO/IEC TS 27560; audited."""
    view = record_view(session, deps, citizen, consent)
    _record_export(session, deps, actor, citizen, consent, "iso27560")
    return to_iso27560(view)

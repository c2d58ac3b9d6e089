"""Reading consents: a citizen's consents with their state, history and what can be done
next, the record a controller demonstrates (GDPR art. 7(1)), and its exports (receipt
PDF, scan, HL7 FHIR R4, ISO/IEC TS 27560), each export audited in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache
from typing import Any

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.citizens.models import Citizen
from consent_service.citizens.service import decrypt
from consent_service.citizens.vault import CitizenVault
from consent_service.clock import legal_today
from consent_service.consents import repository as repo
from consent_service.consents import rules
from consent_service.consents.active import facts_of, in_force, states_of
from consent_service.consents.catalogue import catalogue
from consent_service.consents.exports import to_fhir_r4, to_iso27560
from consent_service.consents.labels import (
    CHANNELS,
    CORRECTION_REASONS,
    EVENT_NAMES_DA,
    STATE_NAMES_DA,
)
from consent_service.consents.models import Consent, shown_code
from consent_service.consents.pdf import render_receipt
from consent_service.consents.service import (
    EXPIRY_WARNING_DAYS as EXPIRY_WARNING_DAYS,
)
from consent_service.consents.service import (
    DataCollection,
    controller_name,
    data_collection,
    kind_offers,
)
from consent_service.consents.views import ConsentRecordView, LegalBasis
from consent_service.errors import InvalidInput, NotFound, RuleRefusal
from consent_service.identity.repository import user_by_id
from consent_service.retention.schedule import default_schedule
from consent_service.services import ServiceDeps


@dataclass(frozen=True)
class HistoryItem:
    """One line of a consent's history: the day, what happened (Danish), who recorded it
    (their display name; empty for what no one recorded, such as an expiry)."""

    on: date
    what: str
    by: str
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
    withdrawal_channel: str | None
    template_version: str
    text_sha256: str
    form_code: str | None
    in_force: bool
    next_steps: tuple[str, ...]
    has_scan: bool
    can_confirm_journal: bool
    can_withdraw: bool
    can_invalidate: bool
    journal_note: str | None
    notice: str | None
    history: tuple[HistoryItem, ...]


def journal_note(
    consent: Consent, facts: rules.ConsentFacts, recorder: str, form_code: str | None = None
) -> str | None:
    """The note the navigator enters in the patient journal for a given journal consent."""
    if consent.kind != "journal" or consent.decision != "given" or facts.signed_on is None:
        return None
    kind = catalogue().kinds["journal"]
    until = rules.validity_end(kind, facts.signed_on)
    paper = f"med blanketkode {form_code}" if form_code else str(consent.form_id)
    return (
        "Samtykke til indhentning og videregivelse af helbredsoplysninger "
        "(sundhedsloven § 42 d, stk. 1, og § 43, stk. 1) til resultatopfølgning i projektet "
        "Sociale henvisninger Norddjurs.\n"
        f"Givet skriftligt den {facts.signed_on:%d-%m-%Y}; gælder til og med "
        f"{until:%d-%m-%Y} (højst 1 år, sundhedsloven § 44).\n"
        f"Samtykkeerklæring {paper}, "
        f"tekstversion {consent.template_version} "
        f"(sha256 {consent.text_sha256[:16]}).\n"
        "Patienten er informeret om formål, hvilke oplysninger det drejer sig om, og at "
        "samtykket kan tilbagekaldes, indtil oplysningerne er indhentet/videregivet.\n"
        f"Registreret af {recorder}."
    )


def _names(session: Session) -> Callable[[int], str]:
    """A user's display name by id, each looked up once (people are named, not numbered)."""

    @cache
    def name(user_id: int) -> str:
        user = user_by_id(session, user_id) if user_id else None
        return user.display_name if user is not None else ""

    return name


def _next_steps(
    consent: Consent, facts: rules.ConsentFacts, state: str, valid_until: date | None, today: date
) -> tuple[str, ...]:
    """What comes next for a consent in force: confirming the journal entry, re-consent."""
    if state != "given":
        return ()
    steps = []
    if consent.kind == "journal" and facts.journal_entry_confirmed_on is None:
        steps.append(
            "Bekræft, at samtykket er indført i patientjournalen. Indtil da kan det ikke "
            "bruges til udtræk."
        )
    kind = catalogue().kinds[consent.kind]
    if valid_until is not None and rules.expiring_within(facts, kind, today, EXPIRY_WARNING_DAYS):
        steps.append(
            f"Samtykket udløber {valid_until:%d-%m-%Y}: udskriv en ny erklæring, hvis der "
            "fortsat skal indhentes oplysninger."
        )
    return tuple(steps)


def summaries(session: Session, deps: ServiceDeps, citizen: Citizen) -> list[ConsentSummary]:
    """Every consent of the citizen with its state today, history and what can be done."""
    cat = catalogue()
    today = legal_today(deps.clock)
    name = _names(session)
    current = {
        kind_id: in_force(states_of(session, citizen.id, kind_id), today) for kind_id in cat.kinds
    }
    consents = repo.consents_of(session, citizen.id)
    paper = repo.paper_of_consents(session, citizen.id) if consents else {}
    out = []
    for consent in consents:
        events = repo.events_of(session, consent)
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
                name(consent.recorded_by),
                consent.recorded_at,
            )
        ]
        history += [
            HistoryItem(
                e.occurred_on,
                EVENT_NAMES_DA.get(e.event_type, e.event_type)
                + (f" ({CHANNELS[e.channel].lower()})" if e.channel in CHANNELS else "")
                + (f": {CORRECTION_REASONS[e.note]}" if e.note in CORRECTION_REASONS else ""),
                name(e.recorded_by),
                e.recorded_at,
            )
            for e in events
        ]
        open_ = facts.withdrawn_on is None and facts.invalidated_on is None
        if valid_until is not None and valid_until < today and open_:
            history.append(
                HistoryItem(valid_until + timedelta(days=1), "Udløbet", "", consent.recorded_at)
            )
        notice = None
        channel = None
        if facts.withdrawn_on is not None:
            notice = " ".join(withdrawal_lines(consent, facts, facts.withdrawn_on))
            withdrawal = next(e for e in events if e.event_type == "withdrawn")
            channel = CHANNELS.get(withdrawal.channel or "")
        short_code, has_scan = paper.get(consent.id, (None, False))
        form_code = shown_code(short_code)
        forced = current[consent.kind]
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
                withdrawal_channel=channel,
                template_version=consent.template_version,
                text_sha256=consent.text_sha256,
                form_code=form_code,
                in_force=forced is not None and forced.consent.id == consent.id,
                next_steps=_next_steps(consent, facts, state.value, valid_until, today),
                has_scan=has_scan,
                can_confirm_journal=consent.kind == "journal"
                and consent.decision == "given"
                and facts.journal_entry_confirmed_on is None
                and open_,
                can_withdraw=consent.decision == "given" and open_,
                can_invalidate=facts.invalidated_on is None and facts.data_obtained_on is None,
                journal_note=journal_note(consent, facts, "navigatøren", form_code),
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
    facts = facts_of(consent, repo.events_of(session, consent))
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
        today = legal_today(deps.clock)
        collection = replace(collection, kinds=kind_offers(session, citizen, today))
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


# How the confirmation names what a withdrawal deletes (retention/schedule.yaml category).
WITHDRAWAL_DELETIONS = {
    "wellbeing_answers_withdrawn": "Trivselsbesvarelserne (WHO-5 og livstilfredshed)",
}


def withdrawal_lines(consent: Consent, facts: rules.ConsentFacts, on: date) -> tuple[str, ...]:
    """What a withdrawal on ``on`` does, in Danish: the consent rule's effect
    (:func:`rules.can_withdraw`) and, for each category the retention schedule deletes
    after a withdrawal of this kind, by when (``retention/schedule.yaml``)."""
    kind = catalogue().kinds[consent.kind]
    lines = [rules.can_withdraw(facts, kind, on).message]
    for key, category in default_schedule().categories.items():
        if category.trigger == "withdrawal" and category.consent_kind == consent.kind:
            what = WITHDRAWAL_DELETIONS.get(key, category.da)
            lines.append(
                f"{what} slettes senest {category.keep.after(on):%d-%m-%Y} "
                f"({category.keep.da()} efter tilbagekaldelsen, efter sletteplanen)."
            )
    return tuple(lines)


def withdrawal_preview(
    session: Session, deps: ServiceDeps, consent: Consent, withdrawn_on: date, channel: str
) -> tuple[str, ...]:
    """What the confirmation step says before a withdrawal on ``withdrawn_on`` is recorded;
    refuses as ``service.withdraw`` would (field errors and rule refusals), so a mistake is
    shown on the form, not after the confirmation."""
    if channel not in CHANNELS:
        raise InvalidInput("Vælg hvordan borgeren tilbagekaldte.", field="channel")
    facts = facts_of(consent, repo.events_of(session, consent))
    if consent.decision != "given" or facts.invalidated_on is not None:
        raise RuleRefusal("Kun et givet samtykke kan tilbagekaldes.")
    if facts.withdrawn_on is not None:
        raise RuleRefusal("Samtykket er allerede tilbagekaldt.")
    if withdrawn_on > legal_today(deps.clock) or withdrawn_on < consent.decided_on:
        raise InvalidInput("Datoen skal ligge mellem underskriften og i dag.", field="withdrawn_on")
    head = (
        f"{catalogue().name(consent.kind)}, givet {consent.decided_on:%d-%m-%Y}, registreres "
        f"som tilbagekaldt {withdrawn_on:%d-%m-%Y} ({CHANNELS[channel].lower()})."
    )
    return (
        head,
        *withdrawal_lines(consent, facts, withdrawn_on),
        *disclosure_lines(session, consent),
    )


def disclosure_lines(session: Session, consent: Consent) -> tuple[str, ...]:
    """The disclosures already made under the consent, in Danish (date and recipient): a
    withdrawal does not undo them, and the citizen is told so."""
    made = repo.disclosures_under_consent(session, consent.id)
    if not made:
        return ()
    return (
        f"Oplysningerne er allerede videregivet {len(made)} gang(e) under samtykket; det "
        "ændrer tilbagekaldelsen ikke:",
        *(f"{d.disclosed_on:%d-%m-%Y} til {d.recipient}." for d in made),
    )


def invalidation_preview(session: Session, consent: Consent, reason: str) -> tuple[str, ...]:
    """What the confirmation step says before a registration is marked invalid."""
    if reason not in CORRECTION_REASONS:
        raise InvalidInput("Vælg hvorfor registreringen er forkert.", field="reason")
    facts = facts_of(consent, repo.events_of(session, consent))
    if facts.invalidated_on is not None:
        raise RuleRefusal("Registreringen er allerede ugyldiggjort.")
    return (
        f"Registreringen af {catalogue().name(consent.kind).lower()} fra "
        f"{consent.decided_on:%d-%m-%Y} markeres som ugyldig: {CORRECTION_REASONS[reason]}.",
        "Registreringen og dens scanning bevares; den tæller ikke længere som samtykke.",
        "Registrér derefter den rigtige erklæring.",
    )

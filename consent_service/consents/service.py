"""The consent lifecycle: load a consent of the organisation, record a printed form
(printing is ``printed``) signed or refused, confirm the journal entry, withdraw,
invalidate. Legal decisions come from ``rules`` (pure functions); this module loads,
decides with them, stores and audits.
Reading consents (status, history, exports) is ``reading``.

A recorded consent is never updated: every later fact is a ``ConsentEvent`` appended to
its history, with who and when.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from consent_service import unit_of_work as uow
from consent_service.audit.recorder import Actor
from consent_service.citizens.models import Citizen
from consent_service.citizens.probes import probe_not_found
from consent_service.citizens.repository import referrals_of
from consent_service.citizens.service import decrypt
from consent_service.citizens.vault import CitizenVault
from consent_service.clock import legal_today
from consent_service.consents import repository as repo
from consent_service.consents import rules
from consent_service.consents.active import facts_of, in_force, states_of
from consent_service.consents.catalogue import ConsentCatalogue, catalogue
from consent_service.consents.labels import (
    CHANNELS,
    CORRECTION_REASONS,
    NO_REFERRAL_YET,
    UNDER_AGE_AT_REFERRAL,
)
from consent_service.consents.models import Consent, ConsentEvent, ConsentForm, ConsentScan
from consent_service.consents.scans import MAX_SCAN_BYTES as MAX_SCAN_BYTES
from consent_service.consents.scans import validate_scan
from consent_service.errors import InvalidInput, NotFound, RuleRefusal
from consent_service.identity.repository import organisation_by_id
from consent_service.services import ServiceDeps


@dataclass(frozen=True)
class DataCollection:
    """Whether the citizen may give the data-collection consents; if not, why (Danish);
    if so, each kind with its forms printed and not yet recorded."""

    allowed: bool
    reason: str
    kinds: tuple[KindOffer, ...] = ()


@dataclass(frozen=True)
class KindOffer:
    """A consent kind the citizen may give: whether a fresh form is offered now
    (:func:`rules.fresh_form_allowed`), and its printed forms not yet recorded, newest
    first (the first is preselected when a signed one is recorded)."""

    id: str
    name: str
    open_forms: tuple[ConsentForm, ...]
    can_print: bool = True
    pdfs_kept: frozenset[str] = frozenset()  # the open forms whose printed PDF is kept


# How long before a given consent expires the page asks for a re-consent (and offers a
# fresh form): the journal consent's reminders start 60 days ahead (config).
EXPIRY_WARNING_DAYS = 60


def data_collection(session: Session, deps: ServiceDeps, citizen: Citizen) -> DataCollection:
    """Whether the citizen is offered the data-collection consents, and if not, why:
    :func:`rules.data_collection_allowed` on their birth date and latest referral."""
    referrals = referrals_of(session, citizen.id)
    latest = referrals[-1].referred_on if referrals else None
    if rules.data_collection_allowed(decrypt(deps, citizen).cpr.birth_date, latest):
        return DataCollection(True, "")
    return DataCollection(False, NO_REFERRAL_YET if latest is None else UNDER_AGE_AT_REFERRAL)


def kind_offers(session: Session, citizen: Citizen, today: date) -> tuple[KindOffer, ...]:
    """Every consent kind with the citizen's printed forms of it not yet recorded, and
    whether a fresh form is offered (not while a given consent of the kind is in force and
    not yet due for re-consent)."""
    cat = catalogue()
    printed, kept = repo.open_forms_by_kind(session, citizen.id)
    offers = []
    for kind_id, kind in cat.kinds.items():
        current = in_force(states_of(session, citizen.id, kind_id), today)
        offers.append(
            KindOffer(
                kind_id,
                cat.name(kind_id),
                printed.get(kind_id, ()),
                can_print=rules.fresh_form_allowed(
                    current.facts if current else None, kind, today, EXPIRY_WARNING_DAYS
                ),
                pdfs_kept=kept,
            )
        )
    return tuple(offers)


def require_adult(session: Session, deps: ServiceDeps, citizen: Citizen) -> None:
    decision = data_collection(session, deps, citizen)
    if not decision.allowed:
        raise RuleRefusal(decision.reason)


def check_kind(cat: ConsentCatalogue, kind: str) -> None:
    if kind not in cat.kinds:
        raise NotFound(kind)


def controller_name(session: Session, organisation_id: int) -> str:
    """The name of the organisation, the data controller of its citizens' consents."""
    org = organisation_by_id(session, organisation_id)
    return org.name if org else ""


def record_signed(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    citizen: Citizen,
    kind: str,
    *,
    form_id: str,
    signed_on: date,
    witness: str,
    scan: bytes,
) -> Consent:
    """Record a signed form: the consent is given from the signing date, on the exact
    template version and text hash the form was printed with."""
    cat = catalogue()
    check_kind(cat, kind)
    require_adult(session, deps, citizen)
    form = repo.form(session, citizen.organisation_id, form_id)
    if form is None or form.citizen_id != citizen.id or form.kind != kind:
        raise InvalidInput(
            "Blanketten hører ikke til denne borger og samtykketype.", field="form_id"
        )
    if repo.consent_for_form(session, form_id) is not None:
        raise InvalidInput("Denne blanket er allerede registreret.", field="form_id")
    today = legal_today(deps.clock)
    if signed_on > today:
        raise InvalidInput("Underskriftsdatoen kan ikke ligge i fremtiden.", field="signed_on")
    if signed_on < form.printed_on:
        raise InvalidInput(
            "Underskriftsdatoen kan ikke ligge før blanketten blev udskrevet.", field="signed_on"
        )
    witness = witness.strip()
    if not witness or len(witness) > 200:
        raise InvalidInput("Angiv hvem der modtog erklæringen (højst 200 tegn).", field="witness")
    content_type = validate_scan(scan)  # decoded in full; stored unchanged
    consent = Consent(
        public_id=uuid.uuid4().hex,
        citizen_id=citizen.id,
        organisation_id=citizen.organisation_id,
        kind=kind,
        decision="given",
        template_version=form.template_version,
        language=form.language,
        text_sha256=form.text_sha256,
        form_id=form_id,
        decided_on=signed_on,
        valid_until=rules.validity_end(cat.kinds[kind], signed_on),
        witness=witness,
        recorded_at=deps.clock.now(),
        recorded_by=actor.user_id or 0,
    )
    session.add(consent)
    session.flush()
    vault = CitizenVault(deps.crypto)
    key = vault.unwrap(citizen.public_id, citizen.wrapped_key)
    digest = hashlib.sha256(scan).hexdigest()
    session.add(
        ConsentScan(
            consent_id=consent.id,
            content_sealed=vault.seal_bytes(
                key, citizen.public_id, f"scan:{consent.public_id}", scan
            ),
            content_type=content_type,
            size=len(scan),
            sha256=digest,
            uploaded_at=deps.clock.now(),
        )
    )
    session.flush()
    deps.audit.record(
        session,
        actor,
        action="consent.recorded",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        details={
            "consent": consent.public_id,
            "kind": kind,
            "decision": "given",
            "form_id": form_id,
            "version": form.template_version,
            "text_sha256": form.text_sha256,
            "scan_sha256": digest,
        },
    )
    uow.record(session, uow.CitizenChanged(citizen.id))
    return consent


def record_refused(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    citizen: Citizen,
    kind: str,
    decided_on: date,
) -> Consent:
    """Record that the citizen declined. The course goes on (invariant 6)."""
    cat = catalogue()
    check_kind(cat, kind)
    if decided_on > legal_today(deps.clock):
        raise InvalidInput("Datoen kan ikke ligge i fremtiden.", field="decided_on")
    template = cat.current_template(kind)
    consent = Consent(
        public_id=uuid.uuid4().hex,
        citizen_id=citizen.id,
        organisation_id=citizen.organisation_id,
        kind=kind,
        decision="refused",
        template_version=template.version,
        language=template.language,
        text_sha256=template.sha256,
        form_id=None,
        decided_on=decided_on,
        witness=None,
        recorded_at=deps.clock.now(),
        recorded_by=actor.user_id or 0,
    )
    session.add(consent)
    session.flush()
    deps.audit.record(
        session,
        actor,
        action="consent.recorded",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        details={
            "consent": consent.public_id,
            "kind": kind,
            "decision": "refused",
            "version": template.version,
            "text_sha256": template.sha256,
        },
    )
    return consent


def text_of(consent: Consent | ConsentForm) -> dict[str, str]:
    """The exact consent text a record or form is about, for its audit event: kind,
    template version and the text's SHA-256, so the log alone names what was signed."""
    return {
        "kind": consent.kind,
        "version": consent.template_version,
        "text_sha256": consent.text_sha256,
    }


def _append(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    consent: Consent,
    event_type: str,
    on: date,
    channel: str | None = None,
    note: str | None = None,
) -> ConsentEvent:
    event = ConsentEvent(
        consent_id=consent.id,
        event_type=event_type,
        occurred_on=on,
        channel=channel,
        note=note,
        recorded_at=deps.clock.now(),
        recorded_by=actor.user_id or 0,
    )
    session.add(event)
    session.flush()
    return event


def confirm_journal_entry(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    citizen: Citizen,
    consent: Consent,
    entered_on: date,
) -> None:
    """The navigator confirms that the journal consent was entered in the patient journal
    (Sundhedsloven § 44: a § 43 consent is recorded in the patient record). Before that,
    the consent cannot be used for any extract."""
    if consent.kind != "journal" or consent.decision != "given":
        raise RuleRefusal("Kun et givet journalsamtykke indføres i patientjournalen.")
    events = repo.events_of(session, consent)
    if any(e.event_type == "invalidated" for e in events):
        raise RuleRefusal("Registreringen er ugyldiggjort.")
    if any(e.event_type == "journal_entry_confirmed" for e in events):
        raise RuleRefusal("Journalnotatet er allerede bekræftet.")
    if entered_on > legal_today(deps.clock) or entered_on < consent.decided_on:
        raise InvalidInput("Datoen skal ligge mellem underskriften og i dag.", field="entered_on")
    _append(session, deps, actor, consent, "journal_entry_confirmed", entered_on)
    deps.audit.record(
        session,
        actor,
        action="consent.journal_confirmed",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        details={"consent": consent.public_id, **text_of(consent)},
    )
    uow.record(session, uow.CitizenChanged(citizen.id))


def withdraw(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    citizen: Citizen,
    consent: Consent,
    withdrawn_on: date,
    channel: str,
) -> rules.WithdrawalEffect:
    """Record a withdrawal (date, channel, recorder). Journal consent: data already
    obtained stays lawfully obtained, but no more may be obtained; wellbeing consent:
    processing stops from now on (GDPR art. 7(3))."""
    if channel not in CHANNELS:
        raise InvalidInput("Vælg hvordan borgeren tilbagekaldte.", field="channel")
    if consent.decision != "given":
        raise RuleRefusal("Kun et givet samtykke kan tilbagekaldes.")
    today = legal_today(deps.clock)
    # Before the events are read: an extract running now either left this consent out or
    # has recorded its data as obtained by the time this lock is granted.
    repo.lock_consents_for_ending(session, consent.organisation_id)
    if any(e.event_type == "invalidated" for e in repo.events_of(session, consent)):
        raise RuleRefusal("Registreringen er ugyldiggjort og kan ikke tilbagekaldes.")
    if withdrawn_on > today or withdrawn_on < consent.decided_on:
        raise InvalidInput("Datoen skal ligge mellem underskriften og i dag.", field="withdrawn_on")
    events = repo.events_of(session, consent)
    facts = facts_of(consent, events)
    if facts.withdrawn_on is not None:
        raise RuleRefusal("Samtykket er allerede tilbagekaldt.")
    kind = catalogue().kinds[consent.kind]
    effect = rules.can_withdraw(facts, kind, withdrawn_on)
    _append(session, deps, actor, consent, "withdrawn", withdrawn_on, channel=channel)
    deps.audit.record(
        session,
        actor,
        action="consent.withdrawn",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        details={"consent": consent.public_id, **text_of(consent), "channel": channel},
    )
    uow.record(session, uow.CitizenChanged(citizen.id))
    return effect


def invalidate(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    citizen: Citizen,
    consent: Consent,
    reason: str,
) -> None:
    """Correct a record that was wrong (DPV "invalidated"): the record stays with its scan,
    an event says it no longer counts and why, and the navigator records the right form
    anew. A consent under which data was already obtained is not corrected here: that is
    a matter for the data controller, since an extract relied on it."""
    if reason not in CORRECTION_REASONS:
        raise InvalidInput("Vælg hvorfor registreringen er forkert.", field="reason")
    repo.lock_consents_for_ending(session, consent.organisation_id)  # as in ``withdraw``
    facts = facts_of(consent, repo.events_of(session, consent))
    if facts.invalidated_on is not None:
        raise RuleRefusal("Registreringen er allerede ugyldiggjort.")
    if facts.data_obtained_on is not None:
        raise RuleRefusal(
            "Der er allerede indhentet oplysninger på dette samtykke. Kontakt den "
            "dataansvarlige; registreringen kan ikke rettes her."
        )
    _append(session, deps, actor, consent, "invalidated", legal_today(deps.clock), note=reason)
    deps.audit.record(
        session,
        actor,
        action="consent.invalidated",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        details={"consent": consent.public_id, **text_of(consent), "reason": reason},
    )
    uow.record(session, uow.CitizenChanged(citizen.id))


def consent_in_organisation(
    session: Session, organisation_id: int, public_id: str
) -> tuple[Citizen, Consent]:
    """The consent ``public_id`` of the organisation, with its citizen: the one way a
    request loads a consent by id. An unknown id and another organisation's consent both
    raise ``NotFound``; the second is a ``ProbeNotFound`` recorded in that organisation's
    log (its DPO sees it), not the caller's."""
    found = repo.consent_in_organisation(session, organisation_id, public_id)
    if found is not None:
        consent, citizen = found
        return citizen, consent
    foreign = repo.consent_any_organisation(session, public_id)
    if foreign is not None and foreign[0].organisation_id != organisation_id:
        raise probe_not_found(organisation_id, foreign[1], via="consent")
    raise NotFound("consent")


def get_consent(session: Session, citizen: Citizen, public_id: str) -> Consent:
    """The citizen's consent ``public_id`` (scripts and jobs that hold the citizen)."""
    found = repo.consent_in_organisation(session, citizen.organisation_id, public_id)
    if found is None or found[0].citizen_id != citizen.id:
        raise NotFound(public_id)
    return found[0]

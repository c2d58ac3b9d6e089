"""Capture and read wellbeing questionnaires. Capture needs a wellbeing consent in force on
the day of answering, for a citizen 18+ at referral; otherwise nothing is stored. The
answers are sealed under a data key of that consent, which a withdrawal shreds."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from consent_service import unit_of_work as uow
from consent_service.audit.recorder import Actor
from consent_service.citizens.models import Citizen, CitizenKey
from consent_service.citizens.service import CitizenView, decrypt
from consent_service.citizens.vault import CitizenVault
from consent_service.clock import legal_today
from consent_service.consents.active import in_force, states_of
from consent_service.consents.models import Consent
from consent_service.consents.service import data_collection
from consent_service.errors import InvalidInput, RuleRefusal
from consent_service.services import ServiceDeps
from consent_service.wellbeing import repository as repo
from consent_service.wellbeing.models import WellbeingResponse
from consent_service.wellbeing.questionnaire import OCCASIONS, AnswerError, Answers

WELLBEING_KEY_PREFIX = "wellbeing:"


def key_purpose(consent: Consent) -> str:
    """The purpose of the data key the answers given under ``consent`` are sealed with."""
    return f"{WELLBEING_KEY_PREFIX}{consent.public_id}"


@dataclass(frozen=True)
class ResponseView:
    public_id: str
    occasion: str
    answered_on: date
    answers: Answers


def _column(response_public_id: str) -> str:
    return f"wellbeing:{response_public_id}"


def capture_refusal(session: Session, deps: ServiceDeps, citizen: Citizen, on: date) -> str | None:
    """Why no answers may be captured for the citizen on ``on`` (Danish), or None."""
    decision = data_collection(session, deps, citizen)
    if not decision.allowed:
        return decision.reason
    if in_force(states_of(session, citizen.id, "wellbeing"), on) is None:
        return (
            "Borgeren har ikke et gyldigt samtykke til trivselsdata (givet og ikke "
            "tilbagekaldt). Besvarelsen kan ikke gemmes."
        )
    return None


def _data_key(session: Session, deps: ServiceDeps, citizen: Citizen, consent: Consent) -> bytes:
    vault = CitizenVault(deps.crypto)
    purpose = key_purpose(consent)
    row = repo.answer_key(session, citizen.id, purpose)
    if row is not None:
        return vault.unwrap(f"{citizen.public_id}:{purpose}", row.wrapped_key)
    key, wrapped = vault.new_key(f"{citizen.public_id}:{purpose}")
    session.add(
        CitizenKey(
            citizen_id=citizen.id, purpose=purpose, wrapped_key=wrapped, created_at=deps.clock.now()
        )
    )
    session.flush()
    return key


def capture(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    citizen: Citizen,
    *,
    occasion: str,
    answered_on: date,
    who5: list[int],
    life_satisfaction: int,
) -> WellbeingResponse:
    """Record one answered questionnaire (baseline, then a later follow-up), sealed under
    the data key of the wellbeing consent in force on ``answered_on``; refused without
    one or for a citizen under 18 at referral. Audited; the citizen is re-planned."""
    if occasion not in OCCASIONS:
        raise InvalidInput("Vælg baseline eller opfølgning.", field="occasion")
    if answered_on > legal_today(deps.clock):
        raise InvalidInput("Datoen må ikke ligge i fremtiden.", field="answered_on")
    try:
        answers = Answers(tuple(who5), life_satisfaction)
    except AnswerError as exc:
        raise InvalidInput(str(exc), field="who5") from None
    refusal = capture_refusal(session, deps, citizen, answered_on)
    if refusal is not None:
        raise RuleRefusal(refusal)
    state = in_force(states_of(session, citizen.id, "wellbeing"), answered_on)
    if state is None:  # capture_refusal checked it; kept for the type checker
        raise RuleRefusal("Borgeren har ikke et gyldigt samtykke til trivselsdata.")
    earlier = repo.responses_of(session, citizen.id)
    if any(r.occasion == occasion for r in earlier):
        raise RuleRefusal(
            "Der er allerede registreret en besvarelse ved "
            f"{OCCASIONS[occasion].lower()} for borgeren."
        )
    baseline = next((r for r in earlier if r.occasion == "baseline"), None)
    if occasion == "follow_up" and (baseline is None or answered_on <= baseline.answered_on):
        raise RuleRefusal("Opfølgningen kræver en baseline-besvarelse fra før opfølgningen.")
    key = _data_key(session, deps, citizen, state.consent)
    public_id = uuid.uuid4().hex
    vault = CitizenVault(deps.crypto)
    response = WellbeingResponse(
        public_id=public_id,
        citizen_id=citizen.id,
        organisation_id=citizen.organisation_id,
        consent_id=state.consent.id,
        occasion=occasion,
        answered_on=answered_on,
        answers_sealed=vault.seal(
            key, citizen.public_id, _column(public_id), json.dumps(answers.as_json())
        ),
        recorded_at=deps.clock.now(),
        recorded_by=actor.user_id or 0,
    )
    session.add(response)
    session.flush()
    deps.audit.record(
        session,
        actor,
        action="wellbeing.recorded",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        details={"occasion": occasion, "consent": state.consent.public_id},
    )
    uow.record(session, uow.CitizenChanged(citizen.id))
    return response


def _responses(session: Session, deps: ServiceDeps, citizen: Citizen) -> list[ResponseView]:
    """The citizen's answers, decrypted (the caller audits the read)."""
    vault = CitizenVault(deps.crypto)
    views = []
    for row in repo.responses_of(session, citizen.id):
        consent = repo.consent_of(session, row)
        if consent is None:
            continue  # the foreign key forbids it
        purpose = key_purpose(consent)
        key_row = repo.answer_key(session, citizen.id, purpose)
        if key_row is None:
            continue  # shredded: answers an older backup brought back, unreadable for good
        key = vault.unwrap(f"{citizen.public_id}:{purpose}", key_row.wrapped_key)
        raw = vault.open(key, citizen.public_id, _column(row.public_id), row.answers_sealed)
        views.append(
            ResponseView(
                row.public_id, row.occasion, row.answered_on, Answers.from_json(json.loads(raw))
            )
        )
    return views


@dataclass(frozen=True)
class WellbeingOverview:
    """What the wellbeing page shows: the citizen, their answers, and why no more may be
    captured today (None when they may)."""

    citizen: CitizenView
    responses: list[ResponseView]
    refusal: str | None


def read_answers(
    session: Session, deps: ServiceDeps, actor: Actor, citizen: Citizen
) -> WellbeingOverview:
    """The citizen's answers, decrypted, and whether new ones may be captured today;
    audited as a read of wellbeing data."""
    responses = _responses(session, deps, citizen)
    deps.audit.record(
        session,
        actor,
        action="wellbeing.read",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        details={"answers": len(responses)},
    )
    return WellbeingOverview(
        citizen=decrypt(deps, citizen),
        responses=responses,
        refusal=capture_refusal(session, deps, citizen, legal_today(deps.clock)),
    )


def shred_for_consent(session: Session, citizen: Citizen, consent: Consent) -> int:
    """Destroy the data key of the consent's answers, then delete the answers: the rows
    go, and any copy of them in a data backup can no longer be decrypted. Returns how many
    answers went."""
    repo.delete_answer_key(session, citizen.id, key_purpose(consent))
    return repo.delete_answers_under(session, consent.id)

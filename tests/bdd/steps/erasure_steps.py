"""Steps of features/sletning_af_borger.feature: one citizen's erasure through the real
services (``deletion.erasure``) on both database engines. The fresh code of the approval
is the page's (tests/api/test_erasure.py); here the rule: who may decide, what is kept."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import pytest
from pytest_bdd import given, parsers, then, when
from sqlalchemy import func, select

from consent_service.audit.recorder import Actor
from consent_service.citizens import service as citizens
from consent_service.citizens.models import Citizen, CitizenKey
from consent_service.clock import FixedClock
from consent_service.consents.models import Consent
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.deletion import erasure
from consent_service.deletion.erasure_models import ErasureProposal
from consent_service.deletion.erasure_policy import erasure_rules
from consent_service.errors import InvalidInput, RuleRefusal
from consent_service.identity.models import User
from consent_service.labels import label
from tests.conftest import enrolled_person
from tests.factories import synthetic_cpr
from tests.scenario import Pilot

SIGNED = date(2027, 3, 1)


@dataclass
class Erasure:
    pilot: Pilot
    cpr: str = ""
    pid: str = ""
    consent: str = ""
    proposal: str = ""
    refused: Exception | None = None
    answer: list[str] = field(default_factory=list)


@pytest.fixture
def erasure_case(ctx: AppContext, clock: FixedClock) -> Erasure:
    return Erasure(Pilot.start(ctx, clock))


def _actor(ctx: AppContext, role: str) -> Actor:
    person = enrolled_person(ctx, role)
    return Actor(
        user_id=person.user_id, username=person.username, organisation_id=person.organisation_id
    )


def _reason(text: str) -> str:
    return next(code for code, r in erasure_rules().reasons.items() if r.da == text)


def _propose(case: Erasure, actor: Actor, reason_da: str) -> None:
    pilot = case.pilot
    try:
        with session_scope(pilot.ctx.sessions) as s:
            citizen = citizens.citizen_in_organisation(s, pilot.organisation_id, case.pid)
            proposal = erasure.propose(
                s, pilot.deps, actor, citizen, _reason(reason_da), "", pilot.today
            )
            case.proposal = proposal.public_id
    except (InvalidInput, RuleRefusal) as exc:
        case.refused = exc


def _approve(case: Erasure, actor: Actor) -> None:
    pilot = case.pilot
    try:
        with session_scope(pilot.ctx.sessions) as s:
            proposal = erasure.proposal_in_organisation(s, pilot.organisation_id, case.proposal)
            erasure.approve(s, pilot.deps, actor, proposal, "")
    except (InvalidInput, RuleRefusal) as exc:
        case.refused = exc


def _citizen(case: Erasure) -> Citizen:
    with case.pilot.ctx.sessions() as s:
        found = s.scalar(select(Citizen).where(Citizen.public_id == case.pid))
        assert found is not None
        return found


@given("en borger, der er henvist og har givet trivselssamtykke")
def _referred(erasure_case: Erasure) -> None:
    pilot = erasure_case.pilot
    pilot.at(SIGNED)
    erasure_case.cpr = synthetic_cpr(date(1971, 4, 4), 1234)
    erasure_case.pid = pilot.citizen(cpr=erasure_case.cpr)
    pilot.refer(erasure_case.pid, SIGNED)
    erasure_case.consent = pilot.sign(erasure_case.pid, "wellbeing", SIGNED)


@given("borgeren har tilbagekaldt trivselssamtykket")
def _withdrawn(erasure_case: Erasure) -> None:
    erasure_case.pilot.withdraw(erasure_case.pid, erasure_case.consent, SIGNED)


@given(parsers.parse('navigatøren har foreslået sletning med begrundelsen "{reason}"'))
@when(parsers.parse('navigatøren foreslår sletning med begrundelsen "{reason}"'))
def _navigator_proposes(erasure_case: Erasure, reason: str) -> None:
    _propose(erasure_case, erasure_case.pilot.actor, reason)


@given("navigatøren er siden blevet dataansvarlig")
def _role_changed(erasure_case: Erasure) -> None:
    with session_scope(erasure_case.pilot.ctx.sessions) as s:
        user = s.get(User, erasure_case.pilot.actor.user_id)
        assert user is not None
        user.role = "data_controller"


@when("en anden dataansvarlig godkender forslaget")
def _another_approves(erasure_case: Erasure) -> None:
    _approve(erasure_case, _actor(erasure_case.pilot.ctx, "data_controller"))
    assert erasure_case.refused is None, erasure_case.refused


@when("navigatøren forsøger at godkende sit eget forslag")
def _own_approval(erasure_case: Erasure) -> None:
    _approve(erasure_case, erasure_case.pilot.actor)


@then(parsers.parse('er borgeren slettet efter reglen "{rule}"'))
def _erased(erasure_case: Erasure, rule: str) -> None:
    citizen = _citizen(erasure_case)
    assert citizen.deleted_at is not None
    assert citizen.cpr_sealed is None
    assert citizen.name_sealed is None
    events = erasure_case.pilot.events("citizen.deleted")
    deleted = [e for e in events if e.resource_id == erasure_case.pid]
    assert len(deleted) == 1
    assert json.loads(deleted[0].details)["rule"] == rule
    with erasure_case.pilot.ctx.sessions() as s:
        keys = s.scalar(
            select(func.count()).select_from(CitizenKey).where(CitizenKey.citizen_id == citizen.id)
        )
        assert keys == 0


@then("er borgeren ikke slettet endnu")
def _not_erased(erasure_case: Erasure) -> None:
    citizen = _citizen(erasure_case)
    assert citizen.deleted_at is None
    assert citizen.cpr_sealed is not None


@then("borgeren kan ikke findes på sit CPR-nummer")
def _not_found(erasure_case: Erasure) -> None:
    pilot = erasure_case.pilot
    with session_scope(pilot.ctx.sessions) as s:
        found = citizens.find_by_cpr(
            s, pilot.deps, pilot.actor, pilot.organisation_id, erasure_case.cpr
        )
        assert found is None


@then("samtykkeregistreringen findes stadig, uden identitet")
def _consent_kept(erasure_case: Erasure) -> None:
    consent = erasure_case.pilot.consent(erasure_case.consent)
    assert consent.decision == "given"
    assert consent.text_sha256
    citizen = _citizen(erasure_case)
    assert consent.citizen_id == citizen.id
    assert citizen.cpr_index is None
    assert citizen.wrapped_key is None


@then("svaret til borgeren nævner, at samtykkeregistreringerne bevares")
def _answer(erasure_case: Erasure) -> None:
    pilot = erasure_case.pilot
    with pilot.ctx.sessions() as s:
        proposal = erasure.proposal_in_organisation(s, pilot.organisation_id, erasure_case.proposal)
        plan = erasure.plan(s, erasure.citizen_of(s, proposal), pilot.today)
        kept = s.scalar(
            select(func.count())
            .select_from(Consent)
            .where(Consent.citizen_id == proposal.citizen_id)
        )
    assert plan.deleted
    assert plan.consent_records == kept == 1
    assert "consent_records" in erasure_rules().kept
    assert "art. 7" in erasure_rules().kept["consent_records"].why


@then(parsers.parse('afvises forslaget med "{text}"'))
@then(parsers.parse('afvises godkendelsen med "{text}"'))
def _refused(erasure_case: Erasure, text: str) -> None:
    assert erasure_case.refused is not None
    assert text in str(erasure_case.refused)


@then(parsers.parse('forslaget er "{status}"'))
def _status(erasure_case: Erasure, status: str) -> None:
    with erasure_case.pilot.ctx.sessions() as s:
        proposal = s.scalar(
            select(ErasureProposal).where(ErasureProposal.public_id == erasure_case.proposal)
        )
        assert proposal is not None
        assert label("erasure_statuses", proposal.status) == status

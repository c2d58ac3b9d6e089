"""Disclosures per citizen (issue 17): an extract execution records, per citizen whose data
it sends, a disclosure (day, purpose, recipient, legal basis, the consent used and its
exact text) in the same transaction as its files and ``data_obtained`` events; the access
report and a withdrawal's answer read it; every audit event about a consent text names
the text's SHA-256, so the log alone proves which text was signed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import func, select

from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import SYSTEM, Actor
from consent_service.citizens.models import Citizen
from consent_service.clock import FixedClock
from consent_service.consents import reading
from consent_service.consents import service as consents
from consent_service.consents.labels import CORRECTION_REASONS
from consent_service.consents.models import Consent, ConsentEvent, Disclosure
from consent_service.consents.templates import DEFAULT_TEMPLATES_DIR, template_path
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.extracts import execution, repository, requests
from consent_service.extracts.models import ExtractFile, ExtractRequest
from consent_service.extracts.policy import default_extract_policy
from consent_service.oversight import dpo
from tests.conftest import enrolled_person
from tests.factories import synthetic_cpr
from tests.scenario import Pilot

REFERRED = date(2026, 11, 2)
DAY = date(2027, 11, 5)


@dataclass
class Setup:
    pilot: Pilot
    requester: Actor
    included: str  # citizen public ids
    excluded: str
    consent: str  # the included citizen's journal consent
    request: str  # the approved request's public id


def _setup(ctx: AppContext, clock: FixedClock, *, purpose: str = "journal") -> Setup:
    pilot = Pilot.start(ctx, clock)
    pilot.at(REFERRED)
    included = pilot.citizen(cpr=synthetic_cpr(date(1960, 1, 1), 3), name="Med Udtræk")
    excluded = pilot.citizen(cpr=synthetic_cpr(date(1960, 1, 2), 3), name="Uden Samtykke")
    for pid in (included, excluded):
        pilot.refer(pid, REFERRED)
    if purpose == "journal":
        consent = pilot.sign(included, "journal", date(2026, 11, 10))
        data = requests.DraftInput(
            purpose="payment_goal_1_regional", sources=["sygesikring"],
            fields=["gp_contacts"], cohort="hold-2", measurement_years=2, planned_on=DAY,
        )  # fmt: skip
    else:
        consent = pilot.sign(included, "wellbeing", date(2026, 11, 10))
        pilot.answer(included, "baseline", date(2026, 11, 20))
        pilot.sign(excluded, "wellbeing", date(2026, 11, 10))  # covered, but no answers
        data = requests.DraftInput(
            purpose="payment_goal_2_wellbeing", sources=["wellbeing"], fields=["who5"],
            cohort="hold-2", measurement_years=1, planned_on=DAY,
        )  # fmt: skip
    people = [enrolled_person(ctx, "data_controller") for _ in range(2)]
    requester, approver = (SYSTEM.as_user(p.user_id, p.username, p.organisation_id) for p in people)
    with session_scope(ctx.sessions) as session:
        public_id = requests.draft(
            session, ctx.deps, requester, pilot.organisation_id, data
        ).public_id
    with session_scope(ctx.sessions) as session:
        row = requests.request_in_organisation(session, pilot.organisation_id, public_id)
        requests.decide(session, ctx.deps, approver, row, approve=True, comment="ok")
    pilot.at(DAY)
    return Setup(pilot, requester, included, excluded, consent, public_id)


def _execute(s: Setup) -> dict[str, object]:
    ctx = s.pilot.ctx
    with session_scope(ctx.sessions) as session:
        row = requests.request_in_organisation(session, s.pilot.organisation_id, s.request)
        return execution.execute_request(session, ctx.deps, s.requester, row)


def _citizen(session: object, pid: str) -> Citizen:
    c = session.scalar(select(Citizen).where(Citizen.public_id == pid))  # type: ignore[attr-defined]
    assert c is not None
    return c


def _file_sha256(kind: str, language: str, version: str) -> str:
    path = template_path(kind, language, version, DEFAULT_TEMPLATES_DIR)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_extract_records_one_disclosure_per_included_citizen_with_its_law_and_text(
    ctx: AppContext, clock: FixedClock
) -> None:
    s = _setup(ctx, clock)
    assert _execute(s)["included"] == 1
    purpose = default_extract_policy().purposes["payment_goal_1_regional"]
    with ctx.sessions() as session:
        [d] = session.scalars(select(Disclosure)).all()
        consent = session.scalar(select(Consent).where(Consent.public_id == s.consent))
        req = session.scalar(select(ExtractRequest).where(ExtractRequest.public_id == s.request))
        assert consent is not None
        assert req is not None
        assert (d.organisation_id, d.citizen_id, d.consent_id, d.request_id) == (
            s.pilot.organisation_id, _citizen(session, s.included).id, consent.id, req.id,
        )  # fmt: skip
        assert (d.disclosed_on, d.purpose, d.recipient) == (
            DAY, "payment_goal_1_regional", "Region Midtjylland",
        )  # fmt: skip
        assert d.legal_basis == purpose.legal_basis
        assert "§ 43, stk. 1" in d.legal_basis
        assert "artikel 9, stk. 2, litra a" in d.legal_basis
        assert (d.consent_kind, d.template_version) == ("journal", consent.template_version)
        assert (
            d.text_sha256
            == consent.text_sha256
            == _file_sha256("journal", consent.language, consent.template_version)
        )
        # The access report: the included citizen's names it, the excluded one's is empty.
        [item] = dpo.extracts_report(
            session, s.pilot.organisation_id, _citizen(session, s.included)
        )
        assert (item.extract_id, item.obtained_on, item.recipient) == (
            s.request,
            DAY,
            "Region Midtjylland",
        )
        assert item.legal_basis == purpose.legal_basis
        assert item.purpose_da == purpose.da
        assert item.text_sha256 == consent.text_sha256
        assert (
            dpo.extracts_report(session, s.pilot.organisation_id, _citizen(session, s.excluded))
            == []
        )


def test_another_organisation_sees_none_of_the_disclosures(
    ctx: AppContext, clock: FixedClock
) -> None:
    s = _setup(ctx, clock)
    _execute(s)
    other = Pilot.start(ctx, clock, org_name="Syddjurs Kommune")
    assert other.organisation_id != s.pilot.organisation_id
    with ctx.sessions() as session:
        citizen = _citizen(session, s.included)
        assert dpo.extracts_report(session, s.pilot.organisation_id, citizen)  # not vacuous
        assert dpo.extracts_report(session, other.organisation_id, citizen) == []


def test_a_failing_disclosure_insert_leaves_no_file_event_or_audit_and_can_be_retried(
    ctx: AppContext, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _setup(ctx, clock)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disclosure insert failed")

    with monkeypatch.context() as m:
        m.setattr(repository, "record_disclosures", broken)
        with pytest.raises(RuntimeError):
            _execute(s)
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ExtractFile)) == 0
        assert session.scalar(select(func.count()).select_from(Disclosure)) == 0
        assert (
            session.scalar(
                select(func.count())
                .select_from(ConsentEvent)
                .where(ConsentEvent.event_type == "data_obtained")
            )
            == 0
        )
        assert (
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "extract.executed")
            )
            == 0
        )
        req = session.scalar(select(ExtractRequest).where(ExtractRequest.public_id == s.request))
        assert req is not None
        assert req.status == "approved"
    assert _execute(s)["included"] == 1  # the retry runs whole
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Disclosure)) == 1


def test_a_wellbeing_extract_discloses_to_its_payer_only_citizens_whose_answers_went(
    ctx: AppContext, clock: FixedClock
) -> None:
    s = _setup(ctx, clock, purpose="wellbeing")
    _execute(s)
    with ctx.sessions() as session:
        [d] = session.scalars(select(Disclosure)).all()
        assert d.citizen_id == _citizen(session, s.included).id
        assert (d.consent_kind, d.recipient) == ("wellbeing", "Østifterne")
        assert "artikel 6, stk. 1, litra a" in d.legal_basis
        assert "§ 11, stk. 2, nr. 2" in d.legal_basis


def test_a_withdrawal_after_an_extract_names_the_disclosures_already_made(
    ctx: AppContext, clock: FixedClock
) -> None:
    s = _setup(ctx, clock)
    _execute(s)
    with ctx.sessions() as session:
        citizen = _citizen(session, s.included)
        consent = consents.get_consent(session, citizen, s.consent)
        lines = reading.withdrawal_preview(session, ctx.deps, consent, DAY, "phone")
    said = "\n".join(lines)
    assert "allerede videregivet 1 gang(e)" in said
    assert "05-11-2027 til Region Midtjylland." in lines


def test_the_log_alone_names_the_exact_text_of_every_consent_event(
    ctx: AppContext, clock: FixedClock
) -> None:
    pilot = Pilot.start(ctx, clock)
    pilot.at(REFERRED)
    pid = pilot.citizen(cpr=synthetic_cpr(date(1961, 3, 3), 3))
    pilot.refer(pid, REFERRED)
    consent_pid = pilot.sign(pid, "journal", date(2026, 11, 10))
    pilot.withdraw(pid, consent_pid, date(2026, 12, 1))
    wrong = pilot.sign(pid, "wellbeing", date(2026, 12, 2))
    with session_scope(ctx.sessions) as session:
        citizen = _citizen(session, pid)
        consents.invalidate(
            session, ctx.deps, pilot.actor, citizen, consents.get_consent(session, citizen, wrong),
            next(iter(CORRECTION_REASONS)),
        )  # fmt: skip
        consents.record_refused(
            session, ctx.deps, pilot.actor, citizen, "wellbeing", date(2026, 12, 2)
        )
    for action in ("consent.invalidated", "consent.recorded"):
        for event in pilot.events(action):
            details = json.loads(event.details)
            if details["kind"] == "wellbeing":
                w = pilot.consent(details["consent"])
                assert (
                    details["text_sha256"]
                    == w.text_sha256
                    == _file_sha256("wellbeing", w.language, w.template_version)
                ), action
    consent = pilot.consent(consent_pid)
    expected = _file_sha256("journal", consent.language, consent.template_version)
    for action in ("consent.printed", "consent.recorded", "consent.journal_confirmed",
                   "consent.withdrawn"):  # fmt: skip
        event = pilot.events(action)[0]
        details = json.loads(event.details)
        assert details["kind"] == "journal", action
        assert details["version"] == consent.template_version, action
        assert details["text_sha256"] == expected, action

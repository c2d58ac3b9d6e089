"""Steps of features/udtraek.feature: the real extract service on a real database."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import pytest
from pytest_bdd import given, parsers, then, when
from sqlalchemy import select

from consent_service.audit.recorder import Actor
from consent_service.clock import FixedClock
from consent_service.consents.models import ConsentEvent
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.errors import RuleRefusal
from consent_service.extracts import execution, requests
from consent_service.extracts.coverage import Coverage, coverage_plan
from consent_service.extracts.models import ExtractRequest
from consent_service.jobs.planner import RECONSENT
from tests.bdd.steps.common import DATE, danish_date
from tests.conftest import enrolled_person
from tests.coverage_support import pseudonym_of
from tests.factories import synthetic_cpr
from tests.scenario import Pilot

D = {"day": danish_date}
REASON_DA = {"udløbet": "expired", "tilbagekaldt": "withdrawn"}


@dataclass
class Extracting:
    pilot: Pilot
    requester: Actor
    approver: Actor
    cpr: str = field(default_factory=lambda: synthetic_cpr(date(1958, 8, 8), 13))
    pid: str = ""
    consent: str = ""
    requests: list[ExtractRequest] = field(default_factory=list)
    manifests: list[dict[str, object]] = field(default_factory=list)
    refused: RuleRefusal | None = None
    plan: Coverage | None = None


def _controller(ctx: AppContext) -> Actor:
    p = enrolled_person(ctx, "data_controller")
    return Actor(user_id=p.user_id, username=p.username, organisation_id=p.organisation_id)


@pytest.fixture
def extracting(ctx: AppContext, clock: FixedClock) -> Extracting:
    return Extracting(Pilot.start(ctx, clock), _controller(ctx), _controller(ctx))


def _draft(x: Extracting, planned: date, *, fields: list[str] | None = None) -> ExtractRequest:
    ctx = x.pilot.ctx
    x.pilot.at(min(planned, max(x.pilot.today, date(2026, 11, 20))))
    data = requests.DraftInput(
        purpose="payment_goal_1_regional", sources=["sygesikring"],
        fields=fields or ["gp_contacts"], cohort="hold-2", measurement_years=1,
        planned_on=planned,
    )  # fmt: skip
    with session_scope(ctx.sessions) as session:
        req = requests.draft(session, ctx.deps, x.requester, x.requester.organisation_id or 0, data)
    x.requests.append(req)
    return req


def _approve(x: Extracting, req: ExtractRequest) -> None:
    ctx = x.pilot.ctx
    with session_scope(ctx.sessions) as session:
        row = requests.request_in_organisation(session, req.organisation_id, req.public_id)
        requests.decide(session, ctx.deps, x.approver, row, approve=True, comment="")


def _execute(x: Extracting, req: ExtractRequest, day: date) -> dict[str, object]:
    x.pilot.at(day)
    ctx = x.pilot.ctx
    with session_scope(ctx.sessions) as session:
        row = requests.request_in_organisation(session, req.organisation_id, req.public_id)
        manifest = execution.execute_request(session, ctx.deps, x.requester, row)
    x.manifests.append(manifest)
    return manifest


@given(parsers.re(rf"en borger på Hold 2 henvist den (?P<day>{DATE}) til udtræk"), converters=D)
def referred(extracting: Extracting, day: date) -> None:
    extracting.pilot.at(day)
    extracting.pid = extracting.pilot.citizen(cpr=extracting.cpr)
    extracting.pilot.refer(extracting.pid, day)


@given(
    parsers.re(
        rf"borgeren har et journalsamtykke underskrevet og indført i journalen den (?P<day>{DATE})"
    ),
    converters=D,
)
def journal(extracting: Extracting, day: date) -> None:
    extracting.consent = extracting.pilot.sign(extracting.pid, "journal", day)


@given(
    parsers.re(rf"en godkendt anmodning om 1-års-målingen planlagt til den (?P<day>{DATE})"),
    converters=D,
)
def approved_request(extracting: Extracting, day: date) -> None:
    _approve(extracting, _draft(extracting, day))


@given(
    parsers.re(rf"en anmodning om 1-års-målingen planlagt til den (?P<day>{DATE})"), converters=D
)
def request(extracting: Extracting, day: date) -> None:
    _draft(extracting, day)


@given(parsers.re(rf"udtrækket er udført den (?P<day>{DATE})"), converters=D)
@when(parsers.re(rf"udtrækket udføres den (?P<day>{DATE})"), converters=D)
def execute(extracting: Extracting, day: date) -> None:
    _execute(extracting, extracting.requests[-1], day)


@when(parsers.re(rf"borgeren tilbagekalder sit journalsamtykke den (?P<day>{DATE})"), converters=D)
def withdraw(extracting: Extracting, day: date) -> None:
    extracting.pilot.withdraw(extracting.pid, extracting.consent, day)


@when("den samme dataansvarlige forsøger at godkende anmodningen")
def self_approval(extracting: Extracting) -> None:
    ctx = extracting.pilot.ctx
    req = extracting.requests[-1]
    try:
        with session_scope(ctx.sessions) as session:
            row = requests.request_in_organisation(session, req.organisation_id, req.public_id)
            requests.decide(session, ctx.deps, extracting.requester, row, approve=True, comment="")
    except RuleRefusal as exc:
        extracting.refused = exc


@when(
    parsers.re(
        r'en dataansvarlig anmoder om feltet "(?P<name>[a-z_]+)" fra Sygesikringsregistret til '
        r"betalingsmål 1, regionalt"
    )
)
def draft_field(extracting: Extracting, name: str) -> None:
    try:
        _draft(extracting, date(2027, 6, 1), fields=[name])
    except RuleRefusal as exc:
        extracting.refused = exc


@when(
    parsers.re(
        rf"dækningsplanen for 2-års-målingen den (?P<planned>{DATE}) ses den (?P<day>{DATE})"
    ),
    converters={"planned": danish_date, "day": danish_date},
)
def coverage(extracting: Extracting, planned: date, day: date) -> None:
    extracting.pilot.at(day)
    with extracting.pilot.ctx.sessions() as session:
        extracting.plan = coverage_plan(
            session, extracting.pilot.ctx.deps.crypto, extracting.requester.organisation_id or 0,
            "hold-2", 2, planned, day,
        )  # fmt: skip


@then("er borgeren ikke med i udtrækket")
def not_included(extracting: Extracting) -> None:
    assert extracting.manifests[-1]["included"] == 0


@then("er borgeren med i udtrækket")
def included(extracting: Extracting) -> None:
    assert extracting.manifests[-1]["included"] == 1


@then(parsers.re(r'manifestet tæller borgeren som "(?P<reason>[a-zæøå]+)"'))
def counted_as(extracting: Extracting, reason: str) -> None:
    assert extracting.manifests[-1]["excluded"] == {REASON_DA[reason]: 1}


@then(parsers.re(rf"oplysningerne er registreret som indhentet den (?P<day>{DATE})"), converters=D)
def obtained(extracting: Extracting, day: date) -> None:
    with extracting.pilot.ctx.sessions() as session:
        days = session.scalars(
            select(ConsentEvent.occurred_on).where(ConsentEvent.event_type == "data_obtained")
        ).all()
    assert days == [day]


@then("er det første udtræk uændret med borgeren")
def first_unchanged(extracting: Extracting) -> None:
    req = extracting.requests[0]
    with extracting.pilot.ctx.sessions() as session:
        row = requests.request_in_organisation(session, req.organisation_id, req.public_id)
        assert json.loads(row.manifest or "{}")["included"] == 1
        assert row.files_deleted_at is None


@then(
    parsers.re(
        rf"en ny godkendt anmodning udført den (?P<day>{DATE}) tæller borgeren som "
        r'"(?P<reason>[a-zæøå]+)"'
    ),
    converters={"day": danish_date, "reason": str},
)
def next_extract(extracting: Extracting, day: date, reason: str) -> None:
    req = _draft(extracting, day)
    _approve(extracting, req)
    manifest = _execute(extracting, req, day)
    assert manifest["included"] == 0
    assert manifest["excluded"] == {REASON_DA[reason]: 1}


@then("afvises godkendelsen")
def approval_refused(extracting: Extracting) -> None:
    assert extracting.refused is not None
    assert "selv godkende" in extracting.refused.message


@then("anmodningen afventer stadig godkendelse")
def still_draft(extracting: Extracting) -> None:
    req = extracting.requests[-1]
    with extracting.pilot.ctx.sessions() as session:
        assert (
            requests.request_in_organisation(session, req.organisation_id, req.public_id).status
            == "draft"
        )


@then("afvises anmodningen med reglen fra udtrækspolitikken")
def draft_refused(extracting: Extracting) -> None:
    assert extracting.refused is not None
    # The rule in the page's words: the field's Danish name and the purpose; no file path.
    assert "Feltet 'Kommunal sygepleje' hører ikke til formålet" in extracting.refused.message
    assert ".yaml" not in extracting.refused.message
    assert extracting.requests == []


@then("er borgeren dækket i dag, men ikke på den planlagte dato")
def covered_now_not_then(extracting: Extracting) -> None:
    plan = extracting.plan
    assert plan is not None
    assert (plan.covered_now, plan.covered, plan.expire_before) == (1, 0, 1)


@then(parsers.re(rf"borgeren skal give nyt samtykke senest den (?P<day>{DATE})"), converters=D)
def reconsent_by(extracting: Extracting, day: date) -> None:
    assert extracting.plan is not None
    pseudonym = pseudonym_of(extracting.pilot.ctx, extracting.pid, "hold-2", 2)
    assert extracting.plan.reconsent_by == [(pseudonym, day)]
    assert pseudonym != extracting.pid  # not the id of the navigator's URLs


@then(
    parsers.re(
        rf"navigatøren har opgaven på arbejdslisten, når samtykkeservicen kører den (?P<day>{DATE})"
    ),
    converters=D,
)
def worklist_task(extracting: Extracting, day: date) -> None:
    extracting.pilot.run(day)
    [task] = [t for t in extracting.pilot.open_tasks(extracting.pid) if t.kind == RECONSENT]
    assert extracting.plan is not None
    assert task.due_on == extracting.plan.reconsent_by[0][1]

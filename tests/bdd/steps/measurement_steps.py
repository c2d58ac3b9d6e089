"""Steps of features/maaling_datoer.feature: the planned extract dates of the cohort
measurements and who must re-consent by when, on the real services and database."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date

import pytest
from pytest_bdd import given, parsers, then, when
from sqlalchemy import select

from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import Actor
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.extracts import coverage, measurements
from consent_service.extracts.coverage import Coverage, Overview
from consent_service.jobs.planner import RECONSENT
from consent_service.retention.schedule import default_schedule
from tests.bdd.steps.common import DATE, danish_date
from tests.conftest import enrolled_person
from tests.coverage_support import pseudonym_of
from tests.factories import synthetic_cpr
from tests.scenario import Pilot

D = {"day": danish_date}
MEASUREMENT = r"Hold \d:\d"
NAMES = rf"{MEASUREMENT}(?:(?:, | og ){MEASUREMENT})*"
NAME = "Åse Ærø Østergård"


@dataclass
class Measuring:
    pilot: Pilot
    controller: Actor
    cpr: str = field(default_factory=lambda: synthetic_cpr(date(1962, 3, 3), 77))
    pid: str = ""
    overview: Overview | None = None
    plan: Coverage | None = None


@pytest.fixture
def measuring(ctx: AppContext, clock: FixedClock) -> Measuring:
    p = enrolled_person(ctx, "data_controller")
    controller = Actor(user_id=p.user_id, username=p.username, organisation_id=p.organisation_id)
    return Measuring(Pilot.start(ctx, clock), controller)


def _key(name: str) -> tuple[str, int]:
    """'Hold 2:1' -> ('hold-2', 1)."""
    cohort, years = name.removeprefix("Hold ").split(":")
    return f"hold-{cohort}", int(years)


def _names(text: str) -> list[str]:
    return re.findall(MEASUREMENT, text)


def _row(m: Measuring, name: str) -> Coverage:
    assert m.overview is not None
    [row] = [r for r in m.overview.rows if r.measurement == name]
    return row


@given(parsers.re(rf"en borger henvist til Hold 2 den (?P<day>{DATE})"), converters=D)
def referred(measuring: Measuring, day: date) -> None:
    measuring.pilot.at(day)
    measuring.pid = measuring.pilot.citizen(name=NAME, cpr=measuring.cpr)
    measuring.pilot.refer(measuring.pid, day)


@given(
    parsers.re(
        rf"borgerens journalsamtykke er underskrevet og indført i journalen den (?P<day>{DATE})"
    ),
    converters=D,
)
def signed(measuring: Measuring, day: date) -> None:
    measuring.pilot.sign(measuring.pid, "journal", day)


@given(
    parsers.re(
        rf"den dataansvarlige har flyttet (?P<name>{MEASUREMENT}) til den (?P<day>{DATE}) "
        r'med begrundelsen "(?P<reason>[^"]+)"'
    ),
    converters=D,
)
def moved(measuring: Measuring, name: str, day: date, reason: str) -> None:
    ctx = measuring.pilot.ctx
    cohort, years = _key(name)
    org = measuring.controller.organisation_id or 0
    with session_scope(ctx.sessions) as session:
        measurements.plan_measurement(
            session, ctx.deps, measuring.controller, org, measuring.controller.user_id or 0,
            cohort, years, day, reason,
        )  # fmt: skip


@when(
    parsers.re(rf"den dataansvarlige ser dækningen af alle målinger den (?P<day>{DATE})"),
    converters=D,
)
def see_overview(measuring: Measuring, day: date) -> None:
    ctx = measuring.pilot.ctx
    measuring.pilot.at(day)
    with session_scope(ctx.sessions) as session:
        measuring.overview = coverage.view_overview(
            session, ctx.deps, measuring.controller, measuring.controller.organisation_id or 0,
            day,
        )  # fmt: skip


@when(
    parsers.re(rf"den dataansvarlige ser dækningen af (?P<name>{MEASUREMENT}) den (?P<day>{DATE})"),
    converters=D,
)
def see_measurement(measuring: Measuring, name: str, day: date) -> None:
    ctx = measuring.pilot.ctx
    cohort, years = _key(name)
    measuring.pilot.at(day)
    with session_scope(ctx.sessions) as session:
        measuring.plan = coverage.view_coverage(
            session, ctx.deps, measuring.controller, measuring.controller.organisation_id or 0,
            cohort, years, None, day,
        )  # fmt: skip


@then(parsers.re(rf"er (?P<name>{MEASUREMENT}) planlagt til den (?P<day>{DATE})"), converters=D)
def planned_on(measuring: Measuring, name: str, day: date) -> None:
    assert _row(measuring, name).planned_on == day


@then(
    parsers.re(rf"er (?P<names>{NAMES}) før projektets afslutning den (?P<day>{DATE})"),
    converters=D,
)
def before_pilot_end(measuring: Measuring, names: str, day: date) -> None:
    assert default_schedule().pilot_end == day
    for name in _names(names):
        row = _row(measuring, name)
        assert row.planned_on <= day, name
        assert row.risk != "after_end", name


@then(
    parsers.re(
        rf"er (?P<names>{NAMES}) markeret med høj risiko, fordi data slettes ved projektets "
        r"afslutning"
    )
)
def after_pilot_end(measuring: Measuring, names: str) -> None:
    for name in _names(names):
        row = _row(measuring, name)
        assert row.risk == "after_end", name
        assert row.risk_da.startswith("Høj"), name


@then(
    parsers.re(rf"er borgeren dækket i dag, men ikke på udtræksdatoen den (?P<day>{DATE})"),
    converters=D,
)
def covered_now_not_then(measuring: Measuring, day: date) -> None:
    plan = measuring.plan
    assert plan is not None
    assert plan.planned_on == day
    assert (plan.in_cohort, plan.covered_now, plan.covered, plan.expire_before) == (1, 1, 0, 1)
    assert plan.reasons == {"expired": 1}


@then(parsers.re(rf"er borgeren dækket på udtræksdatoen den (?P<day>{DATE})"), converters=D)
def covered_then(measuring: Measuring, day: date) -> None:
    plan = measuring.plan
    assert plan is not None
    assert plan.planned_on == day
    assert (plan.in_cohort, plan.covered) == (1, 1)


@then(parsers.re(rf"skal borgeren give nyt samtykke senest den (?P<day>{DATE})"), converters=D)
def reconsent_by(measuring: Measuring, day: date) -> None:
    plan = measuring.plan
    assert plan is not None
    cohort, years = _key(plan.measurement)
    pseudonym = pseudonym_of(measuring.pilot.ctx, measuring.pid, cohort, years)
    assert plan.reconsent_by == [(pseudonym, day)]


@then(parsers.re(rf"skal ingen give nyt samtykke før (?P<name>{MEASUREMENT})"))
def nobody_must_reconsent(measuring: Measuring, name: str) -> None:
    plan = measuring.plan
    assert plan is not None
    assert plan.measurement == name
    assert plan.reconsent_by == []


@then("står borgeren under et pseudonym, ikke under navn, CPR-nummer eller navigatørens id")
def under_pseudonym(measuring: Measuring) -> None:
    plan = measuring.plan
    assert plan is not None
    [(shown, _)] = plan.reconsent_by
    assert shown not in (measuring.pid, NAME, measuring.cpr, measuring.cpr.replace("-", ""))
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}", shown)


@then(parsers.re(rf"har borgeren et andet pseudonym på (?P<name>{MEASUREMENT})"))
def other_pseudonym(measuring: Measuring, name: str) -> None:
    plan = measuring.plan
    assert plan is not None
    [(shown, _)] = plan.reconsent_by
    cohort, years = _key(name)
    assert pseudonym_of(measuring.pilot.ctx, measuring.pid, cohort, years) != shown


@when(
    parsers.re(rf"samtykkeservicen planlægger navigatørens opgaver den (?P<day>{DATE})"),
    converters=D,
)
def plan_tasks(measuring: Measuring, day: date) -> None:
    measuring.pilot.run(day)


@then(
    parsers.re(
        rf'har navigatøren opgaven "Nyt journalsamtykke" med frist den (?P<day>{DATE}) på '
        r"arbejdslisten"
    ),
    converters=D,
)
def navigator_task(measuring: Measuring, day: date) -> None:
    [task] = [t for t in measuring.pilot.open_tasks(measuring.pid) if t.kind == RECONSENT]
    assert task.due_on == day


@then("er flytningen logget uden begrundelsens tekst")
def override_logged(measuring: Measuring) -> None:
    with measuring.pilot.ctx.sessions() as session:
        [event] = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "extract.measurement_planned")
        ).all()
    assert event.actor_user_id == measuring.controller.user_id
    details = json.loads(event.details)
    assert details["planned_on"] == "2027-11-01"
    assert "registerejeren" not in event.details

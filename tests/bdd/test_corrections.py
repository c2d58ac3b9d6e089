"""Scenarios of features/rettelser.feature, on both database engines, through the real
correction service (``citizens.corrections``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from pytest_bdd import given, parsers, scenarios, then, when
from sqlalchemy import select

from consent_service.citizens import corrections
from consent_service.citizens import service as citizens
from consent_service.citizens.models import Citizen
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.errors import InvalidInput
from tests.scenario import Pilot


@pytest.fixture(autouse=True)
def _database(ctx: AppContext) -> AppContext:
    """Puts the engine parameter in every scenario: each runs on SQLite and PostgreSQL."""
    return ctx


scenarios("../../features/rettelser.feature")


@dataclass
class Correction:
    pilot: Pilot | None = None
    pid: str = ""
    refused: InvalidInput | None = None
    history: list[corrections.ChangeView] = field(default_factory=list)


@pytest.fixture
def correction() -> Correction:
    return Correction()


def _citizen(session, pid: str) -> Citizen:  # type: ignore[no-untyped-def]
    citizen = session.scalar(select(Citizen).where(Citizen.public_id == pid))
    assert citizen is not None
    return citizen


@given(parsers.parse('en registreret borger ved navn "{name}"'))
def registered(correction: Correction, ctx: AppContext, clock: FixedClock, name: str) -> None:
    correction.pilot = Pilot.start(ctx, clock)
    correction.pid = correction.pilot.citizen(name=name)


@when(
    parsers.re(
        r'navigatøren retter navnet til "(?P<name>[^"]+)" '
        r'(?:uden begrundelse|med begrundelsen "(?P<reason>[^"]+)")'
    )
)
def correct_name(correction: Correction, name: str, reason: str | None) -> None:
    pilot = correction.pilot
    assert pilot is not None
    data = corrections.CorrectionInput(
        name=name, phone="+45 12 34 56 78", email="", municipality="Norddjurs",
        gp_clinic="Lægehuset Grenaa", reason=reason or "",
    )  # fmt: skip
    try:
        with session_scope(pilot.ctx.sessions) as session:
            citizen = _citizen(session, correction.pid)
            corrections.correct_citizen(session, pilot.deps, pilot.actor, citizen, data)
    except InvalidInput as exc:
        correction.refused = exc


def _name(correction: Correction) -> str:
    assert correction.pilot is not None
    with session_scope(correction.pilot.ctx.sessions) as session:
        return citizens.decrypt(correction.pilot.deps, _citizen(session, correction.pid)).name


def _history(correction: Correction) -> list[corrections.ChangeView]:
    assert correction.pilot is not None
    with session_scope(correction.pilot.ctx.sessions) as session:
        citizen = _citizen(session, correction.pid)
        return corrections.history(session, correction.pilot.deps, citizen)


@then(parsers.parse('afvises rettelsen med beskeden "{message}"'))
def refused(correction: Correction, message: str) -> None:
    assert correction.refused is not None
    assert correction.refused.message == message


@then(parsers.re(r'(?:borgeren hedder stadig|hedder borgeren) "(?P<name>[^"]+)"'))
def is_named(correction: Correction, name: str) -> None:
    assert _name(correction) == name


@then("borgeren har ingen rettelser")
def no_history(correction: Correction) -> None:
    assert _history(correction) == []


@then(
    parsers.parse(
        'historikken viser feltet "{label}" rettet fra "{before}" til "{after}" '
        'med begrundelsen "{reason}"'
    )
)
def history_shows(correction: Correction, label: str, before: str, after: str, reason: str) -> None:
    (change,) = _history(correction)
    assert change.reason == reason
    assert [(c.label, c.before, c.after) for c in change.changes][:1] == [(label, before, after)]
    assert change.changed_by == "Test navigator"


@then("historikken viser ingen andre felter")
def only_that_field(correction: Correction) -> None:
    (change,) = _history(correction)
    assert len(change.changes) == 1


@then(parsers.parse('loggen nævner feltet "{name}" og ingen værdier'))
def audit_names_fields(correction: Correction, name: str) -> None:
    assert correction.pilot is not None
    (event,) = correction.pilot.events("citizen.corrected")
    assert json.loads(event.details or "{}") == {"fields": [name]}

"""Steps of features/anmodninger.feature: a citizen's request and its deadline through the
real services (``subject_requests.service``) and the worker, on both database engines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pytest
from pytest_bdd import given, parsers, then, when
from sqlalchemy import select

from consent_service.audit.models import AuditAlert
from consent_service.citizens.models import Citizen
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.errors import InvalidInput, RuleRefusal
from consent_service.subject_requests import service
from consent_service.subject_requests.models import SubjectRequest
from tests.scenario import Pilot

KINDS = {
    "indsigt": "access",
    "berigtigelse": "rectification",
    "sletning": "erasure",
    "tilbagekaldelse": "withdrawal",
    "indsigelse": "objection",
}


def dk(text: str) -> date:
    """'31-01-2027' -> date(2027, 1, 31)."""
    return datetime.strptime(text, "%d-%m-%Y").date()


@dataclass
class Case:
    pilot: Pilot
    citizen: str = ""
    request: str = ""
    refusal: str = ""


@pytest.fixture
def case(ctx: AppContext, clock: FixedClock) -> Case:
    return Case(Pilot.start(ctx, clock))


def _load(case: Case) -> SubjectRequest:
    with case.pilot.ctx.sessions() as s:
        found = s.scalar(select(SubjectRequest).where(SubjectRequest.public_id == case.request))
        assert found is not None
        return found


@given("en borger i projektet")
def _citizen(case: Case) -> None:
    case.pilot.at(date(2027, 1, 2))
    case.citizen = case.pilot.citizen()


@given(parsers.parse('borgeren anmodede om "{what}" den {day}'))
@when(parsers.parse('borgeren anmoder om "{what}" den {day}'))
def _register(case: Case, what: str, day: str) -> None:
    pilot = case.pilot
    pilot.at(dk(day))
    with session_scope(pilot.ctx.sessions) as s:
        citizen = s.scalar(select(Citizen).where(Citizen.public_id == case.citizen))
        assert citizen is not None
        made = service.register(
            s, pilot.deps, pilot.actor, citizen,
            service.RequestInput(KINDS[what], "letter", dk(day)),
        )  # fmt: skip
        case.request = made.public_id


@when(parsers.parse("anmodningen besvares den {day}"))
def _answer(case: Case, day: str) -> None:
    pilot = case.pilot
    pilot.at(dk(day))
    with session_scope(pilot.ctx.sessions) as s:
        found, citizen = service.request_in_organisation(s, pilot.organisation_id, case.request)
        service.answer(
            s, pilot.deps, pilot.actor, found, citizen,
            outcome="answered", answered_on=dk(day), note="Kopi af oplysningerne sendt",
        )  # fmt: skip


@when(parsers.parse('fristen den {day} forlænges til {new} med begrundelsen "{why}"'))
def _extend(case: Case, day: str, new: str, why: str) -> None:
    pilot = case.pilot
    pilot.at(dk(day))
    case.refusal = ""
    try:
        with session_scope(pilot.ctx.sessions) as s:
            found, citizen = service.request_in_organisation(s, pilot.organisation_id, case.request)
            service.extend(
                s, pilot.deps, pilot.actor, found, citizen, new_deadline=dk(new), reason=why
            )
    except (InvalidInput, RuleRefusal) as exc:
        case.refusal = exc.message


@when(parsers.parse("tjenestens baggrundsjob kører den {day}"))
def _worker(case: Case, day: str) -> None:
    case.pilot.run(dk(day))


@then(parsers.parse("er fristen {day}"))
def _deadline(case: Case, day: str) -> None:
    assert _load(case).current_deadline == dk(day)


@then("er anmodningen overskredet")
def _overdue(case: Case) -> None:
    found = _load(case)
    assert found.answered_on is not None
    assert found.answered_on > found.current_deadline


@then("er anmodningen ikke overskredet")
def _in_time(case: Case) -> None:
    found = _load(case)
    assert found.answered_on is not None
    assert found.answered_on <= found.current_deadline


@then(parsers.parse('afvises forlængelsen med "{words}"'))
def _refused(case: Case, words: str) -> None:
    assert words in case.refusal, case.refusal
    assert _load(case).extended_to is None


@then("er der ingen overskridelse i loggen")
def _no_overdue(case: Case) -> None:
    assert case.pilot.events("subject_request.overdue") == []


@then("er overskridelsen logget én gang")
def _overdue_once(case: Case) -> None:
    events = case.pilot.events("subject_request.overdue")
    assert [(e.resource_type, e.resource_id) for e in events] == [("subject_request", case.request)]


@then("databeskyttelsesrådgiveren har én alarm om anmodningen")
def _one_alert(case: Case) -> None:
    with case.pilot.ctx.sessions() as s:
        alerts = s.scalars(
            select(AuditAlert).where(AuditAlert.rule == "subject_request_overdue")
        ).all()
    assert [(a.subject_kind, a.subject, a.organisation_id) for a in alerts] == [
        ("subject_request", case.request, case.pilot.organisation_id)
    ]

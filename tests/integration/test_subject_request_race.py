"""Two navigators answer one citizen's request at the same moment, and two workers sweep
for overdue requests at once: one answer is recorded and the other refused; the overdue
event is recorded once. On PostgreSQL the second really waits on (or skips) the first's
row lock (real threads and connections); SQLite takes one writer at a time, so there it
simply comes after."""

from __future__ import annotations

from datetime import date, datetime
from datetime import time as clock_time

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.audit.models import AuditEvent, AuditPending
from consent_service.audit.recorder import SYSTEM
from consent_service.citizens.models import Citizen
from consent_service.clock import LEGAL_TZ, FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.errors import RuleRefusal
from consent_service.subject_requests import service
from consent_service.subject_requests.models import SubjectRequest
from tests.races import race
from tests.scenario import Pilot

RECEIVED = date(2027, 3, 10)


def _request(ctx: AppContext, clock: FixedClock) -> tuple[Pilot, str]:
    pilot = Pilot.start(ctx, clock)
    pilot.at(RECEIVED)
    pid = pilot.citizen()
    with session_scope(ctx.sessions) as s:
        citizen = s.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        made = service.register(
            s, ctx.deps, pilot.actor, citizen, service.RequestInput("access", "email", RECEIVED)
        )
        return pilot, made.public_id


def _answer(pilot: Pilot, request_pid: str, note: str) -> None:
    with session_scope(pilot.ctx.sessions) as s:
        found, citizen = service.request_in_organisation(s, pilot.organisation_id, request_pid)
        service.answer(s, pilot.deps, pilot.actor, found, citizen, outcome="answered",
                       answered_on=RECEIVED, note=note)  # fmt: skip


def _actions(ctx: AppContext, action: str) -> int:
    with ctx.sessions() as s:
        sealed = s.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
        staged = s.scalars(select(AuditPending).where(AuditPending.action == action)).all()
        return len(sealed) + len(staged)


def test_two_answers_at_once_record_one_and_refuse_the_other(
    ctx: AppContext, clock: FixedClock
) -> None:
    pilot, request_pid = _request(ctx, clock)

    def first(s: Session) -> None:
        found, citizen = service.request_in_organisation(s, pilot.organisation_id, request_pid)
        service.answer(s, ctx.deps, pilot.actor, found, citizen, outcome="answered",
                       answered_on=RECEIVED, note="Første svar")  # fmt: skip

    outcome = race(ctx, first, lambda _s: _answer(pilot, request_pid, "Andet svar"))
    assert isinstance(outcome.error, RuleRefusal)
    assert outcome.error.message == "Anmodningen er allerede afsluttet."
    assert _actions(ctx, "subject_request.answered") == 1
    with ctx.sessions() as s:
        citizen = s.scalar(select(Citizen).where(Citizen.public_id == pilot_citizen(ctx)))
        assert citizen is not None
        (view,) = service.citizen_requests(s, ctx.deps, citizen, RECEIVED)
    assert view.answer_note == "Første svar"


def pilot_citizen(ctx: AppContext) -> str:
    with ctx.sessions() as s:
        row = s.scalar(select(SubjectRequest))
        assert row is not None
        citizen = s.get(Citizen, row.citizen_id)
        assert citizen is not None
        return citizen.public_id


def test_two_sweeps_at_once_record_the_overdue_request_once(
    ctx: AppContext, clock: FixedClock
) -> None:
    _request(ctx, clock)
    clock.set(datetime.combine(date(2027, 4, 11), clock_time(6), tzinfo=LEGAL_TZ))
    outcome = race(
        ctx,
        lambda s: service.record_overdue(s, ctx.deps, SYSTEM),
        lambda s: service.record_overdue(s, ctx.deps, SYSTEM),
        second_waits=False,  # it skips the locked row instead of waiting for it
    )
    assert outcome.error is None, outcome.error
    assert sorted([outcome.first, outcome.second]) == [0, 1]
    assert _actions(ctx, "subject_request.overdue") == 1

"""A change reaches the planner as a fact on the unit of work, handled before the commit in
the same transaction: the lower domains never call the scheduler, nothing is forgotten, and
the reaction commits with the change or not at all."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consent_service import handlers
from consent_service import unit_of_work as uow
from consent_service.citizens import service as citizens
from consent_service.citizens.models import Referral
from consent_service.clock import FixedClock
from consent_service.consents import service as consents
from consent_service.context import AppContext
from consent_service.jobs.models import Job
from tests.scenario import Pilot

REFERRED = date(2026, 11, 2)
SIGNED = date(2026, 11, 10)


def _signed_citizen(pilot: Pilot) -> tuple[str, str]:
    """A referred citizen with a journal consent: the measurement needs data after it
    expires, so re-consent reminders are pending."""
    pilot.at(REFERRED)
    pid = pilot.citizen()
    pilot.refer(pid, REFERRED)
    return pid, pilot.sign(pid, "journal", SIGNED)


def _withdraw(session: Session, pilot: Pilot, pid: str, consent_pid: str) -> None:
    pilot.at(SIGNED)
    citizen = pilot._citizen(session, pid)
    consent = consents.get_consent(session, citizen, consent_pid)
    consents.withdraw(session, pilot.deps, pilot.actor, citizen, consent, SIGNED, "phone")


def _pending_jobs(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Job).where(Job.status == "pending")) or 0
    )


def _referral(session: Session, pilot: Pilot, pid: str) -> None:
    citizens.register_referral(
        session, pilot.deps, pilot.actor, pilot._citizen(session, pid),
        citizens.ReferralInput(referrer_kind="gp", clinic="Lægehuset Grenaa",
                               referred_on=REFERRED, course_start_on=REFERRED,
                               norddjurs_link=True, reachable=True),
    )  # fmt: skip


def _jobs(ctx: AppContext) -> int:
    with ctx.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Job)) or 0)


def _referrals(ctx: AppContext) -> int:
    with ctx.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Referral)) or 0)


def test_a_withdrawal_records_the_fact_and_the_jobs_are_replanned_at_commit(
    ctx: AppContext, clock: FixedClock
) -> None:
    pilot = Pilot.start(ctx, clock)
    pid, consent_pid = _signed_citizen(pilot)
    with ctx.sessions() as session, session.begin():
        reminders = _pending_jobs(session)
        assert reminders > 0
        _withdraw(session, pilot, pid, consent_pid)
        citizen = pilot._citizen(session, pid)
        # The use case only records the fact; nothing is re-planned before the commit.
        assert uow.pending(session) == (uow.CitizenChanged(citizen.id),)
        assert _pending_jobs(session) == reminders
    with ctx.sessions() as session:
        assert _pending_jobs(session) == 0  # the commit handed the fact to the planner


def test_a_fact_on_a_session_without_a_handler_stops_the_commit(
    ctx: AppContext, clock: FixedClock
) -> None:
    pilot = Pilot.start(ctx, clock)
    pilot.at(REFERRED)
    pid = pilot.citizen()
    before = _referrals(ctx)
    with Session(ctx.engine) as bare:  # not made by the context: no handler
        _referral(bare, pilot, pid)
        with pytest.raises(RuntimeError, match="without a fact handler"):
            bare.commit()
    assert _referrals(ctx) == before
    assert _jobs(ctx) == 0


def test_a_failing_handler_rolls_the_change_back_with_it(
    ctx: AppContext, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    pilot = Pilot.start(ctx, clock)
    pilot.at(REFERRED)
    pid = pilot.citizen()
    before = _referrals(ctx)

    def broken(*args: object) -> None:
        raise OSError("planner down")

    monkeypatch.setattr(handlers, "HANDLERS", (broken,))
    with pytest.raises(OSError, match="planner down"), ctx.sessions() as session:
        with session.begin():
            _referral(session, pilot, pid)
    assert _referrals(ctx) == before
    assert _jobs(ctx) == 0


def test_a_rolled_back_transaction_forgets_its_facts(ctx: AppContext, clock: FixedClock) -> None:
    pilot = Pilot.start(ctx, clock)
    pilot.at(REFERRED)
    pid = pilot.citizen()
    with ctx.sessions() as session:
        _referral(session, pilot, pid)
        assert uow.pending(session)
        session.rollback()
        assert uow.pending(session) == ()
        session.commit()  # nothing left to hand over
    assert _jobs(ctx) == 0


def test_a_savepoint_does_not_hand_facts_over(ctx: AppContext, clock: FixedClock) -> None:
    pilot = Pilot.start(ctx, clock)
    pid, consent_pid = _signed_citizen(pilot)
    with ctx.sessions() as session, session.begin():
        reminders = _pending_jobs(session)
        with session.begin_nested():
            _withdraw(session, pilot, pid, consent_pid)
        assert len(uow.pending(session)) == 1  # still waiting for the real commit
        assert _pending_jobs(session) == reminders
    assert uow.pending(session) == ()
    with ctx.sessions() as session:
        assert _pending_jobs(session) == 0


def test_one_fact_per_citizen_however_often_recorded() -> None:
    with Session() as session:
        for _ in range(3):
            uow.record(session, uow.CitizenChanged(7))
        uow.record(session, uow.CitizenChanged(8))
        assert uow.pending(session) == (uow.CitizenChanged(7), uow.CitizenChanged(8))
        assert uow.take(session) == [uow.CitizenChanged(7), uow.CitizenChanged(8)]
        assert uow.pending(session) == ()

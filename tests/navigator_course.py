"""The navigator's course, checked against the real services (DESIGN invariant 6: the
navigator offer never depends on a consent).

Seed 002: "Den praktiserende læges tilbud om at benytte lægeklinikkens navigatør vil ikke
være betinget af, at patienten samtykker". ``COURSE_ACTIONS`` lists every action of a
navigator's course; each one performs the action through the services, on the pilot's
current day, and asserts that it worked. A new course action (closing the course,
say) is one more line there, and then every consent decision the property
test and the voluntariness scenario make is checked against it too.

``decide`` makes one consent decision (given, refused, withdrawn, expired, invalidated)
through the same services the pages call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.citizens import referrals
from consent_service.citizens import service as citizens
from consent_service.citizens.models import Citizen
from consent_service.citizens.repository import referrals_of
from consent_service.consents import service as consents
from consent_service.consents.models import Consent
from consent_service.db import session_scope
from consent_service.errors import RuleRefusal
from consent_service.jobs.worklist import open_items
from tests.scenario import Pilot

CONSENT_KINDS = ("journal", "wellbeing")


class Decision(StrEnum):
    GIVE = "give"
    REFUSE = "refuse"
    WITHDRAW = "withdraw"
    EXPIRE = "expire"
    INVALIDATE = "invalidate"


@dataclass(frozen=True)
class Step:
    """One consent decision about a kind of consent, made on the pilot's current day."""

    decision: Decision
    kind: str


def _citizen(pilot: Pilot, session: Session, pid: str) -> Citizen:
    return citizens.citizen_in_organisation(session, pilot.organisation_id, pid)


def _latest(session: Session, citizen: Citizen, kind: str, *decisions: str) -> Consent:
    stmt = select(Consent).where(Consent.citizen_id == citizen.id, Consent.kind == kind)
    if decisions:
        stmt = stmt.where(Consent.decision.in_(decisions))
    consent = session.scalar(stmt.order_by(Consent.id.desc()).limit(1))
    if consent is None:
        raise RuleRefusal(f"no {kind} consent to decide on")
    return consent


def decide(pilot: Pilot, pid: str, step: Step) -> None:
    """Make ``step`` through the services on the pilot's current day. "Expired" moves the
    clock past the validity of every consent given so far (one year and a day). A decision
    the service refuses raises its ``RuleRefusal`` or ``InvalidInput``."""
    if step.decision is Decision.EXPIRE:
        pilot.at(pilot.today + timedelta(days=367))
        return
    if step.decision is Decision.GIVE:
        pilot.sign(pid, step.kind, pilot.today)
        return
    with session_scope(pilot.ctx.sessions) as session:
        citizen = _citizen(pilot, session, pid)
        if step.decision is Decision.REFUSE:
            consents.record_refused(
                session, pilot.deps, pilot.actor, citizen, step.kind, pilot.today
            )
        elif step.decision is Decision.WITHDRAW:
            consent = _latest(session, citizen, step.kind, "given")
            consents.withdraw(
                session, pilot.deps, pilot.actor, citizen, consent, pilot.today, "phone"
            )
        else:
            consent = _latest(session, citizen, step.kind)
            consents.invalidate(
                session, pilot.deps, pilot.actor, citizen, consent, "recorded_in_error"
            )


# --- the course actions ------------------------------------------------------------------


def register_referral(pilot: Pilot, pid: str) -> None:
    """The navigator registers a referral (a new course) for the citizen today."""
    with pilot.ctx.sessions() as session:
        before = len(referrals_of(session, _citizen(pilot, session, pid).id))
    pilot.refer(pid, pilot.today)
    with pilot.ctx.sessions() as session:
        after = referrals_of(session, _citizen(pilot, session, pid).id)
    assert len(after) == before + 1
    assert after[-1].referred_on == pilot.today


def open_course(pilot: Pilot, pid: str) -> None:
    """The navigator opens the citizen's course: who the citizen is and how to reach them."""
    with session_scope(pilot.ctx.sessions) as session:
        citizen = _citizen(pilot, session, pid)
        view = citizens.read_citizen(
            session, pilot.deps, pilot.actor, citizen, purpose="navigator course"
        )
    assert view.public_id == pid
    assert view.phone is not None


def worklist_shows_tasks(pilot: Pilot, pid: str) -> None:
    """The worker's due jobs run (each change has re-planned the citizen already), and the
    navigator's worklist shows every open task of the citizen."""
    summary = pilot.run(replan=False)
    assert not summary.failed, str(summary)
    with pilot.ctx.sessions() as session:
        listed = {item.task.id for item in open_items(session, pilot.organisation_id, pilot.today)}
    assert {task.id for task in pilot.open_tasks(pid)} <= listed


def contact_citizen(pilot: Pilot, pid: str) -> None:
    """The navigator calls the citizen about their newest referral and marks it "kontaktet"
    (a fresh referral first, if the newest one was contacted already)."""
    with pilot.ctx.sessions() as session:
        citizen = _citizen(pilot, session, pid)
        newest = referrals_of(session, citizen.id)[-1]
        contacted = referrals.contacts_by_referral(session, pilot.deps, citizen, [newest])
    if newest.id in contacted:
        pilot.refer(pid, pilot.today)
        with pilot.ctx.sessions() as session:
            newest = referrals_of(session, _citizen(pilot, session, pid).id)[-1]
    with session_scope(pilot.ctx.sessions) as session:
        referrals.contact_referral(
            session,
            pilot.deps,
            pilot.actor,
            pilot.organisation_id,
            newest.public_id,
            pilot.today,
            "Ringet op",
        )
    with pilot.ctx.sessions() as session:
        citizen = _citizen(pilot, session, pid)
        assert newest.id in referrals.contacts_by_referral(session, pilot.deps, citizen, [newest])


CourseAction = Callable[[Pilot, str], None]
COURSE_ACTIONS: dict[str, CourseAction] = {
    "register a referral": register_referral,
    "open the citizen's course": open_course,
    "see the citizen's tasks on the worklist": worklist_shows_tasks,
    "contact the citizen about the referral": contact_citizen,
}


def assert_course_available(pilot: Pilot, pid: str) -> None:
    """Every course action of the navigator works for the citizen today, whatever the
    citizen's consents are."""
    for name, action in COURSE_ACTIONS.items():
        try:
            action(pilot, pid)
        except Exception as error:
            raise AssertionError(f"the course action '{name}' failed: {error!r}") from error

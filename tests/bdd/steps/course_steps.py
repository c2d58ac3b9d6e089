"""Steps about the navigator's course: the scenario's citizen and consents are replayed
through the real services on a real database (both engines), and then every course action
of the navigator is tried (``tests.navigator_course``, the same check as the property test
of invariant 6)."""

from __future__ import annotations

from datetime import date

from pytest_bdd import then

from consent_service.citizens import service as citizens
from consent_service.clock import FixedClock
from consent_service.consents import reading
from consent_service.consents.rules import ConsentStatus, status_on
from consent_service.context import AppContext
from consent_service.db import session_scope
from tests.bdd.steps.common import World, kind
from tests.navigator_course import Decision, Step, assert_course_available, decide
from tests.scenario import Pilot

# The synthetic CPR numbers cover births 1900-1979, so the scenario is replayed 40 years
# earlier: a multiple of four, so 29 February stays a date and every age and year of
# validity stays as the scenario tells it.
SHIFT_YEARS = 40


def _earlier(day: date) -> date:
    return day.replace(year=day.year - SHIFT_YEARS)


def _replay(world: World, ctx: AppContext, clock: FixedClock) -> tuple[Pilot, str]:
    """Register the scenario's citizen, refer them and make the scenario's consent decisions
    through the services, each on its day. A consent given before the referral (an expired
    one) was given in an earlier course, so that course's referral is registered first."""
    assert world.birth_date is not None
    assert world.referred_on is not None
    timeline: list[tuple[date, int, Step | None]] = [(world.referred_on, 0, None)]
    for facts in world.consents.values():
        for day, decision in (
            (facts.signed_on, Decision.GIVE),
            (facts.refused_on, Decision.REFUSE),
            (facts.withdrawn_on, Decision.WITHDRAW),
            (facts.invalidated_on, Decision.INVALIDATE),
        ):
            if day is not None:
                timeline.append((day, 1, Step(decision, facts.kind)))
    timeline.sort(key=lambda event: (event[0], event[1]))
    pilot = Pilot.start(ctx, clock)
    first = _earlier(timeline[0][0])
    pilot.at(first)
    pid = pilot.citizen(birth=_earlier(world.birth_date))
    if first < _earlier(world.referred_on):
        pilot.refer(pid, first)
    for day, _, step in timeline:
        pilot.at(_earlier(day))
        if step is None:
            pilot.refer(pid, pilot.today)
        else:
            decide(pilot, pid, step)
    return pilot, pid


def _assert_states_as_described(pilot: Pilot, pid: str, world: World, on: date) -> None:
    """Each consent is as the scenario describes it on the day, by the rules and as the
    services record it."""
    with session_scope(pilot.ctx.sessions) as session:
        citizen = citizens.citizen_in_organisation(session, pilot.organisation_id, pid)
        recorded = {s.kind: s.state for s in reading.summaries(session, pilot.deps, citizen)}
    for kind_id, described in world.described.items():
        assert status_on(world.consents[kind_id], kind(kind_id), on) is described
        assert recorded.get(kind_id, ConsentStatus.REQUESTED.value) == described.value


@then("kan borgeren få og beholde tilbuddet om en social navigatør")
def offer_kept(world: World, ctx: AppContext, clock: FixedClock) -> None:
    on = world.on or world.referred_on
    assert on is not None
    pilot, pid = _replay(world, ctx, clock)
    pilot.at(_earlier(on))
    _assert_states_as_described(pilot, pid, world, on)
    assert_course_available(pilot, pid)


@then("borgeren kan få tilbuddet om en social navigatør")
def offer_given(world: World, ctx: AppContext, clock: FixedClock) -> None:
    pilot, pid = _replay(world, ctx, clock)
    assert_course_available(pilot, pid)

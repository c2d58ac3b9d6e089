"""Invariant 6, voluntariness, against the real services on both engines: whatever the
citizen decides about the journal and wellbeing consents, and in whatever order (given,
refused, withdrawn, expired, invalidated, also decisions the service refuses), every
course action of the navigator stays available after each decision."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.errors import InvalidInput, RuleRefusal
from tests.navigator_course import CONSENT_KINDS, Decision, Step, assert_course_available, decide
from tests.scenario import Pilot

GIVE, REFUSE, WITHDRAW, EXPIRE, INVALIDATE = Decision
ENDINGS = (WITHDRAW, EXPIRE, INVALIDATE)

Decisions = list[tuple[Step, int]]  # each decision, and how many days after the one before


@pytest.fixture
def pilot(ctx: AppContext, clock: FixedClock) -> Pilot:
    """One navigator for all examples; each example is a new citizen, and the clock only
    moves forward."""
    return Pilot.start(ctx, clock)


gaps = st.integers(0, 60)
kinds = st.sampled_from(CONSENT_KINDS)
# Any decision at any time, also one the service refuses (a withdrawal with nothing given).
any_decision = st.tuples(st.builds(Step, st.sampled_from(list(Decision)), kinds), gaps)
# A consent given or refused, then maybe ended, so that the endings happen often.
episode = st.tuples(
    kinds, st.sampled_from([GIVE, REFUSE]), st.sampled_from([None, *ENDINGS]), gaps, gaps
).map(lambda e: [(Step(e[1], e[0]), e[3])] + ([(Step(e[2], e[0]), e[4])] if e[2] else []))
decision_lists = st.lists(
    st.one_of(episode, any_decision.map(lambda d: [d])), min_size=1, max_size=4
).map(lambda parts: [d for part in parts for d in part])


def _journal_then(ending: Decision) -> Decisions:
    return [(Step(GIVE, "journal"), 0), (Step(ending, "journal"), 10)]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(birth=st.dates(date(1940, 1, 1), date(1979, 12, 31)), decisions=decision_lists)
@example(birth=date(1970, 5, 5), decisions=[(Step(REFUSE, "journal"), 0)])
@example(birth=date(1970, 5, 5), decisions=_journal_then(WITHDRAW))
@example(birth=date(1970, 5, 5), decisions=_journal_then(EXPIRE))
@example(birth=date(1970, 5, 5), decisions=_journal_then(INVALIDATE))
def test_no_consent_decision_takes_a_course_action_away(
    pilot: Pilot, birth: date, decisions: Decisions
) -> None:
    pid = pilot.citizen(birth=birth)
    pilot.refer(pid, pilot.today)
    assert_course_available(pilot, pid)
    for step, days_later in decisions:
        pilot.at(pilot.today + timedelta(days=days_later))
        with contextlib.suppress(RuleRefusal, InvalidInput):  # refused: the course goes on
            decide(pilot, pid, step)
        assert_course_available(pilot, pid)

"""Two practice systems submit a referral of the same new citizen at the same moment: both
are accepted as any referral is, and they end on one citizen. On PostgreSQL the second
really waits on the first's uncommitted row (real threads and connections); SQLite takes
one writer at a time, so there the second simply comes after."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.audit.recorder import SYSTEM
from consent_service.citizens import service
from consent_service.citizens.models import Citizen, Referral
from consent_service.context import AppContext
from tests.conftest import Person, enrolled_person
from tests.factories import synthetic_cpr
from tests.races import race


def _submission(cpr: str) -> tuple[service.CitizenInput, service.ReferralInput]:
    return (
        service.CitizenInput(
            cpr=cpr,
            name="Ayşe Yılmaz",
            phone=None,
            email=None,
            municipality="Norddjurs",
            gp_clinic="Lægehuset Grenaa",
        ),
        service.ReferralInput(
            referrer_kind="gp",
            clinic="Lægehuset Grenaa",
            referred_on=date(2026, 11, 20),
            course_start_on=None,
            norddjurs_link=True,
            reachable=True,
        ),
    )


def test_two_submissions_of_one_new_cpr_make_one_citizen(ctx: AppContext) -> None:
    first_practice = enrolled_person(ctx, "referrer")
    second_practice = enrolled_person(ctx, "referrer")
    org = first_practice.organisation_id
    cpr = synthetic_cpr(date(1958, 3, 9))

    def submit_as(person: Person) -> Callable[[Session], str]:
        def submit(s: Session) -> str:
            actor = SYSTEM.as_user(person.user_id, person.username, org)
            return service.submit_referral(s, ctx.deps, actor, org, *_submission(cpr)).public_id

        return submit

    # The second submission starts while the first's citizen is uncommitted, and waits.
    outcome = race(ctx, submit_as(first_practice), submit_as(second_practice))
    assert outcome.error is None, outcome.error
    results = [outcome.first, outcome.second]
    with ctx.sessions() as s:
        citizens = s.scalars(select(Citizen)).all()
        referrals = s.scalars(select(Referral)).all()
    assert len(citizens) == 1
    assert sorted(r.public_id for r in referrals) == sorted(results)
    assert {r.citizen_id for r in referrals} == {citizens[0].id}
    assert {r.created_by for r in referrals} == {first_practice.user_id, second_practice.user_id}

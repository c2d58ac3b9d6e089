"""Two practice systems submit a referral of the same new citizen at the same moment: both
are accepted as any referral is, and they end on one citizen. On PostgreSQL the second
really waits on the first's uncommitted row (real threads and connections); SQLite takes
one writer at a time, so there the second simply comes after."""

from __future__ import annotations

import threading
import time
from datetime import date

from sqlalchemy import select, text

from consent_service.audit.recorder import SYSTEM
from consent_service.citizens import service
from consent_service.citizens.models import Citizen, Referral
from consent_service.context import AppContext
from consent_service.db import session_scope
from tests.conftest import enrolled_person
from tests.factories import synthetic_cpr


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
    results: list[str] = []
    errors: list[BaseException] = []

    def submit_as(person_id: int, username: str) -> None:
        try:
            with session_scope(ctx.sessions) as s:
                actor = SYSTEM.as_user(person_id, username, org)
                referral = service.submit_referral(s, ctx.deps, actor, org, *_submission(cpr))
                results.append(referral.public_id)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    second = threading.Thread(
        target=submit_as, args=(second_practice.user_id, second_practice.username)
    )
    postgres = ctx.engine.dialect.name == "postgresql"
    with session_scope(ctx.sessions) as s:
        actor = SYSTEM.as_user(first_practice.user_id, first_practice.username, org)
        mine = service.submit_referral(s, ctx.deps, actor, org, *_submission(cpr))
        results.append(mine.public_id)
        if postgres:  # the second submission starts while the first's citizen is uncommitted
            second.start()
            with ctx.engine.connect() as watcher:
                for _ in range(1000):
                    waiting = watcher.execute(
                        text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                    ).scalar_one()
                    if waiting or not second.is_alive():
                        break
                    watcher.rollback()
                    time.sleep(0.01)
                assert waiting == 1, "the second submission never waited on the first"
    if not postgres:
        second.start()
    second.join(timeout=60)
    assert errors == []
    assert len(results) == 2
    with ctx.sessions() as s:
        citizens = s.scalars(select(Citizen)).all()
        referrals = s.scalars(select(Referral)).all()
    assert len(citizens) == 1
    assert sorted(r.public_id for r in referrals) == sorted(results)
    assert {r.citizen_id for r in referrals} == {citizens[0].id}
    assert {r.created_by for r in referrals} == {first_practice.user_id, second_practice.user_id}

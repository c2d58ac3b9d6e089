"""Issue 18: a referral write that creates its citizen plans the citizen's jobs from what
the request itself wrote (``citizens.repository.note_new_citizen``) instead of reading it
back; the note says exactly what a read would, and any later write in the transaction
drops it, so planning then reads again."""

from __future__ import annotations

from datetime import date

from consent_service.audit.recorder import SYSTEM
from consent_service.citizens import service
from consent_service.citizens.models import Citizen
from consent_service.citizens.repository import new_citizen
from consent_service.context import AppContext
from consent_service.jobs.planner import CitizenFacts, load_facts
from tests.conftest import enrolled_person
from tests.factories import synthetic_cpr
from tests.integration.test_referral_race import _submission


def _summary(facts: CitizenFacts) -> tuple[object, ...]:
    return (
        facts.citizen.id,
        [r.public_id for r in facts.referrals],
        [s.consent.id for s in facts.journal],
        [s.consent.id for s in facts.wellbeing],
        [r.id for r in facts.responses],
        facts.wellbeing_keys,
    )


def test_a_new_citizen_is_planned_from_what_the_request_wrote(ctx: AppContext) -> None:
    practice = enrolled_person(ctx, "referrer")
    org = practice.organisation_id
    actor = SYSTEM.as_user(practice.user_id, practice.username, org)
    submission = _submission(synthetic_cpr(date(1961, 4, 2)))
    with ctx.sessions() as s, s.begin():
        referral = service.submit_referral(s, ctx.deps, actor, org, *submission)
        note = new_citizen(s, referral.citizen_id)
        assert note is not None
        assert note.referrals == (referral,)
        assert note.key_purposes == ("identity",)
        noted = _summary(load_facts(s, note.citizen))
    with ctx.sessions() as s, s.begin():
        citizen = s.get(Citizen, referral.citizen_id)
        assert citizen is not None
        assert new_citizen(s, citizen.id) is None  # another transaction: read
        assert _summary(load_facts(s, citizen)) == noted
        # The same person referred again: a known citizen, nothing noted.
        again = service.submit_referral(s, ctx.deps, actor, org, *submission)
        assert again.citizen_id == citizen.id
        assert new_citizen(s, citizen.id) is None


def test_a_write_after_the_note_drops_it_and_planning_reads_again(ctx: AppContext) -> None:
    practice = enrolled_person(ctx, "referrer")
    org = practice.organisation_id
    actor = SYSTEM.as_user(practice.user_id, practice.username, org)
    citizen_data, referral_data = _submission(synthetic_cpr(date(1962, 8, 30)))
    with ctx.sessions() as s, s.begin():
        first = service.submit_referral(s, ctx.deps, actor, org, citizen_data, referral_data)
        note = new_citizen(s, first.citizen_id)
        assert note is not None
        second = service.register_referral(s, ctx.deps, actor, note.citizen, referral_data)
        assert new_citizen(s, first.citizen_id) is None
        facts = load_facts(s, note.citizen)
        assert sorted(r.public_id for r in facts.referrals) == sorted(
            [first.public_id, second.public_id]
        )

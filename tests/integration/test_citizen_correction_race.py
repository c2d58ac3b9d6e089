"""Two navigators correct one citizen at the same moment: both corrections are recorded,
one after the other, and the second's "before" is the first's "after" (the citizen's row is
locked before it is read). On PostgreSQL the second really waits on the first's lock (real
threads and connections); SQLite takes one writer at a time, so there it simply comes
after."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.audit.recorder import SYSTEM
from consent_service.citizens import corrections
from consent_service.citizens.models import Citizen
from consent_service.context import AppContext
from consent_service.db import session_scope
from tests.conftest import Person, enrolled_person
from tests.factories import synthetic_cpr
from tests.races import race
from tests.scenario import Pilot

BASE = {
    "name": "Åse Aaberg",
    "email": "",
    "municipality": "Norddjurs",
    "gp_clinic": "Lægehuset Grenaa",
}


def _correct(ctx: AppContext, person: Person, pid: str, phone: str) -> None:
    data = corrections.CorrectionInput(phone=phone, reason=f"Nyt nummer {phone}", **BASE)
    with session_scope(ctx.sessions) as s:
        citizen = s.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        actor = SYSTEM.as_user(person.user_id, person.username, person.organisation_id)
        corrections.correct_citizen(s, ctx.deps, actor, citizen, data)


def test_two_corrections_at_once_are_recorded_one_after_the_other(ctx: AppContext, clock) -> None:  # type: ignore[no-untyped-def]
    pilot = Pilot.start(ctx, clock)
    pid = pilot.citizen(name="Åse Aaberg", cpr=synthetic_cpr(date(1961, 4, 17), 9))
    first_nav = enrolled_person(ctx, "navigator")
    second_nav = enrolled_person(ctx, "navigator")

    def first(s: Session) -> None:
        citizen = s.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        actor = SYSTEM.as_user(first_nav.user_id, first_nav.username, first_nav.organisation_id)
        data = corrections.CorrectionInput(phone="+45 11 11 11 11", reason="Første", **BASE)
        corrections.correct_citizen(s, ctx.deps, actor, citizen, data)

    outcome = race(ctx, first, lambda _s: _correct(ctx, second_nav, pid, "+45 22 22 22 22"))
    assert outcome.error is None, outcome.error
    with session_scope(ctx.sessions) as s:
        citizen = s.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        newest, oldest = corrections.history(s, ctx.deps, citizen)
    assert [(c.field, c.before, c.after) for c in oldest.changes] == [
        ("phone", "+45 12 34 56 78", "+45 11 11 11 11")
    ]
    assert [(c.field, c.before, c.after) for c in newest.changes] == [
        ("phone", "+45 11 11 11 11", "+45 22 22 22 22")
    ]

"""Two navigators take out the same paper original at the same moment: one wins, the
other is refused (409 on the page) and nothing else is appended. On PostgreSQL the second
really runs while the first is uncommitted (it waits on the unique (consent, seq) index
and is then refused); SQLite takes one writer at a time, so there it simply comes after
and sees the original out."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.audit.recorder import SYSTEM, Actor
from consent_service.citizens.models import Citizen
from consent_service.consents import paper
from consent_service.consents.models import Consent
from consent_service.consents.paper_models import PaperCustody, PaperLocation
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.errors import RuleRefusal
from tests.conftest import enrolled_person
from tests.races import race
from tests.scenario import Pilot

SIGNED = date(2027, 3, 1)


def _take_out(ctx: AppContext, actor: Actor, consent_pid: str, why: str) -> None:
    with session_scope(ctx.sessions) as s:
        consent = s.scalar(select(Consent).where(Consent.public_id == consent_pid))
        assert consent is not None
        citizen = s.get(Citizen, consent.citizen_id)
        assert citizen is not None
        paper.record(s, ctx.deps, actor, citizen, consent, "taken_out",
                     occurred_on=SIGNED, person="Nina", note=why)  # fmt: skip


def test_two_take_outs_at_once_one_wins(ctx: AppContext, clock) -> None:  # type: ignore[no-untyped-def]
    pilot = Pilot.start(ctx, clock)
    pilot.at(SIGNED)
    pid = pilot.citizen()
    pilot.refer(pid, SIGNED)
    consent_pid = pilot.sign(pid, "wellbeing", SIGNED)
    first = enrolled_person(ctx, "navigator")
    second = enrolled_person(ctx, "navigator")
    a1 = SYSTEM.as_user(first.user_id, first.username, first.organisation_id)
    a2 = SYSTEM.as_user(second.user_id, second.username, second.organisation_id)
    with session_scope(ctx.sessions) as s:
        loc = paper.create_location(s, ctx.deps, a1, first.organisation_id, "Skab 2")
        consent = s.scalar(select(Consent).where(Consent.public_id == consent_pid))
        assert consent is not None
        citizen = s.get(Citizen, consent.citizen_id)
        assert citizen is not None
        paper.record(s, ctx.deps, a1, citizen, consent, "stored",
                     occurred_on=SIGNED, person="Nina", location_id=loc.id)  # fmt: skip

    def take_out_first(s: Session) -> None:
        consent = s.scalar(select(Consent).where(Consent.public_id == consent_pid))
        assert consent is not None
        citizen = s.get(Citizen, consent.citizen_id)
        assert citizen is not None
        paper.record(s, ctx.deps, a1, citizen, consent, "taken_out",
                     occurred_on=SIGNED, person="Nina", note="Første")  # fmt: skip

    outcome = race(ctx, take_out_first, lambda _s: _take_out(ctx, a2, consent_pid, "Anden"))
    assert isinstance(outcome.error, RuleRefusal), outcome.error
    with ctx.sessions() as s:
        rows = s.scalars(select(PaperCustody).order_by(PaperCustody.seq)).all()
        assert [(r.event, r.note) for r in rows] == [("stored", None), ("taken_out", "Første")]
        assert s.scalar(select(PaperLocation.name)) == "Skab 2"


@pytest.mark.parametrize("state", [None, "taken_out", "destroyed"])
def test_the_custody_rules(state: str | None) -> None:
    assert paper.refusal(state, "taken_out") is not None
    assert paper.refusal("destroyed", "stored") is not None
    assert paper.refusal("stored", "taken_out") is None
    assert paper.refusal("returned", "destroyed") is None
    assert paper.refusal("stored", "returned") is not None

"""Measurement date overrides: appended with their audit event in one transaction, the
newest wins, kept per organisation, and removed by the organisation's pilot-end deletion
(the dry run counts them)."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import Actor
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.deletion.service import plan_pilot_end, run_pilot_end
from consent_service.errors import InvalidInput
from consent_service.extracts import measurements
from consent_service.extracts.models import MeasurementPlan
from tests.conftest import enrolled_person
from tests.scenario import Pilot


def _controller(ctx: AppContext, org_name: str = "Region Midtjylland") -> Actor:
    p = enrolled_person(ctx, "data_controller", org_name=org_name)
    return Actor(user_id=p.user_id, username=p.username, organisation_id=p.organisation_id)


def _move(ctx: AppContext, who: Actor, key: tuple[str, int], day: date, reason: str) -> None:
    with session_scope(ctx.sessions) as session:
        measurements.plan_measurement(
            session, ctx.deps, who, who.organisation_id or 0, who.user_id or 0, *key, day, reason
        )


def _count(ctx: AppContext, model: type, *where: object) -> int:
    with ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


def test_the_newest_override_wins_and_each_organisation_has_its_own(
    ctx: AppContext, clock: FixedClock
) -> None:
    ours, theirs = _controller(ctx), _controller(ctx, "Norddjurs Kommune")
    _move(ctx, ours, ("hold-1", 2), date(2028, 6, 1), "Før projektets afslutning")
    _move(ctx, ours, ("hold-1", 2), date(2028, 6, 15), "Registerejerens frist")
    _move(ctx, theirs, ("hold-1", 2), date(2028, 3, 1), "Kommunens plan")
    with ctx.sessions() as session:
        [*_, mine] = [
            m for m in measurements.planned_measurements(session, ours.organisation_id or 0)
            if m.key == "hold-1-2"
        ]  # fmt: skip
        other = measurements.planned_measurement(session, theirs.organisation_id or 0, "hold-1", 2)
        untouched = measurements.planned_measurement(
            session, ours.organisation_id or 0, "hold-2", 2
        )
    assert (mine.planned_on, mine.reason, mine.rule_on) == (
        date(2028, 6, 15), "Registerejerens frist", date(2028, 10, 1),
    )  # fmt: skip
    assert mine.changed_by == "Test data_controller"
    assert other.planned_on == date(2028, 3, 1)
    assert (untouched.planned_on, untouched.overridden) == (date(2029, 5, 1), False)


def test_an_override_commits_with_its_audit_event_or_not_at_all(
    ctx: AppContext, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = _controller(ctx)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(ctx.audit, "record", broken)
    with pytest.raises(RuntimeError):
        _move(ctx, who, ("hold-2", 1), date(2028, 2, 1), "Flyttet")
    monkeypatch.undo()
    assert _count(ctx, MeasurementPlan) == 0
    with pytest.raises(InvalidInput) as refused:
        _move(ctx, who, ("hold-2", 1), date(2028, 2, 1), " \n ")
    assert refused.value.field == "begrundelse"
    with pytest.raises(InvalidInput) as refused:
        _move(ctx, who, ("hold-2", 1), date(2028, 2, 1), "x" * 501)
    assert refused.value.field == "begrundelse"
    with pytest.raises(InvalidInput) as refused:
        _move(ctx, who, ("hold-2", 3), date(2028, 2, 1), "Flyttet")
    assert _count(ctx, MeasurementPlan) == 0
    _move(ctx, who, ("hold-2", 1), date(2028, 2, 1), "Flyttet")
    assert _count(ctx, MeasurementPlan) == 1
    assert _count(ctx, AuditEvent, AuditEvent.action == "extract.measurement_planned") == 1


def test_parallel_overrides_are_both_kept_and_one_wins(ctx: AppContext, clock: FixedClock) -> None:
    a, b = _controller(ctx), _controller(ctx)
    failures: list[BaseException] = []

    def move(who: Actor, day: date) -> None:
        try:
            _move(ctx, who, ("hold-3", 1), day, f"Samtidig ændring {day}")
        except BaseException as exc:
            failures.append(exc)

    threads = [
        threading.Thread(target=move, args=(a, date(2028, 12, 1))),
        threading.Thread(target=move, args=(b, date(2028, 12, 15))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert _count(ctx, MeasurementPlan) == 2
    assert _count(ctx, AuditEvent, AuditEvent.action == "extract.measurement_planned") == 2
    with ctx.sessions() as session:
        winner = measurements.planned_measurement(session, a.organisation_id or 0, "hold-3", 1)
        newest = session.scalars(
            select(MeasurementPlan).order_by(MeasurementPlan.id.desc())
        ).first()
    assert newest is not None
    assert winner.planned_on == newest.planned_on


def test_the_pilot_end_deletion_removes_the_organisations_overrides(
    ctx: AppContext, clock: FixedClock
) -> None:
    pilot = Pilot.start(ctx, clock)
    pilot.at(date(2026, 11, 2))
    pid = pilot.citizen()
    pilot.refer(pid, date(2026, 11, 2))
    ours = _controller(ctx)
    theirs = _controller(ctx, "Norddjurs Kommune")
    assert ours.organisation_id == pilot.organisation_id
    _move(ctx, ours, ("hold-2", 1), date(2028, 2, 1), "Flyttet")
    _move(ctx, ours, ("hold-1", 1), date(2027, 9, 1), "Tidligere udtræk")
    _move(ctx, theirs, ("hold-2", 1), date(2028, 3, 1), "Kommunens plan")
    with ctx.sessions() as session:
        plan = plan_pilot_end(session, pilot.organisation_id)
    assert plan.rows["measurement_plans"] == 2
    with session_scope(ctx.sessions) as session:
        total = run_pilot_end(session, ctx.deps, pilot.actor, pilot.organisation_id,
                              date(2028, 7, 1))  # fmt: skip
    assert total.rows["measurement_plans"] == 2
    assert (
        _count(ctx, MeasurementPlan, MeasurementPlan.organisation_id == pilot.organisation_id) == 0
    )
    assert _count(ctx, MeasurementPlan) == 1  # the other organisation's stays

"""Step-up failures lock the account like wrong codes at login (issue 13): counted, locked
at the limit with ``login.locked``, every session ended, refused even with the right code
afterwards, on the DPO's rejected-attempts page and raised as an alert."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from consent_service.app import create_app
from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import SYSTEM, Actor
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.errors import StepUpFailed
from consent_service.identity import stepup
from consent_service.identity.models import User, UserSession
from consent_service.oversight.alerts import evaluate_alerts
from tests.conftest import csrf_from, current_code, enrolled_person, log_in


def _events(ctx: AppContext, action: str) -> list[AuditEvent]:
    with ctx.sessions() as s:
        return list(
            s.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


def _delete(client: TestClient, token: str, code: str) -> int:
    r = client.post("/sletning", data={"confirm": "SLET", "code": code, "csrf_token": token})
    return r.status_code


def test_sixteen_wrong_step_ups_lock_the_account_and_end_its_sessions(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    limit = ctx.settings.code_failure_limit
    controller = enrolled_person(ctx, "data_controller")
    dpo = enrolled_person(ctx, "dpo")
    app = client.app
    with TestClient(app, follow_redirects=False) as other_tab:
        log_in(other_tab, controller, clock)  # a second session of the same user
        token = log_in(client, controller, clock)
        statuses = [_delete(client, token, "000000") for _ in range(16)]
        # Refused with the step-up message until the lock; then the session is gone.
        assert statuses[:limit] == [409] * limit
        assert all(s == 303 for s in statuses[limit:]), statuses
        assert other_tab.get("/").headers["location"].startswith("/login")
        assert other_tab.get("/api/v1/me").status_code == 401

    with ctx.sessions() as s:
        user = s.get(User, controller.user_id)
        assert user is not None
        assert user.needs_admin_unlock
        assert user.code_failures == limit
        open_sessions = s.scalars(
            select(UserSession).where(
                UserSession.user_id == controller.user_id, UserSession.ended_at.is_(None)
            )
        ).all()
        assert open_sessions == []
    [locked] = _events(ctx, "login.locked")
    assert locked.actor_user_id == controller.user_id
    assert locked.reason == "step-up code failures"
    assert len(_events(ctx, "login.step_up_failed")) == limit

    # The right code no longer helps: not over HTTP (no session) ...
    clock.advance(timedelta(seconds=30))
    assert _delete(client, token, current_code(controller, clock)) == 303
    # ... nor in step_up itself, which checks the lock.
    with ctx.sessions() as s, s.begin():
        user = s.get(User, controller.user_id)
        assert user is not None
        with pytest.raises(StepUpFailed) as refused:
            stepup.step_up(
                s, ctx.deps, Actor(), user, current_code(controller, clock), "pilot_end_deletion"
            )
        assert refused.value.reason == "account locked"
    # ... nor a new login.
    with TestClient(app, follow_redirects=False) as again:
        form = {"username": controller.username, "password": controller.password}
        form["csrf_token"] = csrf_from(again.get("/login").text)
        assert again.post("/login", data=form).status_code == 401

    # The DPO sees the attempts, and an alert is raised (rules are data: audit/alerts.yaml).
    with session_scope(ctx.sessions) as session:
        raised = evaluate_alerts(session, ctx.clock, ctx.audit, SYSTEM)
    assert any(
        a.rule == "failed_step_ups_account" and a.subject == controller.username for a in raised
    ), [(a.rule, a.subject) for a in raised]
    with TestClient(create_app(ctx), follow_redirects=False) as reviewer:
        log_in(reviewer, dpo, clock)
        rejected = reviewer.get("/dpo/afvisninger").text
        assert "login.step_up_failed" in rejected
        assert controller.username in rejected
        assert "login.locked" in rejected


def test_a_locked_account_is_refused_the_step_up_even_with_the_right_code(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    """The lock is checked in step_up itself, and atomically with taking the code's step:
    a lock set after the session was found still refuses the action."""
    controller = enrolled_person(ctx, "data_controller")
    token = log_in(client, controller, clock)
    with session_scope(ctx.sessions) as s:
        user = s.get(User, controller.user_id)
        assert user is not None
        user.locked_until = ctx.clock.now() + timedelta(minutes=5)  # a password lockout
    clock.advance(timedelta(seconds=30))
    # A timed password lockout (anyone who knows the user name can cause one) leaves the
    # open session alone, but no step-up passes while it lasts, not even the right code.
    assert _delete(client, token, current_code(controller, clock)) == 409
    [failure] = _events(ctx, "login.step_up_failed")
    assert failure.reason == "account locked"
    assert client.get("/").status_code == 200

    with ctx.sessions() as s, s.begin():
        user = s.get(User, controller.user_id)
        assert user is not None
        code = current_code(controller, clock)
        with pytest.raises(StepUpFailed) as refused:
            stepup.step_up(s, ctx.deps, Actor(), user, code, "extract_approval")
        assert refused.value.reason == "account locked"
        # Locked between reading the user and taking the step: refused all the same.
        user.locked_until = None
        s.flush()
        s.execute(
            User.__table__.update()  # type: ignore[attr-defined]
            .where(User.id == controller.user_id)
            .values(needs_admin_unlock=True)
        )
        with pytest.raises(StepUpFailed) as raced:
            stepup.step_up(s, ctx.deps, Actor(), user, code, "extract_approval")
        assert raced.value.reason == "account locked"
    assert [e for e in _events(ctx, "login.step_up") if e.outcome == "success"] == []


def test_a_mistyped_step_up_then_the_right_code_passes(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    """The careless user: a typo counts once and is forgiven by nothing but an unlock or a
    login, but does not lock; the right code afterwards still works."""
    controller = enrolled_person(ctx, "data_controller")
    with ctx.sessions() as s, s.begin():
        user = s.get(User, controller.user_id)
        assert user is not None
        with pytest.raises(StepUpFailed):
            stepup.step_up(s, ctx.deps, Actor(), user, "12345", "extract_approval")
    with ctx.sessions() as s, s.begin():
        failed = StepUpFailed(user_id=controller.user_id, purpose="x", reason="wrong code")
        stepup.record_step_up_failure(s, ctx.deps, Actor(), failed)
    clock.advance(timedelta(seconds=30))
    with ctx.sessions() as s, s.begin():
        user = s.get(User, controller.user_id)
        assert user is not None
        assert user.code_failures == 1
        stepup.step_up(s, ctx.deps, Actor(), user, current_code(controller, clock), "x")
    assert len(_events(ctx, "login.step_up")) == 1

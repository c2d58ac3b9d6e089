"""An administrator changes a user's role or deactivates them: the sessions end at once and
the audit log holds the state before and after ("who could see what on a given day")."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from consent_service.app import create_app
from consent_service.audit.models import AuditEvent
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from tests.conftest import current_code, enrolled_person, log_in


def _changes(ctx: AppContext) -> list[AuditEvent]:
    with ctx.sessions() as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.in_(["user.role_changed", "user.deactivated"]))
                .order_by(AuditEvent.seq)
            )
        )


def test_role_change_and_deactivation_are_logged_before_and_after(
    ctx: AppContext, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator")
    navigator = enrolled_person(ctx, "navigator")
    with (
        TestClient(create_app(ctx), follow_redirects=False) as admin_client,
        TestClient(create_app(ctx), follow_redirects=False) as nav_client,
    ):
        token = log_in(admin_client, admin, clock)
        log_in(nav_client, navigator, clock)
        assert nav_client.get("/borgere").status_code == 200

        clock.advance(timedelta(seconds=30))
        r = admin_client.post(
            f"/admin/brugere/{navigator.user_id}/rolle",
            # To a role without citizens' data: no second person (test_access_proposals.py),
            # but a fresh code (tests/api/test_admin_pages.py).
            data={
                "role": "administrator", "reason": "Skifter job", "confirmed": "ja",
                "code": current_code(admin, clock), "csrf_token": token,
            },
        )  # fmt: skip
        assert r.status_code == 303
        assert r.headers["location"].split("?")[0] == "/admin/brugere"
        # The navigator's session ended with the change.
        assert nav_client.get("/borgere").status_code in (303, 401)

        r = admin_client.post(
            f"/admin/brugere/{navigator.user_id}/aendr",
            data={"active": "false", "reason": "Fratrådt", "confirmed": "ja", "csrf_token": token},
        )
        assert r.status_code == 303

        no_reason = admin_client.post(
            f"/admin/brugere/{navigator.user_id}/aendr",
            data={"active": "true", "reason": "x", "csrf_token": token},
        )
        assert no_reason.status_code == 400
        own = admin_client.post(
            f"/admin/brugere/{admin.user_id}/rolle",
            data={"role": "dpo", "reason": "Forfremmelse", "csrf_token": token},
        )
        assert own.status_code == 403

    role_change, deactivation = _changes(ctx)
    details = json.loads(role_change.details)
    assert details["before"]["role"] == "navigator"
    assert details["after"]["role"] == "administrator"
    assert role_change.reason == "Skifter job"
    assert role_change.actor_user_id == admin.user_id
    details = json.loads(deactivation.details)
    assert details["before"]["is_active"] is True
    assert details["after"]["is_active"] is False

"""Organisations are separate data controllers: a DPO's pages show only the events that
concern their own organisation, and an alert is acknowledged only by a DPO of its
organisation, or, for an alert of no organisation, by a holder of system-wide review.

Played as the attacker would: organisation B's navigator searches a citizen, fails to log
in and is refused a page; A's DPO must find none of it on any page (and must find A's own
navigator's same actions, so no assertion passes on an empty page), and tries B's alert
and an organisation-less alert by id.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from consent_service.app import create_app
from consent_service.audit.models import AuditAlert, AuditEvent
from consent_service.audit.recorder import SYSTEM, Actor
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.identity.models import User
from consent_service.oversight.alerts import evaluate_alerts
from tests.conftest import Person, csrf_from, enrolled_person, log_in
from tests.factories import synthetic_cpr

ORG_A = "Norddjurs Kommune"
ORG_B = "Syddjurs Kommune"
OPERATOR = "Region Midtjylland"  # the tests' CONSENT_BOOTSTRAP_ORGANISATION (the default)
B_STAFF_NAME = "Bente Syddjurs"


def _client(ctx: AppContext) -> TestClient:
    return TestClient(create_app(ctx), follow_redirects=False)


@dataclass
class Trail:
    """What one organisation's navigator left in the log."""

    navigator: Person
    cpr: str
    citizen_id: str
    search_request_id: str
    denied_request_id: str


def _navigator_acts(ctx: AppContext, clock: FixedClock, org: str, born: date) -> Trail:
    """Register a citizen, search them by CPR, be refused the DPO's page, then fail to
    log in five times (which locks the account and raises an alert)."""
    navigator = enrolled_person(ctx, "navigator", org_name=org)
    cpr = synthetic_cpr(born)
    with _client(ctx) as client:
        token = log_in(client, navigator, clock)
        created = client.post(
            "/borgere/ny",
            data={
                "cpr": cpr,
                "name": "Anna Testesen",
                "phone": "+45 12 34 56 78",
                "municipality": "Norddjurs",
                "gp_clinic": "Lægehuset Grenaa",
                "csrf_token": token,
            },
        )
        assert created.status_code == 303
        citizen_id = created.headers["location"].split("?")[0].rsplit("/", 1)[1]
        found = client.post("/borgere/soeg", data={"cpr": cpr, "csrf_token": token})
        assert found.status_code == 303
        denied = client.get("/dpo/log")
        assert denied.status_code == 403
    with _client(ctx) as attacker:
        for _ in range(5):
            clock.advance(timedelta(seconds=40))
            r = attacker.post(
                "/login",
                data={
                    "username": navigator.username,
                    "password": "forkert adgangskode",
                    "csrf_token": csrf_from(attacker.get("/login").text),
                },
            )
            assert r.status_code == 401
    return Trail(
        navigator,
        cpr,
        citizen_id,
        found.headers["x-request-id"],
        denied.headers["x-request-id"],
    )


@dataclass
class World:
    a: Trail
    b: Trail
    a_dpo: Person
    b_dpo: Person
    alerts: dict[tuple[str, int | None], int]  # (rule, organisation id) -> alert id


@pytest.fixture
def world(ctx: AppContext, clock: FixedClock) -> World:
    a_dpo = enrolled_person(ctx, "dpo", org_name=ORG_A)
    b_dpo = enrolled_person(ctx, "dpo", org_name=ORG_B)
    a = _navigator_acts(ctx, clock, ORG_A, date(1961, 4, 17))
    b = _navigator_acts(ctx, clock, ORG_B, date(1972, 9, 3))
    with session_scope(ctx.sessions) as session:
        # B's navigator is named on B's events about A's citizen id: if such an event
        # leaked into A's access report, the name would show.
        session.execute(
            update(User).where(User.id == b.navigator.user_id).values(display_name=B_STAFF_NAME)
        )
        ctx.audit.record(
            session,
            SYSTEM.as_user(b.navigator.user_id, b.navigator.username, b.navigator.organisation_id),
            action="citizen.read",
            outcome="success",
            resource_type="citizen",
            resource_id=a.citizen_id,
        )
        # An event of no organisation, but by B's user: B's, not a system event.
        ctx.audit.record(
            session,
            Actor(user_id=b.navigator.user_id, username=b.navigator.username),
            action="security.totp_replay",
            outcome="failure",
            resource_type="user",
            resource_id=str(b.navigator.user_id),
        )
    with session_scope(ctx.sessions) as session:
        raised = evaluate_alerts(session, ctx.clock, ctx.audit, SYSTEM)
        alerts = {(alert.rule, alert.organisation_id): alert.id for alert in raised}
    # One account alert per organisation; the address (the test client's, shared by both
    # navigators) counts both organisations' failures, so it belongs to neither.
    assert sorted(alerts, key=str) == sorted(
        [
            ("failed_logins_account", a.navigator.organisation_id),
            ("failed_logins_account", b.navigator.organisation_id),
            ("failed_logins_address", None),
        ],
        key=str,
    )
    return World(a, b, a_dpo, b_dpo, alerts)


def _table(html: str, table_id: str) -> str:
    return html.split(f'id="{table_id}">')[1].split("</table>")[0]


def test_another_organisations_events_are_on_none_of_a_dpos_pages(
    ctx: AppContext, clock: FixedClock, world: World
) -> None:
    a, b = world.a, world.b
    mine, theirs = a.navigator.username, b.navigator.username
    with _client(ctx) as client:
        token = log_in(client, world.a_dpo, clock)

        log = _table(client.get("/dpo/log").text, "log")
        for present in (mine, a.citizen_id, "citizen.searched", "access.denied"):
            assert present in log
        assert theirs not in log
        assert b.citizen_id not in log

        denials = _table(client.get("/dpo/log?handling=access.denied").text, "log")
        assert mine in denials
        assert theirs not in denials
        searches = _table(client.get("/dpo/log?handling=citizen.searched").text, "log")
        assert a.citizen_id in searches
        assert b.citizen_id not in searches

        # B's request, by its id: nothing; A's own request by its id: found.
        by_theirs = client.get(f"/dpo/log?anmodning={b.search_request_id}")
        assert by_theirs.status_code == 200
        assert "Ingen hændelser matcher filtret." in by_theirs.text
        assert b.citizen_id not in by_theirs.text
        by_mine = _table(client.get(f"/dpo/log?anmodning={a.search_request_id}").text, "log")
        assert a.citizen_id in by_mine
        by_their_denial = client.get(f"/dpo/log?anmodning={b.denied_request_id}").text
        assert theirs not in by_their_denial
        assert "Ingen hændelser matcher filtret." in by_their_denial
        assert mine in client.get(f"/dpo/log?anmodning={a.denied_request_id}").text
        assert client.get(f"/dpo/log?bruger={theirs}").status_code == 400

        rejected = _table(client.get("/dpo/afvisninger").text, "rejected")
        for present in (mine, "login.password_failed", "login.locked", "access.denied"):
            assert present in rejected
        assert theirs not in rejected

        # The citizen look-up: A's citizen's log shows A's events on it, not B's event
        # on the same pseudonymous id; B's citizen is not found at all.
        found = client.post("/dpo/log/borger", data={"cpr": a.cpr, "csrf_token": token})
        assert found.status_code == 303
        citizen_log = _table(client.get(found.headers["location"]).text, "log")
        assert mine in citizen_log
        assert theirs not in citizen_log
        missing = client.post("/dpo/log/borger", data={"cpr": b.cpr, "csrf_token": token})
        assert missing.status_code == 404
        assert b.citizen_id not in missing.text

        report = client.post(
            "/dpo/indsigt", data={"cpr": a.cpr, "version": "dpo", "csrf_token": token}
        )
        assert report.status_code == 200
        assert "Test navigator" in report.text  # A's navigator, who created and searched
        assert B_STAFF_NAME not in report.text
        assert ORG_B not in report.text
        other = client.post(
            "/dpo/indsigt", data={"cpr": b.cpr, "version": "dpo", "csrf_token": token}
        )
        assert other.status_code == 404

        alerts = client.get("/dpo/alarmer").text
        own_alert = world.alerts[("failed_logins_account", a.navigator.organisation_id)]
        assert f'id="alert-{own_alert}"' in alerts
        assert mine in alerts
        assert theirs not in alerts
        for foreign in (
            world.alerts[("failed_logins_account", b.navigator.organisation_id)],
            world.alerts[("failed_logins_address", None)],
        ):
            assert f'id="alert-{foreign}"' not in alerts
        assert "Hele tjenesten" not in alerts

        overview = client.get("/dpo").text
        assert re.search(r'id="open-alerts">1<', overview), "only A's own alert is counted"


def _denials(ctx: AppContext, request_id: str) -> list[tuple[str, int | None, str]]:
    with ctx.sessions() as s:
        events = s.scalars(
            select(AuditEvent).where(
                AuditEvent.request_id == request_id, AuditEvent.outcome == "deny"
            )
        ).all()
        return [(e.action, e.actor_user_id, json.loads(e.details)["permission"]) for e in events]


def _acknowledged_by(ctx: AppContext, alert_id: int) -> int | None:
    with ctx.sessions() as s:
        alert = s.get(AuditAlert, alert_id)
        assert alert is not None
        return alert.acknowledged_by


def _ack(client: TestClient, token: str, alert_id: int) -> tuple[int, str, str]:
    r = client.post(
        f"/dpo/alarmer/{alert_id}/kvitter",
        data={"comment": "Set og undersøgt", "csrf_token": token},
    )
    request_id = r.headers["x-request-id"]
    return r.status_code, r.text.replace(request_id, "<id>"), request_id


def test_a_dpo_acknowledges_only_their_organisations_alerts(
    ctx: AppContext, clock: FixedClock, world: World
) -> None:
    theirs = world.alerts[("failed_logins_account", world.b.navigator.organisation_id)]
    nobodys = world.alerts[("failed_logins_address", None)]
    own = world.alerts[("failed_logins_account", world.a.navigator.organisation_id)]
    unknown = max(world.alerts.values()) + 1000
    with _client(ctx) as client:
        token = log_in(client, world.a_dpo, clock)
        assert client.get(f"/dpo/alarmer/{theirs}").status_code in (404, 405)

        refused = {alert_id: _ack(client, token, alert_id) for alert_id in (theirs, nobodys)}
        status, unknown_body, unknown_request = _ack(client, token, unknown)
        assert status == 403
        for status, body, _ in refused.values():
            # Another organisation's alert, one of none and an unknown id look the same.
            assert status == 403
            assert body == unknown_body
            assert world.b.navigator.username not in body
        assert _denials(ctx, refused[theirs][2]) == [
            ("access.denied", world.a_dpo.user_id, "audit:alerts")
        ]
        assert _denials(ctx, refused[nobodys][2]) == [
            ("access.denied", world.a_dpo.user_id, "audit:system_review")
        ]
        assert _denials(ctx, unknown_request) == [
            ("access.denied", world.a_dpo.user_id, "audit:alerts")
        ]
        assert _acknowledged_by(ctx, theirs) is None
        assert _acknowledged_by(ctx, nobodys) is None

        status, _, _ = _ack(client, token, own)
        assert status == 303
        assert _acknowledged_by(ctx, own) == world.a_dpo.user_id

    # B's DPO, of another organisation that does not run the service, may not either.
    with _client(ctx) as client:
        token = log_in(client, world.b_dpo, clock)
        assert f'id="alert-{nobodys}"' not in client.get("/dpo/alarmer").text
        status, _, request_id = _ack(client, token, nobodys)
        assert status == 403
        assert _denials(ctx, request_id) == [
            ("access.denied", world.b_dpo.user_id, "audit:system_review")
        ]


def test_system_wide_review_sees_and_acknowledges_alerts_of_no_organisation(
    ctx: AppContext, clock: FixedClock, world: World
) -> None:
    assert ctx.settings.bootstrap_organisation == OPERATOR
    reviewer = enrolled_person(ctx, "dpo", org_name=OPERATOR)
    nobodys = world.alerts[("failed_logins_address", None)]
    theirs = world.alerts[("failed_logins_account", world.b.navigator.organisation_id)]
    with _client(ctx) as client:
        token = log_in(client, reviewer, clock)
        page = client.get("/dpo/alarmer").text
        assert f'id="alert-{nobodys}"' in page
        assert "Hele tjenesten" in page
        assert f'id="alert-{theirs}"' not in page  # system-wide, not every organisation's
        assert re.search(r'id="open-alerts">1<', client.get("/dpo").text)

        status, _, request_id = _ack(client, token, theirs)
        assert status == 403
        assert _denials(ctx, request_id) == [("access.denied", reviewer.user_id, "audit:alerts")]

        status, _, request_id = _ack(client, token, nobodys)
        assert status == 303
        assert _denials(ctx, request_id) == []
    assert _acknowledged_by(ctx, nobodys) == reviewer.user_id
    with ctx.sessions() as s:
        acks = s.scalars(select(AuditEvent).where(AuditEvent.action == "alert.acknowledged"))
        assert [(e.actor_user_id, json.loads(e.details)["alert"]) for e in acks] == [
            (reviewer.user_id, nobodys)
        ]

"""A practice system submits referrals with a scoped, expiring API token."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.identity.models import ApiToken
from tests.conftest import enrolled_person, log_in
from tests.factories import synthetic_cpr


def _issue_token(ctx: AppContext, client: TestClient, clock: FixedClock, days: int = 30) -> str:
    referrer = enrolled_person(ctx, "referrer")
    admin = TestClient(client.app, follow_redirects=False)
    token = log_in(admin, enrolled_person(ctx, "administrator"), clock)
    r = admin.post(
        "/admin/api-noegler",
        data={
            "user_id": str(referrer.user_id),
            "label": "Lægehuset Grenaa",
            "valid_days": days,
            "csrf_token": token,
        },
    )
    assert r.status_code == 200, r.text
    return r.text.split('id="new-api-token">')[1].split("<")[0]


def _body(cpr: str) -> dict[str, object]:
    return {
        "cpr": cpr,
        "name": "Ayşe Yılmaz",
        "municipality": "Norddjurs",
        "gp_clinic": "Lægehuset Grenaa",
        "referrer_kind": "gp",
        "clinic": "Lægehuset Grenaa",
        "referred_on": "2026-11-20",
        "course_start_on": "2027-05-03",
        "norddjurs_link": True,
        "reachable": True,
    }


def test_submit_referral_with_token(ctx: AppContext, client: TestClient, clock: FixedClock) -> None:
    token = _issue_token(ctx, client, clock)
    with ctx.sessions() as s:
        stored = s.scalars(select(ApiToken)).one()
    assert token not in stored.token_hash
    api = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
    cpr = synthetic_cpr(date(1958, 3, 9))
    r = api.post("/api/v1/referrals", json=_body(cpr))
    assert r.status_code == 201, r.text
    assert r.json()["cohort"] == "hold-3"
    assert r.json()["new_citizen"] is True
    again = api.post("/api/v1/referrals", json=_body(cpr.replace("-", "")))
    assert again.status_code == 201
    assert again.json()["new_citizen"] is False
    assert again.json()["citizen_id"] == r.json()["citizen_id"]


def test_token_scope_and_expiry(ctx: AppContext, client: TestClient, clock: FixedClock) -> None:
    token = _issue_token(ctx, client, clock, days=1)
    api = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/v1/me").status_code == 403  # outside the token's scope
    assert (
        TestClient(client.app, follow_redirects=False, headers=api.headers).get("/").status_code
        == 303
    )
    clock.advance(timedelta(days=1, seconds=1))
    r = api.post("/api/v1/referrals", json=_body(synthetic_cpr(date(1950, 1, 2))))
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


def test_bad_referral_is_refused_without_echo(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    token = _issue_token(ctx, client, clock)
    api = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
    body = _body("320190-9999")
    r = api.post("/api/v1/referrals", json=body)
    assert r.status_code == 422
    assert "320190" not in r.text
    assert r.headers["content-type"] == "application/problem+json"
    r = api.post("/api/v1/referrals", json={**body, "surprise": 1})
    assert r.status_code == 422


def test_revoked_token_fails(ctx: AppContext, client: TestClient, clock: FixedClock) -> None:
    token = _issue_token(ctx, client, clock)
    with ctx.sessions() as s, s.begin():
        s.scalars(select(ApiToken)).one().revoked_at = clock.now()
    api = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
    r = api.post("/api/v1/referrals", json=_body(synthetic_cpr(date(1950, 1, 3))))
    assert r.status_code == 401

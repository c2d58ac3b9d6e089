"""A practice system submits referrals with a scoped, expiring API token."""

from __future__ import annotations

import json
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from consent_service.audit.models import AuditEvent
from consent_service.citizens.models import Citizen, Referral
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.crypto import token_hash
from consent_service.identity.models import ApiToken
from consent_service.web.deps import iter_routes
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
    assert r.status_code == 202, r.text
    again = api.post("/api/v1/referrals", json=_body(cpr.replace("-", "")))
    assert again.status_code == 202
    with ctx.sessions() as s:
        referrals = s.scalars(select(Referral).order_by(Referral.id)).all()
        citizens = s.scalars(select(Citizen)).all()
    assert [x.public_id for x in referrals] == [
        r.json()["referral_id"],
        again.json()["referral_id"],
    ]
    assert [x.cohort for x in referrals] == ["hold-3", "hold-3"]
    assert len(citizens) == 1  # the second referral joined the citizen the first made
    assert {x.citizen_id for x in referrals} == {citizens[0].id}


def _referral_events(ctx: AppContext) -> list[AuditEvent]:
    with ctx.sessions() as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.in_(["citizen.created", "referral.created"]))
                .order_by(AuditEvent.seq)
            )
        )


def test_a_known_cpr_gets_the_same_answer_as_a_new_one(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    """The enrolment oracle, played: submit a CPR already in the pilot and a new one, and
    compare everything the caller sees."""
    token = _issue_token(ctx, client, clock)
    api = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
    known = synthetic_cpr(date(1958, 3, 9))
    assert api.post("/api/v1/referrals", json=_body(known)).status_code == 202
    with ctx.sessions() as s:
        citizen_id = s.scalars(select(Citizen.public_id)).one()

    answers = {
        "known": api.post("/api/v1/referrals", json=_body(known)),
        "new": api.post("/api/v1/referrals", json=_body(synthetic_cpr(date(1958, 3, 9), 1))),
    }
    for answer in answers.values():
        assert answer.status_code == 202
        assert answer.headers["content-type"] == "application/json"
        body = answer.json()
        assert set(body) == {"referral_id", "status"}
        assert body["status"] == "received"
        assert citizen_id not in answer.text
        assert "new_citizen" not in answer.text
    shapes = {
        name: {k: v for k, v in a.json().items() if k != "referral_id"}
        for name, a in answers.items()
    }
    assert shapes["known"] == shapes["new"]
    assert sorted(answers["known"].headers) == sorted(answers["new"].headers)
    assert len(answers["known"].content) == len(answers["new"].content)


def test_a_known_cpr_is_checked_as_strictly_as_a_new_one(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    """Bad contact data must not pass for a known CPR while it fails for a new one: that
    difference alone would tell who takes part."""
    token = _issue_token(ctx, client, clock)
    api = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
    known = synthetic_cpr(date(1958, 3, 9))
    assert api.post("/api/v1/referrals", json=_body(known)).status_code == 202
    new = synthetic_cpr(date(1958, 3, 9), 1)
    for bad in (
        {"email": "ikke-en-adresse"},
        {"phone": "abc"},
        {"name": "   "},
        {"referrer_kind": "dentist"},
        {"referred_on": "1950-01-01"},  # before the birth date
        {"referred_on": "2027-01-01"},  # in the future
    ):
        on_known = api.post("/api/v1/referrals", json={**_body(known), **bad})
        on_new = api.post("/api/v1/referrals", json={**_body(new), **bad})
        assert on_known.status_code == on_new.status_code == 422, bad
        assert {k: v for k, v in on_known.json().items() if k != "request_id"} == {
            k: v for k, v in on_new.json().items() if k != "request_id"
        }, bad
    with ctx.sessions() as s:
        assert len(s.scalars(select(Referral)).all()) == 1  # nothing was added


def test_a_token_adds_only_to_its_own_practices_stream(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    """Practice X's token: its referrals are X's, it cannot name another practice or
    citizen, and it reads nothing, not even its own referrals."""
    x = _issue_token(ctx, client, clock)
    y = _issue_token(ctx, client, clock)
    with ctx.sessions() as s:
        owners = {t.user_id for t in s.scalars(select(ApiToken))}
    assert len(owners) == 2
    api_x = TestClient(client.app, headers={"Authorization": f"Bearer {x}"})
    api_y = TestClient(client.app, headers={"Authorization": f"Bearer {y}"})
    cpr = synthetic_cpr(date(1958, 3, 9))
    by_y = api_y.post("/api/v1/referrals", json=_body(cpr)).json()["referral_id"]
    by_x = api_x.post("/api/v1/referrals", json=_body(cpr)).json()["referral_id"]
    with ctx.sessions() as s:
        tokens = {t.user_id: t for t in s.scalars(select(ApiToken))}
        made_by = {r.public_id: r.created_by for r in s.scalars(select(Referral))}
        x_user = next(u for u, t in tokens.items() if t.token_hash == token_hash(x))
        y_user = next(u for u, t in tokens.items() if t.token_hash == token_hash(y))
    assert made_by == {by_x: x_user, by_y: y_user}
    for event in _referral_events(ctx):
        if event.action == "referral.created":
            expected = x_user if json.loads(event.details)["referral"] == by_x else y_user
            assert event.actor_user_id == expected

    # No field names another practice, account or citizen: such a body is refused whole.
    for smuggled in (
        {"created_by": y_user},
        {"referrer_id": y_user},
        {"user_id": y_user},
        {"citizen_id": "0" * 32},
        {"organisation_id": 1},
    ):
        r = api_x.post("/api/v1/referrals", json={**_body(cpr), **smuggled})
        assert r.status_code == 422, smuggled
    # Nothing to read: the referral (or anything else) is not reachable with the token.
    assert api_x.get(f"/api/v1/referrals/{by_x}").status_code == 404
    assert api_x.get("/api/v1/referrals").status_code == 405
    for path, route in iter_routes(client.app.routes):
        methods = getattr(route, "methods", None) or set()
        if path.startswith("/api/") and "GET" in methods and "{" not in path:
            if path == "/api/v1/openapi.json":  # the public description holds no data
                continue
            assert api_x.get(path).status_code in (401, 403), path
    with ctx.sessions() as s:
        assert len(s.scalars(select(Referral)).all()) == 2


def test_a_cpr_known_in_another_organisation_stays_there(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    """A token of organisation A that submits a CPR registered in B makes a citizen in A;
    B's citizen gets no referral, and no probe is recorded (a referral is no search)."""
    from tests.conftest import enrolled_person as person

    other = TestClient(client.app, follow_redirects=False)
    nav = log_in(other, person(ctx, "navigator", org_name="Syddjurs Kommune"), clock)
    cpr = synthetic_cpr(date(1958, 3, 9))
    made = other.post(
        "/borgere/ny",
        data={
            "cpr": cpr,
            "name": "Bodil",
            "municipality": "Syddjurs",
            "gp_clinic": "Lægehuset Ebeltoft",
            "csrf_token": nav,
        },
    )
    assert made.status_code == 303
    token = _issue_token(ctx, client, clock)
    api = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
    assert api.post("/api/v1/referrals", json=_body(cpr)).status_code == 202
    b_citizen = made.headers["location"].split("?")[0].rsplit("/", 1)[1]
    with ctx.sessions() as s:
        citizens = {c.public_id: c for c in s.scalars(select(Citizen))}
        (referral,) = s.scalars(select(Referral)).all()
        probes = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "citizen.cross_organisation_probe")
        ).all()
    assert len(citizens) == 2
    (a_citizen,) = (c for pid, c in citizens.items() if pid != b_citizen)
    assert referral.citizen_id == a_citizen.id
    assert a_citizen.organisation_id != citizens[b_citizen].organisation_id
    assert probes == []


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

"""No silent cross-organisation probe: a navigator of organisation A who searches a CPR
registered only in B, or opens B's citizen by id, gets exactly what an unknown CPR or id
gets, and B's DPO sees the attempt among rejected access attempts and as an alert; A's
DPO sees only A's own ordinary not-found search. Every CPR search is audited with the
criterion as a keyed hash, never the number.

Played as the attacker (A's navigator probing) and as the careless user (a mistyped
number, a stale link), with the DPOs of both organisations looking.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from consent_service.app import create_app
from consent_service.audit.models import AuditAlert, AuditEvent
from consent_service.audit.recorder import SYSTEM
from consent_service.clock import FixedClock
from consent_service.consents.models import Consent, ConsentEvent
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.oversight.alerts import evaluate_alerts
from consent_service.wellbeing.models import WellbeingResponse
from tests.api import test_citizens_consents as api
from tests.conftest import Person, enrolled_person, log_in
from tests.factories import synthetic_cpr, tiny_png

ORG_A = "Norddjurs Kommune"
ORG_B = "Syddjurs Kommune"
PROBE = "citizen.cross_organisation_probe"


def _client(ctx: AppContext) -> TestClient:
    return TestClient(create_app(ctx), follow_redirects=False)


def _register(client: TestClient, token: str, cpr: str) -> str:
    r = client.post(
        "/borgere/ny",
        data={
            "cpr": cpr,
            "name": "Bodil Syddjurs",
            "municipality": "Syddjurs",
            "gp_clinic": "Lægehuset Ebeltoft",
            "csrf_token": token,
        },
    )
    assert r.status_code == 303, r.text
    return r.headers["location"].split("?")[0].rsplit("/", 1)[1]


def _same_page(first: str, second: str) -> tuple[str, str]:
    """Both pages with what differs per request (the CSRF token of the session, the
    request id) blanked out."""

    def blank(html: str) -> str:
        html = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', html)
        return re.sub(r"<code>[0-9a-f-]{8,}</code>", "<code></code>", html)

    return blank(first), blank(second)


@dataclass
class World:
    a_nav: Person
    a_token: str
    a_client: TestClient
    b_cpr: str  # registered in B only
    b_citizen: str
    unknown_cpr: str  # registered nowhere
    a_dpo: Person
    b_dpo: Person


@pytest.fixture
def world(ctx: AppContext, clock: FixedClock) -> World:
    b_nav = enrolled_person(ctx, "navigator", org_name=ORG_B)
    b_cpr = synthetic_cpr(date(1966, 2, 11))
    with _client(ctx) as b:
        b_citizen = _register(b, log_in(b, b_nav, clock), b_cpr)
    a_nav = enrolled_person(ctx, "navigator", org_name=ORG_A)
    a_client = _client(ctx)
    a_token = log_in(a_client, a_nav, clock)
    return World(
        a_nav,
        a_token,
        a_client,
        b_cpr,
        b_citizen,
        synthetic_cpr(date(1966, 2, 11), 1),
        enrolled_person(ctx, "dpo", org_name=ORG_A),
        enrolled_person(ctx, "dpo", org_name=ORG_B),
    )


def _events(ctx: AppContext, action: str) -> list[AuditEvent]:
    with ctx.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _rejected_table(client: TestClient) -> str:
    html = client.get("/dpo/afvisninger").text
    return html.split('id="rejected">')[1].split("</table>")[0]


def test_a_foreign_cpr_is_answered_as_an_unknown_one(ctx: AppContext, world: World) -> None:
    a = world.a_client
    unknown = a.post("/borgere/soeg", data={"cpr": world.unknown_cpr, "csrf_token": world.a_token})
    foreign = a.post("/borgere/soeg", data={"cpr": world.b_cpr, "csrf_token": world.a_token})
    assert unknown.status_code == foreign.status_code == 404
    assert unknown.headers.keys() == foreign.headers.keys()
    # Each page keeps the number typed in the search field (the form pattern), and
    # differs in nothing else.
    first, second = _same_page(
        unknown.text.replace(world.unknown_cpr, "<typed>"),
        foreign.text.replace(world.b_cpr, "<typed>"),
    )
    assert first == second
    assert world.b_citizen not in foreign.text

    # A's log: two ordinary not-found searches, indistinguishable but for the hash.
    searches = [
        e for e in _events(ctx, "citizen.searched") if e.actor_user_id == world.a_nav.user_id
    ]
    assert [(e.organisation_id, e.resource_id, e.outcome) for e in searches] == [
        (world.a_nav.organisation_id, None, "success"),
        (world.a_nav.organisation_id, None, "success"),
    ]
    details = [json.loads(e.details) for e in searches]
    assert [(d["criterion"], d["found"]) for d in details] == [("cpr", False), ("cpr", False)]
    assert details[0]["criterion_hash"] != details[1]["criterion_hash"]

    # B's log: one probe, by A's navigator, about B's citizen, refused.
    (probe,) = _events(ctx, PROBE)
    b_org = world.b_dpo.organisation_id
    assert (probe.organisation_id, probe.resource_type, probe.resource_id, probe.outcome) == (
        b_org,
        "citizen",
        world.b_citizen,
        "deny",
    )
    assert (probe.actor_user_id, probe.actor_username) == (
        world.a_nav.user_id,
        world.a_nav.username,
    )
    assert probe.request_id == foreign.headers["x-request-id"]
    assert json.loads(probe.details) == {
        "via": "search",
        "criterion_hash": details[1]["criterion_hash"],
        "from_organisation": world.a_nav.organisation_id,
    }


def test_a_careless_search_in_the_own_organisation_raises_no_probe(
    ctx: AppContext, clock: FixedClock, world: World
) -> None:
    """A CPR registered in A and in B is A's to find: no probe in B's log."""
    a = world.a_client
    own = _register(a, world.a_token, world.b_cpr)
    found = a.post("/borgere/soeg", data={"cpr": world.b_cpr, "csrf_token": world.a_token})
    assert found.headers["location"] == f"/borgere/{own}"
    missing = a.post("/borgere/soeg", data={"cpr": world.unknown_cpr, "csrf_token": world.a_token})
    assert missing.status_code == 404
    assert _events(ctx, PROBE) == []


def test_b_dpo_sees_the_probe_and_a_dpo_sees_only_its_own_search(
    ctx: AppContext, clock: FixedClock, world: World
) -> None:
    world.a_client.post("/borgere/soeg", data={"cpr": world.b_cpr, "csrf_token": world.a_token})
    with _client(ctx) as b_dpo:
        log_in(b_dpo, world.b_dpo, clock)
        rejected = _rejected_table(b_dpo)
        assert world.a_nav.username in rejected
        assert PROBE in rejected
        log = b_dpo.get(f"/dpo/log?borger={world.b_citizen}").text
        assert PROBE in log
        assert world.a_nav.username in log
    with _client(ctx) as a_dpo:
        log_in(a_dpo, world.a_dpo, clock)
        rejected = _rejected_table(a_dpo)
        assert PROBE not in rejected
        assert world.a_nav.username not in rejected  # nothing was refused in A
        log = a_dpo.get("/dpo/log?handling=citizen.searched").text
        assert world.a_nav.username in log  # A's own search, not found
        everything = a_dpo.get("/dpo/log").text
        assert world.b_citizen not in everything
        assert PROBE not in everything.split('id="log">')[1]
        assert a_dpo.get(f"/dpo/log?handling={PROBE}").text.count(world.b_citizen) == 0


def test_a_dpo_looking_up_a_foreign_cpr_is_a_probe_too(
    ctx: AppContext, clock: FixedClock, world: World
) -> None:
    """The DPO's own CPR look-ups (log filter, access report) are CPR searches too."""
    with _client(ctx) as a_dpo:
        token = log_in(a_dpo, world.a_dpo, clock)
        for path in ("/dpo/log/borger", "/dpo/indsigt"):
            unknown = a_dpo.post(path, data={"cpr": world.unknown_cpr, "csrf_token": token})
            foreign = a_dpo.post(path, data={"cpr": world.b_cpr, "csrf_token": token})
            assert unknown.status_code == foreign.status_code == 404, path
            # The form keeps what was typed (only in its field): each page its own CPR.
            assert unknown.text.count(world.unknown_cpr) == 1, path
            assert foreign.text.count(world.b_cpr) == 1, path
            first, second = _same_page(
                unknown.text.replace(world.unknown_cpr, "CPR"),
                foreign.text.replace(world.b_cpr, "CPR"),
            )
            assert first == second, path
    probes = _events(ctx, PROBE)
    assert [(p.organisation_id, p.resource_id, p.actor_user_id) for p in probes] == [
        (world.b_dpo.organisation_id, world.b_citizen, world.a_dpo.user_id)
    ] * 2
    assert {json.loads(p.details)["via"] for p in probes} == {"dpo_lookup"}
    lookups = _events(ctx, "audit.citizen_lookup")
    assert len(lookups) == 4
    assert {e.organisation_id for e in lookups} == {world.a_dpo.organisation_id}
    assert all(len(json.loads(e.details)["criterion_hash"]) == 64 for e in lookups)


def test_opening_a_foreign_citizen_is_a_404_like_an_unknown_id(
    ctx: AppContext, clock: FixedClock, world: World
) -> None:
    a = world.a_client
    unknown_id = "0" * 32
    for method, suffix in (
        ("GET", ""),
        ("POST", "/samtykke/journal/udskriv"),
        ("GET", "/trivsel"),
    ):
        data = {"csrf_token": world.a_token} if method == "POST" else None
        unknown = a.request(method, f"/borgere/{unknown_id}{suffix}", data=data)
        foreign = a.request(method, f"/borgere/{world.b_citizen}{suffix}", data=data)
        assert unknown.status_code == foreign.status_code == 404, suffix
        first, second = _same_page(unknown.text, foreign.text)
        assert first == second
    probes = _events(ctx, PROBE)
    assert len(probes) == 3
    assert {(p.organisation_id, p.resource_id, p.outcome) for p in probes} == {
        (world.b_dpo.organisation_id, world.b_citizen, "deny")
    }
    assert {json.loads(p.details)["via"] for p in probes} == {"open"}
    # The rolled-back request leaves nothing in A's log that would tell the two apart.
    with ctx.sessions() as s:
        mentions = s.scalars(
            select(AuditEvent).where(AuditEvent.organisation_id == world.a_nav.organisation_id)
        ).all()
    assert all(unknown_id != e.resource_id != world.b_citizen for e in mentions)
    with _client(ctx) as b_dpo:
        log_in(b_dpo, world.b_dpo, clock)
        assert world.a_nav.username in _rejected_table(b_dpo)


def test_another_organisations_consent_is_a_404_like_an_unknown_one(
    ctx: AppContext, clock: FixedClock, world: World
) -> None:
    from consent_service.consents.models import Consent
    from tests.api.test_citizens_consents import print_form, record, refer

    today = clock.now().date()
    with _client(ctx) as b:
        token = log_in(b, enrolled_person(ctx, "navigator", org_name=ORG_B), clock)
        refer(b, token, world.b_citizen, today, date(2026, 12, 1))
        form_id = print_form(b, token, world.b_citizen, "journal")
        assert record(b, token, world.b_citizen, "journal", form_id, today).status_code == 303
    with ctx.sessions() as s:
        consent_id = s.scalars(select(Consent.public_id)).one()
    a = world.a_client
    for method, path in (
        ("GET", "/samtykker/{}/kvittering.pdf"),
        ("GET", "/api/v1/consents/{}/fhir"),
        ("POST", "/samtykker/{}/tilbagekald"),
    ):
        data = (
            {"withdrawn_on": today.isoformat(), "channel": "letter", "csrf_token": world.a_token}
            if method == "POST"
            else None
        )
        unknown = a.request(method, path.format("0" * 32), data=data)
        foreign = a.request(method, path.format(consent_id), data=data)
        assert unknown.status_code == foreign.status_code == 404, path
        first, second = _same_page(unknown.text, foreign.text)
        if path.startswith("/api/"):
            first, second = (re.sub(r'"request_id":"[^"]*"', "", x) for x in (first, second))
        assert first == second, path
    probes = _events(ctx, PROBE)
    assert [(p.organisation_id, p.resource_id) for p in probes] == [
        (world.b_dpo.organisation_id, world.b_citizen)
    ] * 3
    assert {json.loads(p.details)["via"] for p in probes} == {"consent"}
    from consent_service.consents.models import ConsentEvent

    with ctx.sessions() as s:
        assert s.scalars(select(ConsentEvent.event_type)).all() == []  # nothing withdrawn


def test_an_alert_goes_to_the_probed_organisation_only(
    ctx: AppContext, clock: FixedClock, world: World
) -> None:
    world.a_client.post("/borgere/soeg", data={"cpr": world.b_cpr, "csrf_token": world.a_token})
    world.a_client.get(f"/borgere/{world.b_citizen}")
    with session_scope(ctx.sessions) as session:
        raised = evaluate_alerts(session, ctx.clock, ctx.audit, SYSTEM)
        found = [(a.rule, a.organisation_id, a.subject, a.event_count) for a in raised]
    assert ("cross_organisation_probe", world.b_dpo.organisation_id, world.b_citizen, 2) in found
    with ctx.sessions() as s:
        alert = s.scalars(
            select(AuditAlert).where(AuditAlert.rule == "cross_organisation_probe")
        ).one()
    with _client(ctx) as b_dpo:
        log_in(b_dpo, world.b_dpo, clock)
        assert f'id="alert-{alert.id}"' in b_dpo.get("/dpo/alarmer").text
    with _client(ctx) as a_dpo:
        log_in(a_dpo, world.a_dpo, clock)
        assert f'id="alert-{alert.id}"' not in a_dpo.get("/dpo/alarmer").text


def test_no_cpr_in_any_audit_event(ctx: AppContext, clock: FixedClock, world: World) -> None:
    a = world.a_client
    for cpr in (world.b_cpr, world.b_cpr.replace("-", ""), world.unknown_cpr):
        a.post("/borgere/soeg", data={"cpr": cpr, "csrf_token": world.a_token})
    with _client(ctx) as dpo:
        token = log_in(dpo, world.b_dpo, clock)
        assert dpo.post(
            "/dpo/log/borger", data={"cpr": world.b_cpr, "csrf_token": token}
        ).status_code in (200, 303)
    assert _events(ctx, PROBE)
    digits = {c.replace("-", "") for c in (world.b_cpr, world.unknown_cpr)}
    pieces = digits | {f"{d[:6]}-{d[6:]}" for d in digits}
    with ctx.engine.connect() as conn:
        tables = ["audit_event"] + (
            ["audit_pending"] if ctx.engine.dialect.name == "postgresql" else []
        )
        for table in tables:
            rows = conn.execute(text(f"SELECT * FROM {table}")).mappings().all()
            dump = json.dumps([dict(r) for r in rows], default=str)
            assert "criterion_hash" in dump or table == "audit_pending"
            for piece in pieces:
                assert piece not in dump, table


def test_the_criterion_hash_is_keyed_and_not_the_blind_index(ctx: AppContext) -> None:
    cpr = synthetic_cpr(date(1970, 5, 6)).replace("-", "")
    other = synthetic_cpr(date(1970, 5, 6), 1).replace("-", "")
    hashed = ctx.crypto.search_criterion_hash(cpr)
    assert hashed == ctx.crypto.search_criterion_hash(cpr)
    assert hashed != ctx.crypto.search_criterion_hash(other)
    assert cpr not in hashed
    assert all(hashed != ctx.crypto.blind_index(org, cpr) for org in range(1, 50))
    import hashlib

    assert hashed != hashlib.sha256(cpr.encode()).hexdigest()  # keyed, not a bare hash


def test_every_citizen_and_consent_route_loads_through_the_scoped_loader(
    ctx: AppContext, clock: FixedClock, world: World
) -> None:
    """Each route that names a citizen or a consent by id answers another organisation's
    id as an unknown one (404, the same page), and the loader records the probe in the
    organisation it concerns; nothing is written in either organisation."""
    today = clock.now().date()
    with _client(ctx) as b:
        token = log_in(b, enrolled_person(ctx, "navigator", org_name=ORG_B), clock)
        api.refer(b, token, world.b_citizen, today, date(2026, 12, 1))
        form_id = api.print_form(b, token, world.b_citizen, "journal")
        assert api.record(b, token, world.b_citizen, "journal", form_id, today).status_code == 303
    with ctx.sessions() as s:
        consent_id = s.scalars(select(Consent.public_id)).one()
        referrals_before = s.scalar(text("SELECT count(*) FROM referral"))
    a, csrf, day = world.a_client, world.a_token, today.isoformat()
    answers = {f"who5_{i}": "3" for i in range(1, 6)} | {"life_satisfaction": "7"}
    citizen_routes: list[tuple[str, dict[str, str], dict[str, tuple[str, bytes, str]] | None]] = [
        ("/henvisning", {"referrer_kind": "gp", "clinic": "Lægehuset", "referred_on": day}, None),
        ("/samtykke/wellbeing/afslag", {"decided_on": day}, None),
        (
            "/samtykke/journal/registrer",
            {"form_id": form_id, "signed_on": day, "witness": "Navigatør"},
            {"scan": ("scan.png", tiny_png(), "image/png")},
        ),
        ("/trivsel", {"occasion": "baseline", "answered_on": day} | answers, None),
    ]
    for suffix, fields, files in citizen_routes:
        data = fields | {"csrf_token": csrf}
        unknown = a.post(f"/borgere/{'0' * 32}{suffix}", data=data, files=files)
        foreign = a.post(f"/borgere/{world.b_citizen}{suffix}", data=data, files=files)
        assert unknown.status_code == foreign.status_code == 404, suffix
        first, second = _same_page(unknown.text, foreign.text)
        assert first == second, suffix
    consent_routes: list[tuple[str, str, dict[str, str] | None]] = [
        ("POST", "/samtykker/{}/journal", {"entered_on": day, "csrf_token": csrf}),
        ("POST", "/samtykker/{}/ugyldiggoer", {"reason": "recorded_in_error", "csrf_token": csrf}),
        ("GET", "/samtykker/{}/scanning", None),
        ("GET", "/api/v1/consents/{}/iso27560", None),
    ]
    for method, path, data in consent_routes:
        unknown = a.request(method, path.format("0" * 32), data=data)
        foreign = a.request(method, path.format(consent_id), data=data)
        assert unknown.status_code == foreign.status_code == 404, path
    probes = _events(ctx, PROBE)
    assert {(p.organisation_id, p.resource_id, p.outcome) for p in probes} == {
        (world.b_dpo.organisation_id, world.b_citizen, "deny")
    }
    vias = [json.loads(p.details)["via"] for p in probes]
    assert vias.count("open") == len(citizen_routes)
    assert vias.count("consent") == len(consent_routes)
    with ctx.sessions() as s:
        assert s.scalars(select(ConsentEvent.event_type)).all() == []  # nothing confirmed
        assert s.scalars(select(Consent.decision)).all() == ["given"]  # nothing recorded
        assert s.scalars(select(WellbeingResponse)).all() == []
        assert s.scalar(text("SELECT count(*) FROM referral")) == referrals_before

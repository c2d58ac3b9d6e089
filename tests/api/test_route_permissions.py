"""Who may use which route, written out: every route of the app x every role.

``EXPECTED`` is the table a reviewer reads (like ``policies/access.yaml``, and checked to
agree with it, read from the file itself): the roles allowed on each route and the
status a real success answers. The matrix then logs each role in once and tries every
route as every role, with every path parameter filled with a real resource of the
role's own organisation and a valid body: an allowed role must get that success, every
other role 403 with its refusal audited. Every route with an id is also tried with
another organisation's id, which must answer exactly as an unknown id and change nothing.
A new route fails the first test until someone writes its row here.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import Mount

from consent_service.app import create_app
from consent_service.audit.models import AuditEvent
from consent_service.clock import LEGAL_TZ, FixedClock
from consent_service.context import AppContext
from consent_service.models import Base
from consent_service.web.deps import PUBLIC, declared_permission, iter_routes
from tests import conftest
from tests.conftest import enrolled_person, log_in
from tests.evidence_support import ALLOWED as EVIDENCE_ALLOWED
from tests.evidence_support import let_the_database_reach_the_day
from tests.integration import test_witnessing
from tests.route_matrix import (
    BODIES,
    BUILDERS,
    CONSENT_KIND,
    NEW_PASSWORD,
    PATH_RESOURCES,
    ROLES,
    Login,
    Organisation,
    Route,
    build_organisation,
    call_for,
    path_ids,
)

REPO = Path(__file__).resolve().parents[2]
POLICY_FILE = REPO / "policies" / "access.yaml"
RETENTION_FILE = REPO / "retention" / "schedule.yaml"
PUBLIC_PATHS = re.compile(r"^/(login(/.*)?|healthz|readyz|api/v1/openapi\.json)$")

# Two witness services on loopback ports, so the DPO's cosigned-note download succeeds.
pair = test_witnessing.pair
wctx = test_witnessing.wctx

NAV = frozenset({"navigator"})
REF = frozenset({"referrer"})
DC = frozenset({"data_controller"})
DPO = frozenset({"dpo"})
ADMIN = frozenset({"administrator"})
LEGAL = frozenset({"legal_adviser"})
EVERYONE = frozenset(ROLES)


class Row(NamedTuple):
    """The roles allowed on a route, and what a success answers."""

    allowed: frozenset[str]
    status: int
    content_type: str = "text/html"
    location: str | None = None  # where a 303 leads, if to the login page


PUBLIC_ROUTES: frozenset[Route] = frozenset({
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/api/v1/openapi.json"),
    ("GET", "/login"), ("POST", "/login"), ("GET", "/login/kode"), ("POST", "/login/kode"),
    ("GET", "/login/ny-adgangskode"), ("POST", "/login/ny-adgangskode"),
    ("GET", "/login/tilmeld"), ("POST", "/login/tilmeld"),
    ("POST", "/login/gendannelseskoder"),
})  # fmt: skip

# fmt: off
EXPECTED: dict[Route, Row] = {
    # everyone's own pages
    ("GET", "/"):                                            Row(EVERYONE, 200),
    ("GET", "/api/v1/me"):                                   Row(EVERYONE, 200, "application/json"),
    ("GET", "/konto"):                                       Row(EVERYONE, 200),
    ("POST", "/konto/gendannelseskoder"):                    Row(EVERYONE, 200),
    ("POST", "/konto/adgangskode"):                          Row(EVERYONE, 303),
    ("POST", "/logout"):                                     Row(EVERYONE, 303, location="/login"),
    # administrator: users and API tokens; proposals shared with the data controller
    ("GET", "/admin/brugere"):                               Row(ADMIN, 200),
    ("POST", "/admin/brugere"):                              Row(ADMIN, 200),
    ("POST", "/admin/brugere/{user_id}/aendr"):              Row(ADMIN, 303),
    ("POST", "/admin/brugere/{user_id}/laas-op"):            Row(ADMIN, 303),
    ("POST", "/admin/brugere/{user_id}/nulstil"):            Row(ADMIN, 303),
    ("POST", "/admin/brugere/{user_id}/rolle"):              Row(ADMIN, 303),
    ("GET", "/admin/organisationer"):                        Row(ADMIN, 200),
    ("POST", "/admin/organisationer"):                       Row(ADMIN, 303),
    ("GET", "/admin/organisationer/vis"):                    Row(ADMIN, 200),
    ("POST", "/admin/organisationer/omdoeb"):                Row(ADMIN, 303),
    ("GET", "/admin/api-noegler"):                           Row(ADMIN, 200),
    ("POST", "/admin/api-noegler"):                          Row(ADMIN, 200),
    ("POST", "/admin/api-noegler/{token_id}/tilbagekald"):   Row(ADMIN, 303),
    ("GET", "/godkendelser/adgang"):                         Row(DC | ADMIN, 200),
    ("POST", "/godkendelser/adgang/{proposal_id}/godkend"):  Row(DC, 200),
    ("POST", "/godkendelser/adgang/{proposal_id}/afvis"):    Row(DC, 303),
    # navigator: citizens, consents, wellbeing, worklist
    ("GET", "/borgere"):                                     Row(NAV, 200),
    ("POST", "/borgere/soeg"):                               Row(NAV, 303),
    ("GET", "/borgere/ny"):                                  Row(NAV, 200),
    ("POST", "/borgere/ny"):                                 Row(NAV, 303),
    ("GET", "/borgere/{public_id}"):                         Row(NAV, 200),
    ("GET", "/borgere/{public_id}/ret"):                     Row(NAV, 200),
    ("POST", "/borgere/{public_id}/ret"):                    Row(NAV, 303),
    ("POST", "/borgere/{public_id}/henvisning"):             Row(NAV, 303),
    ("POST", "/borgere/{public_id}/samtykke/{kind}/udskriv"):   Row(NAV, 200, "application/pdf"),
    ("POST", "/borgere/{public_id}/samtykke/{kind}/registrer"): Row(NAV, 303),
    ("GET", "/borgere/{public_id}/blanketter/{form_id}"):    Row(NAV, 200, "application/pdf"),
    ("POST", "/borgere/{public_id}/samtykke/{kind}/afslag"):    Row(NAV, 303),
    ("POST", "/samtykker/{consent_id}/journal"):             Row(NAV, 303),
    ("POST", "/samtykker/{consent_id}/tilbagekald"):         Row(NAV, 303),
    ("POST", "/samtykker/{consent_id}/ugyldiggoer"):         Row(NAV, 303),
    ("GET", "/samtykker/{consent_id}/kvittering.pdf"):       Row(NAV, 200, "application/pdf"),
    ("GET", "/samtykker/{consent_id}/scanning"):             Row(NAV, 200, "image/png"),
    ("GET", "/api/v1/consents/{consent_id}/fhir"):           Row(NAV, 200, "application/fhir+json"),
    ("GET", "/api/v1/consents/{consent_id}/iso27560"):       Row(NAV, 200, "application/json"),
    ("GET", "/borgere/{public_id}/trivsel"):                 Row(NAV, 200),
    ("POST", "/borgere/{public_id}/trivsel"):                Row(NAV, 303),
    ("GET", "/arbejdsliste"):                                Row(NAV, 200),
    ("POST", "/henvisninger/{referral_id}/kontaktet"):       Row(NAV, 303),
    ("POST", "/samtykker/{consent_id}/original"):            Row(NAV, 303),
    ("POST", "/samtykker/{consent_id}/original/makuler"):    Row(NAV, 303),
    # citizens' requests (GDPR art. 12-21): the navigator handles them; the DPO sees the
    # open ones by pseudonymous id
    ("POST", "/borgere/{public_id}/anmodninger"):            Row(NAV, 303),
    ("POST", "/anmodninger/{request_id}/forlaeng"):          Row(NAV, 303),
    ("POST", "/anmodninger/{request_id}/besvar"):            Row(NAV, 303),
    ("GET", "/anmodninger"):                                 Row(NAV | DPO, 200),
    # erasure of one citizen: a navigator or the DPO proposes, a data controller decides
    ("GET", "/borgere/{public_id}/sletning"):                Row(NAV | DPO, 200),
    ("POST", "/borgere/{public_id}/sletning"):               Row(NAV | DPO, 303),
    # referrer: the referral API (a practice system's token, or the referrer's session)
    ("POST", "/api/v1/referrals"):                           Row(REF, 202, "application/json"),
    ("GET", "/henvis"):                                      Row(REF, 200),
    ("POST", "/henvis"):                                     Row(REF, 303),
    ("GET", "/mine-henvisninger"):                           Row(REF, 200),
    # data controller: extracts, counts, the pilot-end deletion
    ("GET", "/arbejdsliste/hold"):                           Row(DC, 200),
    ("GET", "/udtraek"):                                     Row(DC, 200),
    ("POST", "/udtraek"):                                    Row(DC, 303),
    ("GET", "/udtraek/daekning"):                            Row(DC, 200),
    ("GET", "/udtraek/daekning/maaling"):                    Row(DC, 200),
    ("GET", "/udtraek/daekning/graf.svg"):                   Row(DC, 200, "image/svg+xml"),
    ("GET", "/udtraek/daekning/oversigt.csv"):               Row(DC, 200, "text/csv"),
    ("GET", "/udtraek/daekning/nyt-samtykke.csv"):           Row(DC, 200, "text/csv"),
    ("POST", "/udtraek/daekning/dato"):                      Row(DC, 303),
    ("GET", "/api/v1/extracts/coverage"):                    Row(DC, 200, "application/json"),
    ("GET", "/udtraek/{public_id}"):                         Row(DC, 200),
    ("POST", "/udtraek/{public_id}/godkend"):                Row(DC, 303),
    ("POST", "/udtraek/{public_id}/afvis"):                  Row(DC, 303),
    ("POST", "/udtraek/{public_id}/udfoer"):                 Row(DC, 303),
    ("POST", "/udtraek/{public_id}/hent"):                   Row(DC, 200, "application/zip"),
    ("POST", "/udtraek/{public_id}/annuller"):               Row(DC, 303),
    ("GET", "/udtraek/verificer"):                           Row(DC | DPO, 200),
    ("POST", "/udtraek/verificer"):                          Row(DC | DPO, 200),
    ("GET", "/sletning"):                                    Row(DC, 200),
    # the legal adviser's rulebook: read also by the data controller and the DPO
    ("GET", "/regelsamling"):                                Row(DC | DPO | LEGAL, 200),
    ("POST", "/regelsamling/godkend"):                       Row(LEGAL, 303),
    ("POST", "/sletning"):                                   Row(DC, 200),
    ("POST", "/sletning/samtykkeposter"):                    Row(DC, 200),
    ("GET", "/sletning/borgere"):                            Row(DC, 200),
    ("GET", "/sletning/borgere/{public_id}"):                Row(DC, 200),
    ("POST", "/sletning/borgere/{public_id}/godkend"):       Row(DC, 303),
    ("POST", "/sletning/borgere/{public_id}/afvis"):         Row(DC, 303),
    ("GET", "/papir/placeringer"):                           Row(DC, 200),
    ("POST", "/papir/placeringer"):                          Row(DC, 303),
    ("POST", "/papir/placeringer/{location_id}/omdoeb"):     Row(DC, 303),
    ("POST", "/papir/placeringer/{location_id}/udgaa"):      Row(DC, 303),
    # DPO: the audit log, alerts, checkpoints, export, access reports
    ("GET", "/dpo"):                                         Row(DPO, 200),
    ("GET", "/dpo/log"):                                     Row(DPO, 200),
    ("GET", "/dpo/log/csv"):                                 Row(DPO, 200, "text/csv"),
    ("POST", "/dpo/log/borger"):                             Row(DPO, 303),
    ("GET", "/dpo/afvisninger"):                             Row(DPO, 200),
    ("GET", "/dpo/alarmer"):                                 Row(DPO, 200),
    ("POST", "/dpo/alarmer/{alert_id}/kvitter"):             Row(DPO, 303),
    ("POST", "/dpo/checkpoint"):                             Row(DPO, 303),
    ("POST", "/dpo/verificer"):                              Row(DPO, 200),
    ("GET", "/dpo/eksport"):                                 Row(DPO, 200, "application/jsonl"),
    ("GET", "/dpo/vidner/kontrolpunkt"):                     Row(DPO, 200, "text/plain"),
    ("GET", "/dpo/indsigt"):                                 Row(DPO, 200),
    ("POST", "/dpo/indsigt"):                                Row(DPO, 200),
}
# fmt: on

# Succeed last, in this order: they change or end the session, or need the pilot's end.
LAST: tuple[Route, ...] = (
    ("POST", "/konto/gendannelseskoder"),
    ("POST", "/konto/adgangskode"),
    ("POST", "/logout"),
    ("POST", "/sletning"),
    ("POST", "/sletning/samtykkeposter"),
)
PILOT_END_DELETION: Route = ("POST", "/sletning")
EVIDENCE_DELETION: Route = ("POST", "/sletning/samtykkeposter")
# What may change while one organisation's user tries another's ids: the log (denials
# and probes are recorded), sessions (last seen) and the rate limits' counters.
MAY_CHANGE = frozenset({"audit_event", "audit_pending", "user_session", "rate_limit_counter"})


def _app_routes(app: FastAPI) -> dict[Route, str]:
    """(method, path) -> declared permission, for every route of the app."""
    found: dict[Route, str] = {}
    for path, route in iter_routes(app.routes):
        if isinstance(route, Mount):
            assert path == "/static", f"unexpected mount {path}"
            continue
        assert isinstance(route, APIRoute), f"{route} is not a FastAPI route"
        for method in sorted(route.methods - {"HEAD"}):
            found[(method, path)] = declared_permission(route.dependant) or ""
    return found


@pytest.fixture
def routes(ctx: AppContext) -> dict[Route, str]:
    return _app_routes(create_app(ctx))


def test_every_route_declares_a_permission(ctx: AppContext, routes: dict[Route, str]) -> None:
    assert len(routes) > 10
    for (method, path), perm in routes.items():
        assert perm, f"{method} {path} declares no permission"
        if perm == PUBLIC:
            assert PUBLIC_PATHS.match(path), f"{method} {path} is public but not login or health"
        else:
            assert ctx.policy.knows(perm), f"{method} {path}: unknown permission {perm}"


def test_every_route_has_a_row_and_every_row_a_route(routes: dict[Route, str]) -> None:
    assert not PUBLIC_ROUTES & EXPECTED.keys()
    written = PUBLIC_ROUTES | EXPECTED.keys()
    assert sorted(routes.keys() - written) == [], "routes without a row in EXPECTED"
    assert sorted(written - routes.keys()) == [], "rows of EXPECTED without a route"
    assert {r for r, perm in routes.items() if perm == PUBLIC} == PUBLIC_ROUTES
    assert set(PATH_RESOURCES) == {r for r in EXPECTED if "{" in r[1]}
    assert BODIES.keys() <= EXPECTED.keys(), "a body for a route that is gone"
    assert CONSENT_KIND.keys() <= PATH_RESOURCES.keys()


def _granted_roles(policy: dict[str, Any], permission: str) -> frozenset[str]:
    return frozenset(
        role
        for role, grants in policy["grants"].items()
        if any(grant["permission"] == permission for grant in grants)
    )


def test_the_table_agrees_with_the_policy_file(routes: dict[Route, str]) -> None:
    policy = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    assert set(policy["roles"]) == set(ROLES)
    for route, row in EXPECTED.items():
        permission = routes[route]
        assert permission in policy["permissions"], f"{route}: {permission} not in the file"
        assert row.allowed == _granted_roles(policy, permission), (
            f"{route} declares {permission}; the table and access.yaml disagree on who has it"
        )


# --- the matrix -------------------------------------------------------------------------------


class World(NamedTuple):
    own: Organisation
    other: Organisation


@pytest.fixture
def world(
    wctx: AppContext,
    clock: FixedClock,
    pair: list[test_witnessing.Running],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    """Two organisations with every resource; in the first a logged-in user per role,
    and a checkpoint the witnesses cosigned."""
    # argon2 is slow on purpose: every person here shares one passphrase, so one hash.
    monkeypatch.setattr(conftest, "hash_password", functools.cache(conftest.hash_password))
    test_witnessing._pass(wctx, clock)
    app = create_app(wctx)
    own = build_organisation(app, wctx, clock, "Region Midtjylland", ROLES)
    other = build_organisation(app, wctx, clock, "Norddjurs Kommune", BUILDERS)
    for org in (own, other):
        org.ids["witness"] = pair[0].name
    yield World(own, other)
    for org in (own, other):
        for login in org.logins.values():
            login.client.close()


def _audited(ctx: AppContext, request_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Each request's refusals: (action, permission)."""
    found: dict[str, list[tuple[str, str]]] = {rid: [] for rid in request_ids}
    with ctx.sessions() as session:
        rows = session.scalars(
            select(AuditEvent).where(
                AuditEvent.request_id.in_(request_ids), AuditEvent.outcome == "deny"
            )
        ).all()
        for event in rows:
            permission = json.loads(event.details).get("permission", "")
            found[event.request_id].append((event.action, permission))
    return found


def _jump_to_pilot_end(clock: FixedClock, login: Login) -> None:
    """The pilot-end deletion is possible from the day after the pilot's end; the
    session has expired by then, so the data controller logs in again."""
    pilot_end = yaml.safe_load(RETENTION_FILE.read_text(encoding="utf-8"))["pilot_end"]
    day = pilot_end + timedelta(days=1)
    clock.set(datetime.combine(day, time(10), tzinfo=LEGAL_TZ))
    login.refresh(clock)


def _jump_to_evidence_end(ctx: AppContext, clock: FixedClock, login: Login) -> None:
    """The consent evidence may go from the day after its five years from the pilot's end
    (after the pilot-end deletion, which ran just before); on PostgreSQL the database
    decides by its own date, so the owner moves the retention table's day to it."""
    clock.set(datetime.combine(EVIDENCE_ALLOWED, time(10), tzinfo=LEGAL_TZ))
    let_the_database_reach_the_day(ctx)
    login.refresh(clock)


def _snapshot(ctx: AppContext) -> dict[str, set[tuple[str, ...]]]:
    """Every row of every table but those ``MAY_CHANGE``, as text."""
    with ctx.sessions() as session:
        return {
            table.name: {tuple(str(v) for v in row) for row in session.execute(select(table)).all()}
            for table in Base.metadata.sorted_tables
            if table.name not in MAY_CHANGE
        }


def _another_organisations_ids_answer_as_unknown_ones(
    ctx: AppContext, clock: FixedClock, world: World
) -> None:
    """The allowed role of each route with an id, given the other organisation's
    resource (and a body made for it), gets what an unknown id gets; nothing changes."""
    own, other = world
    before = _snapshot(ctx)
    for route in PATH_RESOURCES:
        role = sorted(EXPECTED[route].allowed)[0]
        me = own.logins[role]
        what = f"{role} {route[0]} {route[1]}"
        theirs = call_for(route, me, clock, other, path_ids(route, other)).send(me)
        unknown = call_for(route, me, clock, other, path_ids(route, None)).send(me)
        assert unknown.status_code in (403, 404), f"{what}: unknown id {unknown.status_code}"
        assert theirs.status_code == unknown.status_code, (
            f"{what}: another organisation's id {theirs.status_code}, "
            f"an unknown id {unknown.status_code}"
        )
    after = _snapshot(ctx)
    assert sorted(t for t in before if before[t] != after[t]) == []


def _refused(ctx: AppContext, clock: FixedClock, org: Organisation) -> dict[str, Route]:
    """Every route as every role of ``org`` that lacks it: 403, the Danish refusal page
    (problem JSON on the API). Refusals change nothing, so they all go first; a login
    that may have idled out meanwhile is renewed first. Returns the request ids."""
    denied: dict[str, Route] = {}
    for route, row in EXPECTED.items():
        ids = path_ids(route, org)
        for role in sorted(set(ROLES) - row.allowed):
            me = org.logins[role]
            me.keep_alive(clock)
            r = call_for(route, me, clock, org, ids).send(me)
            what = f"{role} {route[0]} {route[1]}: {r.status_code} {r.text[:300]}"
            assert r.status_code == 403, what
            if route[1].startswith("/api/"):
                assert r.headers["content-type"] == "application/problem+json", what
            else:
                assert "Du har ikke adgang" in r.text, what
            denied[r.headers["x-request-id"]] = route
    return denied


def _succeeded(ctx: AppContext, clock: FixedClock, org: Organisation) -> list[str]:
    """Every route as every role of ``org`` that has it: the route's real success.
    Returns the request ids."""
    done: list[str] = []
    for route in [r for r in EXPECTED if r not in LAST] + list(LAST):
        row = EXPECTED[route]
        if route == PILOT_END_DELETION:
            _jump_to_pilot_end(clock, org.logins["data_controller"])
        if route == EVIDENCE_DELETION:
            _jump_to_evidence_end(ctx, clock, org.logins["data_controller"])
        ids = path_ids(route, org)
        for role in sorted(row.allowed):
            me = org.logins[role]
            r = call_for(route, me, clock, org, ids).send(me)
            what = f"{role} {route[0]} {route[1]}: {r.status_code} {r.text[:300]}"
            assert r.status_code == row.status, what
            if r.status_code == 303:
                location = r.headers["location"]
                assert location == row.location or not location.startswith("/login"), what
            else:
                assert r.headers["content-type"].startswith(row.content_type), what
            if route == ("POST", "/konto/adgangskode"):
                me.person.password = NEW_PASSWORD
            done.append(r.headers["x-request-id"])
    return done


def test_route_matrix(wctx: AppContext, clock: FixedClock, world: World) -> None:
    """One world per engine (building it is most of the time): first the other
    organisation's ids (nothing may change), then every role on every route: refused
    with one audited access.denied naming the route's permission, or allowed and
    succeeding with no refusal recorded."""
    _another_organisations_ids_answer_as_unknown_ones(wctx, clock, world)
    denied = _refused(wctx, clock, world.own)
    allowed = _succeeded(wctx, clock, world.own)
    permissions = _app_routes(create_app(wctx))
    audited = _audited(wctx, [*denied, *allowed])
    for request_id, route in denied.items():
        assert audited[request_id] == [("access.denied", permissions[route])], route
    assert all(audited[request_id] == [] for request_id in allowed)


def test_conditions_hold_across_organisations(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator")
    stranger = enrolled_person(ctx, "navigator", org_name="Norddjurs Kommune")
    token = log_in(client, admin, clock)
    r = client.post(
        f"/admin/brugere/{stranger.user_id}/laas-op",
        data={"reason": "not mine to unlock", "csrf_token": token},
    )
    assert r.status_code == 403
    listing = client.get("/admin/brugere")
    assert stranger.username not in listing.text
    own = client.post(
        f"/admin/brugere/{admin.user_id}/laas-op",
        data={"reason": "unlocking myself", "csrf_token": token},
    )
    assert own.status_code == 403

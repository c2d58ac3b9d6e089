"""The JSON API does what its OpenAPI description says, and the description is the API's.

schemathesis (all checks, all phases, bounded and derandomised examples) runs over every
documented operation for each kind of caller, on SQLite and PostgreSQL: a practice system
with its bearer token, the people whose roles use the API with their session cookie, and
nobody. Zero failures. Next to it: the description lists only /api/ paths, is public at
its documented address, documents problem+json for every error it names, and carries the
CPR rule; a careless client's and an attacker's requests get the documented answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.engine import events, from_schema
from sqlalchemy import select

from consent_service.app import create_app
from consent_service.citizens import schemas as referral_schemas
from consent_service.citizens import service as citizens
from consent_service.citizens.cpr import InvalidCpr, parse_cpr
from consent_service.clock import FixedClock
from consent_service.consents.models import Consent
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.identity import tokens as identity
from consent_service.identity.models import User
from consent_service.web.cookies import CSRF_HEADER, SESSION_COOKIE
from consent_service.web.openapi import DESCRIPTION_PATH, PROBLEM_MEDIA_TYPE, api_routes
from tests.conftest import enrolled_person, log_in
from tests.factories import synthetic_cpr

MAX_EXAMPLES = 8  # per operation and phase: the whole test stays well under two minutes
SEED = 13
REFERRALS = "POST /api/v1/referrals"
# Fields the service checks against a calendar, today or another field (documented in the
# request schema's descriptions): the only 422 a schema-valid referral may get.
REFERRAL_RULE_FIELDS = {"cpr", "referred_on", "course_start_on"}


# --- callers ---------------------------------------------------------------------------------


def _token(ctx: AppContext) -> str:
    referrer = enrolled_person(ctx, "referrer")
    admin = enrolled_person(ctx, "administrator")
    with session_scope(ctx.sessions) as session:
        user = session.get(User, referrer.user_id)
        assert user is not None
        from consent_service.audit.recorder import Actor

        token = identity.create_api_token(
            session,
            ctx.identity,
            Actor(request_id="test", source_ip=None).as_user(
                admin.user_id, admin.username, admin.organisation_id
            ),
            user=user,
            label="Lægehuset Grenaa",
            scopes=["referral:submit"],
            valid_days=30,
        )
    return token


def _bearer(ctx: AppContext) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(ctx)}"}


def _login(ctx: AppContext, clock: FixedClock, role: str) -> tuple[str, str]:
    """(session cookie, CSRF token) of a fresh, complete login."""
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        csrf = log_in(client, enrolled_person(ctx, role), clock)
        return client.cookies[SESSION_COOKIE], csrf


def _session(ctx: AppContext, clock: FixedClock, role: str) -> dict[str, str]:
    cookie, csrf = _login(ctx, clock, role)
    return {"Cookie": f"{SESSION_COOKIE}={cookie}", CSRF_HEADER: csrf}


def _recorded_consent(ctx: AppContext, clock: FixedClock) -> str:
    """A citizen, referred, with a signed consent recorded: an existing export to read."""
    from tests.api.test_citizens_consents import print_form, record, refer, register

    today = clock.now().date()
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        csrf = log_in(client, enrolled_person(ctx, "navigator"), clock)
        pid = register(client, csrf, synthetic_cpr(date(1961, 4, 17)))
        refer(client, csrf, pid, today)
        form_id = print_form(client, csrf, pid, "journal")
        assert record(client, csrf, pid, "journal", form_id, today).status_code == 303
    with ctx.sessions() as session:
        found = session.scalars(select(Consent.public_id)).one()
    return found


CALLERS = ["anonymous", "referrer-token", "navigator", "data_controller"]


def _auth(ctx: AppContext, clock: FixedClock, caller: str) -> dict[str, Any]:
    """The caller's credentials, by the security schemes of the description."""
    if caller == "anonymous":
        return {}
    if caller == "referrer-token":
        return {"apiToken": {"bearer": _token(ctx)}}
    cookie, csrf = _login(ctx, clock, caller)
    return {"session": {"api_key": cookie}, "csrf": {"api_key": csrf}}


def _parameters(ctx: AppContext, clock: FixedClock, caller: str) -> dict[str, str]:
    """The navigator reads a consent that exists (the others' ids are drawn, so 404)."""
    return {"consent_id": _recorded_consent(ctx, clock)} if caller == "navigator" else {}


# --- the run ---------------------------------------------------------------------------------


@schemathesis.check
def referral_refusals_are_documented(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """A schema-valid referral refused with 422 names one of the documented rules."""
    meta = case.meta
    if (
        case.operation.label != REFERRALS
        or response.status_code != 422
        or meta is None
        or not meta.generation.mode.is_positive
    ):
        return None
    field = response.json().get("field")
    assert field in REFERRAL_RULE_FIELDS, (
        f"schema-valid referral refused on {field!r}: {response.text} for {case.body!r}"
    )
    return True


def _config(auth: dict[str, Any], parameters: dict[str, str]) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "parameters": parameters,
            **({"auth": {"openapi": auth}} if auth else {}),
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
            "checks": {"enabled": True},
            "operations": [
                {
                    # Rules that need a calendar, today or another field are the service's
                    # (422, documented); everything else a schema-valid referral must pass.
                    "include-name": REFERRALS,
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "401", "403", "422", "429"]
                        }
                    },
                }
            ],
        }
    )


@dataclass
class Run:
    failures: set[str] = field(default_factory=set)
    accepted: set[str] = field(default_factory=set)  # operations that answered 2xx


def _run(app: Any, auth: dict[str, Any], parameters: dict[str, str]) -> Run:
    config = _config(auth, parameters)
    schema = schemathesis.openapi.from_asgi(DESCRIPTION_PATH, app, config=config)
    run = Run()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            for checks in recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        run.failures.add(
                            f"{recorder.label}: {check.name}: {failure.title}: "
                            + failure.message[:300]
                        )
            for interaction in recorder.interactions.values():
                if interaction.response and 200 <= interaction.response.status_code < 300:
                    run.accepted.add(recorder.label)
        elif isinstance(event, events.NonFatalError):
            run.failures.add(f"error: {event.info.title}: {event.info.message[:300]}")
        elif isinstance(event, events.FatalError):
            run.failures.add(f"fatal: {event.exception!r}")
    return run


# What each caller must get through: zero failures is no proof if everything is refused.
MUST_SUCCEED = {
    "anonymous": set(),
    "referrer-token": {REFERRALS},
    "navigator": {
        "GET /api/v1/me",
        "GET /api/v1/consents/{consent_id}/fhir",
        "GET /api/v1/consents/{consent_id}/iso27560",
    },
    "data_controller": {"GET /api/v1/me", "GET /api/v1/extracts/coverage"},
}


@pytest.mark.parametrize("caller", CALLERS)
def test_schemathesis_finds_nothing(ctx: AppContext, clock: FixedClock, caller: str) -> None:
    auth = _auth(ctx, clock, caller)
    parameters = _parameters(ctx, clock, caller)
    run = _run(create_app(ctx), auth, parameters)
    assert sorted(run.failures) == [], "\n".join(sorted(run.failures))
    assert MUST_SUCCEED[caller] <= run.accepted, MUST_SUCCEED[caller] - run.accepted
    if caller == "anonymous":
        assert run.accepted == set(), "an operation answered 2xx without credentials"


# --- the description itself ------------------------------------------------------------------


def _spec(client: TestClient) -> dict[str, Any]:
    r = client.get(DESCRIPTION_PATH)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    spec: dict[str, Any] = r.json()
    return spec


def test_description_is_public_and_lists_only_the_api(ctx: AppContext, client: TestClient) -> None:
    spec = _spec(client)  # no login: it holds no data
    documented = set(spec["paths"])
    assert documented, "no operation documented"
    assert all(path.startswith("/api/") for path in documented), documented
    served = {path for path, _ in api_routes(create_app(ctx))} - {DESCRIPTION_PATH}
    assert documented == served
    assert not {"/healthz", "/dpo/checkpoint", "/dpo/verificer", "/"} & documented
    assert client.get("/openapi.json").status_code == 404
    assert client.get("/docs").status_code in (303, 404)


def test_every_error_is_problem_json(client: TestClient) -> None:
    spec = _spec(client)
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "request_id"} <= set(problem["required"])
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            statuses = {int(s) for s in operation["responses"]}
            assert {500, 503} <= statuses, (method, path)
            if "security" in operation:
                assert {401, 403} <= statuses, (method, path)
            if "{" in path:
                assert 404 in statuses, (method, path)
            if "requestBody" in operation or operation.get("parameters"):
                assert 422 in statuses, (method, path)
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == [PROBLEM_MEDIA_TYPE], (method, path)
    assert "429" in spec["paths"]["/api/v1/referrals"]["post"]["responses"]


def test_cpr_pattern_admits_what_the_service_accepts() -> None:
    pattern = re.compile(referral_schemas.CPR)
    today = date(2026, 11, 23)
    accepted = [
        synthetic_cpr(date(1958, 3, 9)),
        synthetic_cpr(date(1958, 3, 9), dash=False),
        "6103581234",  # substitute number: day 1 + 60
        "010101-4000",  # born 2001; no modulus-11 check
    ]
    for cpr in accepted:
        parse_cpr(cpr, today=today)
        assert pattern.fullmatch(cpr), "a CPR the service accepts is outside the pattern"
    refused_by_shape = ["0101011234x", "32010112345", "011301-1234", "0001011234", "٠١٠١٠١١٢٣٤"]
    for cpr in refused_by_shape:
        assert not pattern.search(cpr)
        with pytest.raises(InvalidCpr):
            parse_cpr(cpr, today=today)
    # What a pattern cannot know: the calendar and today. Documented, refused with 422.
    for cpr in ["300201-1234", "010150-5000"]:
        assert pattern.fullmatch(cpr)
        with pytest.raises(InvalidCpr):
            parse_cpr(cpr, today=today)


def test_referrer_kinds_in_schema_are_the_service_s() -> None:
    kinds = referral_schemas.ReferralSubmission.model_json_schema()["properties"]["referrer_kind"]
    assert set(kinds["enum"]) == set(citizens.REFERRER_KINDS)


def test_referral_description_carries_the_cpr_pattern(client: TestClient) -> None:
    spec = _spec(client)
    body = spec["components"]["schemas"]["ReferralSubmission"]
    assert body["properties"]["cpr"]["pattern"] == referral_schemas.CPR
    assert body["properties"]["referrer_kind"]["enum"]


# --- callers, careless and hostile -------------------------------------------------------------


def _referral(cpr: str) -> dict[str, object]:
    return {
        "cpr": cpr,
        "name": "Ayşe Yılmaz",
        "municipality": "Norddjurs",
        "gp_clinic": "Lægehuset Grenaa",
        "referrer_kind": "gp",
        "clinic": "Lægehuset Grenaa",
        "referred_on": "2026-11-20",
        "norddjurs_link": True,
        "reachable": True,
    }


def test_careless_client_gets_problem_json_naming_the_field(ctx: AppContext) -> None:
    api = TestClient(create_app(ctx), headers=_bearer(ctx))
    cpr = "0101581234"
    for body in (
        {**_referral(cpr), "cpr": "01-01-58-1234"},  # a shape the schema refuses
        {**_referral(cpr), "cpr": "300258-1234"},  # 30 February: the service refuses
        {**_referral(cpr), "referrer_kind": "doctor"},
    ):
        r = api.post("/api/v1/referrals", json=body)
        assert r.status_code == 422
        assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
        problem = r.json()
        assert problem["status"] == 422
        assert problem["request_id"]
        # the random request id may hold the digits by chance: look at the rest
        echoed = r.text.replace(problem["request_id"], "")
        assert "1234" not in echoed, "the refused CPR is echoed"
    good = api.post("/api/v1/referrals", json=_referral(synthetic_cpr(date(1958, 1, 1))))
    assert good.status_code == 202, good.text


def test_attacker_gets_documented_refusals(ctx: AppContext, clock: FixedClock) -> None:
    app = create_app(ctx)
    anonymous = TestClient(app)
    r = anonymous.post("/api/v1/referrals", json=_referral("0101581234"))
    assert r.status_code == 401
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    forged = TestClient(app, headers={"Authorization": "Bearer cst_forged"})
    assert forged.get("/api/v1/me").status_code == 401
    # A session without its CSRF header cannot write through the API.
    session = _session(ctx, clock, "navigator")
    no_csrf = TestClient(app, headers={"Cookie": session["Cookie"]})
    r = no_csrf.post("/api/v1/referrals", json=_referral("0101581234"))
    assert r.status_code == 403
    # An undocumented method: 405 with Allow, as problem+json.
    r = anonymous.delete("/api/v1/referrals")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE


def test_token_reads_nothing_but_its_scope(ctx: AppContext, clock: FixedClock) -> None:
    api = TestClient(create_app(ctx), headers=_bearer(ctx))
    clock.advance(timedelta(seconds=1))
    assert api.get("/api/v1/me").status_code == 403
    r = api.get("/api/v1/extracts/coverage", params={"cohort": "hold-1", "measurement": 1})
    assert r.status_code in (403, 422)

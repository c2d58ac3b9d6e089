"""Every route declares its permission, and each role gets exactly what the policy says.

The role x route matrix is generated from the app's routes and the policy file, so a new
route or a policy change is covered without editing this test.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import Mount

from consent_service.access.policy import AccessRequest
from consent_service.app import create_app
from consent_service.audit.models import AuditEvent
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.identity.models import Role
from consent_service.web.deps import PUBLIC, declared_permission, iter_routes
from tests.conftest import enrolled_person, log_in

PUBLIC_PATHS = re.compile(r"^/(login(/.*)?|healthz|readyz|api/v1/openapi\.json)$")


def _routes(ctx: AppContext) -> list[tuple[str, str, str]]:
    """(method, path, permission) of every API route."""
    app = create_app(ctx)
    found = []
    for path, route in iter_routes(app.routes):
        if isinstance(route, Mount):
            assert path == "/static", f"unexpected mount {path}"
            continue
        assert isinstance(route, APIRoute), f"{route} is not a FastAPI route"
        perm = declared_permission(route.dependant)
        for method in sorted(route.methods - {"HEAD"}):
            found.append((method, path, perm or ""))
    return found


def test_every_route_declares_a_permission(ctx: AppContext) -> None:
    routes = _routes(ctx)
    assert len(routes) > 10
    for method, path, perm in routes:
        assert perm, f"{method} {path} declares no permission"
        if perm == PUBLIC:
            assert PUBLIC_PATHS.match(path), f"{method} {path} is public but not login or health"
        else:
            assert ctx.policy.knows(perm), f"{method} {path}: unknown permission {perm}"


def _form_for(path: str) -> dict[str, str]:
    if path.endswith("/laas-op"):
        return {"reason": "matrix test"}
    if path == "/admin/brugere":
        return {"username": "matrixuser", "display_name": "Matrix", "role": "navigator"}
    return {}


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_role_route_matrix(ctx: AppContext, clock: FixedClock, role: str) -> None:
    other = enrolled_person(ctx, "navigator")  # a resource in the same organisation
    routes = [r for r in _routes(ctx) if r[2] != PUBLIC]
    person = enrolled_person(ctx, role)  # one person, a fresh login for every route
    for method, path, perm in routes:
        with TestClient(create_app(ctx), follow_redirects=False) as client:
            token = log_in(client, person, clock)
            clock.advance(timedelta(seconds=1))
            url = path.replace("{user_id}", str(other.user_id))
            if method == "GET":
                r = client.get(url)
            else:
                r = client.request(method, url, data={**_form_for(path), "csrf_token": token})
            expected = ctx.policy.decide(
                AccessRequest(
                    user_id=person.user_id,
                    role=role,
                    organisation_id=person.organisation_id,
                    permission=perm,
                    resource_organisation_id=person.organisation_id,
                    resource_user_id=other.user_id,
                )
            ).allowed
            denials = _denials(ctx, r.headers["x-request-id"])
            if expected:
                assert r.status_code not in (401, 403), f"{role} {method} {path}: {r.status_code}"
                assert denials == [], f"{role} {method} {path}"
            else:
                assert r.status_code == 403, f"{role} {method} {path}: {r.status_code}"
                assert denials == [("access.denied", perm)], f"{role} {method} {path}"


def _denials(ctx: AppContext, request_id: str) -> list[tuple[str, str]]:
    with ctx.sessions() as s:
        events = s.scalars(
            select(AuditEvent).where(
                AuditEvent.request_id == request_id, AuditEvent.outcome == "deny"
            )
        ).all()
        return [(e.action, json.loads(e.details)["permission"]) for e in events]


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

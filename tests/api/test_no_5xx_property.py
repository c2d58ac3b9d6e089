"""Property: arbitrary Unicode in any form field or JSON API body never gives a 5xx.

Every route that takes a body is found from the app itself (so a new form is covered
without touching this file) and is posted to by a user of a role allowed there, with its
real path ids where the test world has them, so the text reaches the service and the
database rather than stopping at a 404. Each field gets arbitrary text (NUL, controls,
bidirectional overrides, combining marks, very long), or for a typed field sometimes a
valid value, so the other fields are reached too.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.web.deps import PUBLIC, declared_permission, iter_routes
from tests.api.test_citizens_consents import print_form, record, refer, register
from tests.api.test_referral_api import _issue_token
from tests.conftest import csrf_from, enrolled_person, log_in
from tests.factories import synthetic_cpr, tiny_png

EXAMPLES = int(os.environ.get("CONSENT_PROPERTY_EXAMPLES", "12"))
ROLES = ("navigator", "data_controller", "dpo", "administrator", "referrer", "legal_adviser")
SKIPPED = {"/logout"}  # would end the session the other examples need

NASTY = st.sampled_from(
    [
        "\x00",
        "Jens\x00Hansen",
        "Jens\u202eHansen",
        "\u2066x\u2069",
        "\x1b[31m",
        "\x85",
        "e\u0301",
        "\ufeff",
        "\U0001f600",
        "",
        " ",
        "a\nb",
        "x" * 5000,
    ]
)
SPIKED = st.builds(
    lambda a, bad, b: a + bad + b,
    st.text(max_size=20),
    st.sampled_from(["\x00", "\u202e", "\u2067", "\x1b", "\x85", "\x7f", "\r\n"]),
    st.text(max_size=20),
)
TEXT = st.one_of(NASTY, SPIKED, st.text(max_size=60), st.text(min_size=200, max_size=2000))


def _valid(annotation: Any) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _valid(options[0])
    if annotation is date:
        return st.sampled_from(["2026-11-20", "2026-11-23", "1999-01-01"])
    if annotation is int:
        return st.sampled_from(["1", "3", "0", "-1"])
    if annotation is bool:
        return st.sampled_from(["true", "false"])
    return TEXT


def _field(annotation: Any) -> st.SearchStrategy[Any]:
    if annotation is str or typing.get_origin(annotation) is list:
        return TEXT
    return st.one_of(_valid(annotation), TEXT)


class World:
    """Logged-in clients per role and real ids for path parameters."""

    def __init__(self, ctx: AppContext, client: TestClient, clock: FixedClock) -> None:
        self.anonymous = TestClient(client.app, follow_redirects=False)
        self.anonymous_csrf = csrf_from(self.anonymous.get("/login").text)
        self.clients: dict[str, tuple[TestClient, str]] = {}
        for role in ROLES:
            c = TestClient(client.app, follow_redirects=False)
            self.clients[role] = (c, log_in(c, enrolled_person(ctx, role), clock))
        nav, token = self.clients["navigator"]
        self.citizen = register(nav, token, synthetic_cpr(date(1961, 4, 17)))
        refer(nav, token, self.citizen, clock.now().date() - timedelta(days=3))
        form_id = print_form(nav, token, self.citizen, "journal")
        assert record(nav, token, self.citizen, "journal", form_id, clock.now().date()).is_redirect
        self.consent = _latest_consent(ctx)
        self.victim = enrolled_person(ctx, "navigator").user_id
        self.api_token = _issue_token(ctx, client, clock)
        self.ids = {
            "public_id": self.citizen,
            "kind": "journal",
            "consent_id": self.consent,
            "user_id": str(self.victim),
            "token_id": "1",
            "alert_id": "1",
        }

    def client_for(self, ctx: AppContext, permission: str) -> tuple[TestClient, str]:
        if permission == PUBLIC:
            return self.anonymous, self.anonymous_csrf
        for role in ROLES:
            if ctx.policy.role_may(role, permission):
                return self.clients[role]
        raise AssertionError(f"no role holds {permission}")


def _latest_consent(ctx: AppContext) -> str:
    from sqlalchemy import select

    from consent_service.consents.models import Consent

    with ctx.sessions() as s:
        return s.scalars(select(Consent.public_id).order_by(Consent.id.desc())).first() or ""


def _body_routes(app: Any) -> list[tuple[str, APIRoute]]:
    found = []
    for path, route in iter_routes(app.routes):
        if (
            isinstance(route, APIRoute)
            and "POST" in route.methods
            and route.dependant.body_params
            and path not in SKIPPED
        ):
            found.append((path, route))
    return found


def _explore(
    strategy: st.SearchStrategy[Any],
    send: Callable[[Any], int],
    what: str,
    failures: list[str],
    seen: dict[int, int],
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def one(value: Any) -> None:
        status = send(value)
        seen[status // 100] = seen.get(status // 100, 0) + 1
        if status >= 500:
            failures.append(f"{what}: {status}")

    one()


def test_no_body_of_arbitrary_text_gives_a_5xx(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    world = World(ctx, client, clock)
    routes = _body_routes(client.app)
    assert len(routes) > 20, "the route discovery broke"
    failures: list[str] = []
    seen: dict[int, int] = {}  # status class -> count
    for path, route in routes:
        permission = declared_permission(route.dependant) or PUBLIC
        url = path.format(**{p: world.ids.get(p, "x") for p in route.param_convertors})
        body = route.dependant.body_params
        if (
            len(body) == 1
            and isinstance(body[0].field_info.annotation, type)
            and issubclass(body[0].field_info.annotation, BaseModel)
        ):
            model = body[0].field_info.annotation
            strategy = st.fixed_dictionaries(
                {name: _field(f.annotation) for name, f in model.model_fields.items()}
            )
            api = TestClient(client.app, headers={"Authorization": f"Bearer {world.api_token}"})

            def post_json(payload: Any, api: TestClient = api, url: str = url) -> int:
                return api.post(url, json=payload).status_code

            _explore(strategy, post_json, url, failures, seen)
            continue
        c, token = world.client_for(ctx, permission)
        files = {
            f.name: ("scan.png", tiny_png(), "image/png")
            for f in body
            if "UploadFile" in str(f.field_info.annotation)
        }
        fields = {
            f.name: _field(f.field_info.annotation)
            for f in body
            if f.name not in files and f.name != "csrf_token"
        }

        def post_form(
            data: Any,
            c: TestClient = c,
            token: str = token,
            url: str = url,
            files: dict[str, Any] = files,
        ) -> int:
            sent = {**data, "csrf_token": token}
            return c.post(url, data=sent, files=files or None).status_code

        _explore(st.fixed_dictionaries(fields), post_form, url, failures, seen)
    assert not failures, failures
    # The examples reached the services, not only the edge's refusal.
    assert seen.get(2, 0) + seen.get(3, 0) >= 5, seen

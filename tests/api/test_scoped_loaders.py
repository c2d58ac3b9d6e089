"""Isolation rests on one scoped loader per kind: a user, access proposal, API token or
alert id of another organisation gets exactly the answer an unknown id gets, on every
route that takes one: the same status, the same page, the same audited refusal, and
nothing changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from consent_service.app import create_app
from consent_service.audit.models import AuditAlert, AuditEvent
from consent_service.audit.recorder import Actor
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.identity import proposals, tokens
from consent_service.identity.models import (
    AccessProposal,
    ApiToken,
    ProposalKind,
    ProposalStatus,
    User,
)
from tests.conftest import enrolled_person, log_in

OTHER = "Norddjurs Kommune"
UNKNOWN_OFFSET = 100_000


@dataclass(frozen=True)
class Foreign:
    """Another organisation's resources, one of each kind."""

    user_id: int
    referrer_id: int
    token_id: int
    proposal_id: int
    alert_id: int


def _actor() -> Actor:
    return Actor(username="test", request_id="t", source_ip="local")


@pytest.fixture
def foreign(ctx: AppContext) -> Foreign:
    admin = enrolled_person(ctx, "administrator", org_name=OTHER)
    navigator = enrolled_person(ctx, "navigator", org_name=OTHER)
    referrer = enrolled_person(ctx, "referrer", org_name=OTHER)
    with session_scope(ctx.sessions) as s:
        tokens.create_api_token(
            s, ctx.identity, _actor(), user=s.get_one(User, referrer.user_id),
            label="Lægehuset", scopes=["referral:submit"], valid_days=30,
        )  # fmt: skip
        proposal = proposals.propose_reset(
            s, ctx.identity, _actor(), s.get_one(User, admin.user_id),
            s.get_one(User, navigator.user_id), kind=ProposalKind.RESET_PASSWORD,
            reason="Har glemt adgangskoden",
        )  # fmt: skip
        now = ctx.clock.now()
        alert = AuditAlert(
            rule="failed_logins_account", subject_kind="account", subject=navigator.username,
            organisation_id=navigator.organisation_id, window_start=now, window_end=now,
            event_count=5, first_seq=1, last_seq=2, raised_at=now,
        )  # fmt: skip
        s.add(alert)
        s.flush()
        token_id = s.scalars(select(ApiToken.id)).one()
        return Foreign(navigator.user_id, referrer.user_id, token_id, proposal.id, alert.id)


@pytest.fixture
def web(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx), follow_redirects=False) as c:
        yield c


def _unknown(ctx: AppContext, model: type[User | ApiToken | AccessProposal | AuditAlert]) -> int:
    with ctx.sessions() as s:
        return int(s.scalar(select(func.max(model.id))) or 0) + UNKNOWN_OFFSET


def _answer(
    ctx: AppContext, client: TestClient, path: str, data: dict[str, str]
) -> tuple[int, str, list[tuple[str, str, str | None]]]:
    """Status, page (request id blanked) and the refusals audited for the request."""
    r = client.post(path, data=data)
    request_id = r.headers["x-request-id"]
    with ctx.sessions() as s:
        denials = [
            (e.action, json.loads(e.details)["permission"], e.reason)
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.request_id == request_id, AuditEvent.outcome == "deny")
                .order_by(AuditEvent.seq)
            )
        ]
    return r.status_code, r.text.replace(request_id, "<id>"), denials


def _same_answer(
    ctx: AppContext,
    client: TestClient,
    route: str,
    foreign_id: int,
    unknown_id: int,
    data: dict[str, str],
    permission: str,
) -> None:
    theirs = _answer(ctx, client, route.format(foreign_id), data)
    unknown = _answer(ctx, client, route.format(unknown_id), data)
    assert theirs == unknown, route
    status, _, denials = theirs
    assert status == 403, route
    assert [(action, perm) for action, perm, _ in denials] == [("access.denied", permission)]


def test_an_administrator_gets_the_unknown_ids_answer_for_another_organisations(
    ctx: AppContext, web: TestClient, clock: FixedClock, foreign: Foreign
) -> None:
    admin = enrolled_person(ctx, "administrator")
    token = log_in(web, admin, clock)
    unknown_user = _unknown(ctx, User)
    for route, data, permission in (
        ("/admin/brugere/{}/aendr", {"reason": "Skifter job", "active": "false"}, "users:change"),
        ("/admin/brugere/{}/laas-op", {"reason": "Ringede til mig"}, "users:unlock"),
        (
            "/admin/brugere/{}/nulstil",
            {"kind": "adgangskode", "reason": "Har glemt den"},
            "users:reset",
        ),
    ):
        _same_answer(
            ctx, web, route, foreign.user_id, unknown_user, {**data, "csrf_token": token},
            permission,
        )  # fmt: skip

    issue = {"label": "Praksis", "valid_days": "30", "csrf_token": token}
    theirs = _answer(ctx, web, "/admin/api-noegler", {**issue, "user_id": str(foreign.referrer_id)})
    unknown = _answer(ctx, web, "/admin/api-noegler", {**issue, "user_id": str(unknown_user)})
    assert theirs == unknown
    assert theirs[0] == 403
    assert [(a, p) for a, p, _ in theirs[2]] == [("access.denied", "api_tokens:manage")]

    _same_answer(
        ctx, web, "/admin/api-noegler/{}/tilbagekald", foreign.token_id,
        _unknown(ctx, ApiToken), {"csrf_token": token}, "api_tokens:manage",
    )  # fmt: skip

    with ctx.sessions() as s:
        user = s.get_one(User, foreign.user_id)
        assert user.is_active
        assert s.get_one(ApiToken, foreign.token_id).revoked_at is None
        assert s.scalar(select(func.count()).select_from(ApiToken)) == 1
        assert s.scalar(select(func.count()).select_from(AccessProposal)) == 1


def test_a_data_controller_gets_the_unknown_ids_answer_for_another_organisations_proposal(
    ctx: AppContext, web: TestClient, clock: FixedClock, foreign: Foreign
) -> None:
    dc = enrolled_person(ctx, "data_controller")
    token = log_in(web, dc, clock)
    unknown = _unknown(ctx, AccessProposal)
    for route, data in (
        ("/godkendelser/adgang/{}/godkend", {"code": "123456"}),
        ("/godkendelser/adgang/{}/afvis", {"reason": "Ikke vores"}),
    ):
        _same_answer(
            ctx, web, route, foreign.proposal_id, unknown, {**data, "csrf_token": token},
            "users:approve",
        )  # fmt: skip
    with ctx.sessions() as s:
        proposal = s.get_one(AccessProposal, foreign.proposal_id)
        assert proposal.status == ProposalStatus.PENDING.value


def test_a_dpo_gets_the_unknown_ids_answer_for_another_organisations_alert(
    ctx: AppContext, web: TestClient, clock: FixedClock, foreign: Foreign
) -> None:
    dpo = enrolled_person(ctx, "dpo")
    token = log_in(web, dpo, clock)
    _same_answer(
        ctx, web, "/dpo/alarmer/{}/kvitter", foreign.alert_id, _unknown(ctx, AuditAlert),
        {"comment": "Set og undersøgt", "csrf_token": token}, "audit:alerts",
    )  # fmt: skip
    with ctx.sessions() as s:
        assert s.get_one(AuditAlert, foreign.alert_id).acknowledged_at is None

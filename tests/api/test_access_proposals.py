"""Two people for access to citizens' data: an administrator proposes, a data controller
of the same organisation approves with a fresh code, and only the approver (or the
user's mailbox) ever sees the one-time password. Attackers' tests first: the
administrator alone, the proposer approving, no code, a replayed code, another
organisation's data controller; then the careless user's and the resets."""

from __future__ import annotations

import json
import re
import socketserver
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from consent_service.app import create_app
from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import Actor
from consent_service.cli import main
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.errors import RuleRefusal
from consent_service.identity import proposal_decisions, proposals, totp
from consent_service.identity.models import (
    AccessProposal,
    ProposalKind,
    RecoveryCode,
    User,
    UserSession,
)
from tests.conftest import (
    Person,
    csrf_from,
    current_code,
    enrolled_person,
    log_in,
    make_settings,
    organisation,
)
from tests.integration.test_alerts import _SmtpSink

APPROVALS = "/godkendelser/adgang"
WRONG_CODE = "Koden er forkert eller allerede brugt"


@pytest.fixture
def admin_client(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx), follow_redirects=False) as c:
        yield c


@pytest.fixture
def dc_client(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx), follow_redirects=False) as c:
        yield c


def _user(ctx: AppContext, username: str) -> User | None:
    with ctx.sessions() as s:
        return s.scalars(select(User).where(User.username == username)).first()


def _proposals(ctx: AppContext) -> list[AccessProposal]:
    with ctx.sessions() as s:
        return list(s.scalars(select(AccessProposal).order_by(AccessProposal.id)).all())


def _events(ctx: AppContext, action: str) -> list[AuditEvent]:
    with ctx.sessions() as s:
        return list(
            s.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            ).all()
        )


def _propose_navigator(client: TestClient, token: str, username: str = "nina") -> None:
    r = client.post(
        "/admin/brugere",
        data={
            "username": username,
            "display_name": "Nina Navigatør",
            "role": "navigator",
            "reason": "Ny navigatør i Norddjurs",
            "csrf_token": token,
        },
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"].split("?")[0] == APPROVALS


def _fresh_code(person: Person, clock: FixedClock) -> str:
    clock.advance(timedelta(seconds=30))  # the login used this step's code
    return current_code(person, clock)


def _approve(
    client: TestClient, token: str, proposal_id: int, code: str, **extra: str
) -> httpx.Response:
    return client.post(
        f"{APPROVALS}/{proposal_id}/godkend", data={"code": code, "csrf_token": token, **extra}
    )


def _one_time_password(html: str) -> str:
    return html.split('id="one-time-password">')[1].split("<")[0]


def _login_first_step(client: TestClient, username: str, password: str) -> str:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
    )
    return r.headers.get("location", str(r.status_code))


# --- the attacker: an administrator alone ------------------------------------------------


def test_an_administrator_alone_cannot_create_a_navigator_and_log_in_as_it(
    ctx: AppContext, admin_client: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator")
    token = log_in(admin_client, admin, clock)
    _propose_navigator(admin_client, token)

    # No user yet, and no password anywhere the administrator can see.
    assert _user(ctx, "nina") is None
    listing = admin_client.get(APPROVALS)
    assert listing.status_code == 200
    assert "nina" in listing.text
    assert "one-time-password" not in listing.text
    assert "Du kan ikke selv godkende" in listing.text
    assert 'action="/godkendelser/adgang/' not in listing.text  # no approve form
    # Approving it himself is refused by the policy (and audited), with or without a code.
    (proposal,) = _proposals(ctx)
    r = _approve(admin_client, token, proposal.id, _fresh_code(admin, clock))
    assert r.status_code == 403
    assert "one-time-password" not in r.text
    denied = _events(ctx, "access.denied")
    assert json.loads(denied[-1].details)["permission"] == "users:approve"
    assert _proposals(ctx)[0].status == "pending"
    assert _user(ctx, "nina") is None
    # Nor can the administrator log in as the proposed user.
    assert _login_first_step(admin_client, "nina", "gæt") == "401"
    # The proposal was audited in the administrator's name.
    (proposed,) = _events(ctx, "access_proposal.proposed")
    assert proposed.actor_user_id == admin.user_id
    assert json.loads(proposed.details)["role"] == "navigator"


def test_a_role_without_citizens_data_needs_no_second_person(
    ctx: AppContext, admin_client: TestClient, clock: FixedClock
) -> None:
    """Decided by the policy file: an administrator holds no personal_data permission."""
    assert not proposals.needs_two_people(ctx.policy, "administrator")
    for role in ("navigator", "referrer", "data_controller", "dpo"):
        assert proposals.needs_two_people(ctx.policy, role), role
    admin = enrolled_person(ctx, "administrator")
    token = log_in(admin_client, admin, clock)
    r = admin_client.post(
        "/admin/brugere",
        data={
            "username": "ada",
            "display_name": "Ada",
            "role": "administrator",
            "csrf_token": token,
        },
    )
    assert r.status_code == 200
    assert _one_time_password(r.text)
    assert _proposals(ctx) == []


def test_the_data_controller_approves_with_a_fresh_code_and_alone_sees_the_password(
    ctx: AppContext, admin_client: TestClient, dc_client: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator")
    dc = enrolled_person(ctx, "data_controller")
    admin_token = log_in(admin_client, admin, clock)
    _propose_navigator(admin_client, admin_token)
    dc_token = log_in(dc_client, dc, clock)
    (proposal,) = _proposals(ctx)
    page = dc_client.get(APPROVALS)
    assert f'action="{APPROVALS}/{proposal.id}/godkend"' in page.text
    assert "Ny navigatør i Norddjurs" in page.text  # the reason, for the approver

    # No code: refused, nothing changes.
    r = _approve(dc_client, dc_token, proposal.id, "")
    assert r.status_code == 400
    assert WRONG_CODE in r.text
    # The code of the login's own time step: a replay, refused.
    r = _approve(dc_client, dc_token, proposal.id, current_code(dc, clock))
    assert r.status_code == 400
    assert _user(ctx, "nina") is None
    failures = list(_events(ctx, "login.step_up_failed"))
    assert len(failures) == 2
    assert {json.loads(e.details)["purpose"] for e in failures} == {"access_proposal"}

    r = _approve(dc_client, dc_token, proposal.id, _fresh_code(dc, clock), comment="Kendt")
    assert r.status_code == 200, r.text
    password = _one_time_password(r.text)
    nina = _user(ctx, "nina")
    assert nina is not None
    assert nina.role == "navigator"
    assert nina.must_change_password
    # The administrator's pages never show it.
    assert password not in admin_client.get(APPROVALS).text
    assert password not in admin_client.get("/admin/brugere").text
    # Audited: who proposed, who approved, how the password went; never the password.
    (approved,) = _events(ctx, "access_proposal.approved")
    assert approved.actor_user_id == dc.user_id
    details = json.loads(approved.details)
    assert details["proposed_by"] == admin.user_id
    assert details["delivery"] == "shown"
    assert _events(ctx, "user.created")[-1].actor_user_id == dc.user_id
    with ctx.sessions() as s:
        assert all(password not in (e.details or "") for e in s.scalars(select(AuditEvent)))
    # The new user logs in with it and must choose a password, then enrol.
    with TestClient(create_app(ctx), follow_redirects=False) as nina_client:
        assert _login_first_step(nina_client, "nina", password) == "/login/ny-adgangskode"
    # Once decided, it cannot be approved again.
    again = _approve(dc_client, dc_token, proposal.id, _fresh_code(dc, clock))
    assert again.status_code == 409


def test_a_replayed_code_does_not_approve_a_second_proposal(
    ctx: AppContext, admin_client: TestClient, dc_client: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator")
    dc = enrolled_person(ctx, "data_controller")
    admin_token = log_in(admin_client, admin, clock)
    _propose_navigator(admin_client, admin_token, "nina")
    _propose_navigator(admin_client, admin_token, "nils")
    dc_token = log_in(dc_client, dc, clock)
    first, second = _proposals(ctx)
    code = _fresh_code(dc, clock)
    assert _approve(dc_client, dc_token, first.id, code).status_code == 200
    replay = _approve(dc_client, dc_token, second.id, code)
    assert replay.status_code == 400
    assert WRONG_CODE in replay.text
    assert _user(ctx, "nils") is None
    assert _proposals(ctx)[1].status == "pending"


def test_nobody_approves_their_own_proposal_or_one_about_themselves(
    ctx: AppContext, dc_client: TestClient, clock: FixedClock
) -> None:
    """Even if a policy let a data controller propose, the service refuses the proposer
    as approver; and nobody decides a reset of their own account."""
    dc = enrolled_person(ctx, "data_controller")
    admin = enrolled_person(ctx, "administrator")
    with session_scope(ctx.sessions) as s:
        me = s.get(User, dc.user_id)
        assert me is not None
        own = proposals.propose_user(
            s, ctx.identity, _actor(), me, username="egen", display_name="Egen", role="navigator",
        )  # fmt: skip
        own_id = own.id
        proposer = s.get(User, admin.user_id)
        assert proposer is not None
        about_me = proposals.propose_reset(
            s, ctx.identity, _actor(), proposer, me,
            kind=ProposalKind.RESET_PASSWORD, reason="mistet adgangskode",
        )  # fmt: skip
        about_me_id = about_me.id
    token = log_in(dc_client, dc, clock)
    r = _approve(dc_client, token, own_id, _fresh_code(dc, clock))
    assert r.status_code == 403  # the policy's not_self
    r = _approve(dc_client, token, about_me_id, _fresh_code(dc, clock))
    assert r.status_code == 409
    assert "din egen adgang" in r.text
    with session_scope(ctx.sessions) as s:
        me = s.get(User, dc.user_id)
        p = s.get(AccessProposal, own_id)
        assert me is not None
        assert p is not None
        with pytest.raises(RuleRefusal, match="forslag"):
            proposal_decisions.approve(s, ctx.identity, _actor(), ctx.policy, me, p, code="000000")
    assert {p.status for p in _proposals(ctx)} == {"pending"}
    assert _user(ctx, "egen") is None


def _actor() -> Actor:
    return Actor(username="test", request_id="t", source_ip="local")


def test_a_data_controller_of_another_organisation_cannot_approve(
    ctx: AppContext, admin_client: TestClient, dc_client: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator")
    stranger = enrolled_person(ctx, "data_controller", org_name="Norddjurs Kommune")
    admin_token = log_in(admin_client, admin, clock)
    _propose_navigator(admin_client, admin_token)
    token = log_in(dc_client, stranger, clock)
    assert "nina" not in dc_client.get(APPROVALS).text
    (proposal,) = _proposals(ctx)
    r = _approve(dc_client, token, proposal.id, _fresh_code(stranger, clock))
    assert r.status_code == 403
    r = dc_client.post(
        f"{APPROVALS}/{proposal.id}/afvis", data={"reason": "ikke min", "csrf_token": token}
    )
    assert r.status_code == 403
    assert _proposals(ctx)[0].status == "pending"
    assert _user(ctx, "nina") is None


# --- the careless user -----------------------------------------------------------------


def test_a_wrong_code_keeps_the_form_with_a_danish_message(
    ctx: AppContext, admin_client: TestClient, dc_client: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator")
    dc = enrolled_person(ctx, "data_controller")
    _propose_navigator(admin_client, log_in(admin_client, admin, clock))
    token = log_in(dc_client, dc, clock)
    (proposal,) = _proposals(ctx)
    r = _approve(dc_client, token, proposal.id, "123456", comment="Set i HR-systemet")
    assert r.status_code == 400
    assert WRONG_CODE in r.text
    assert 'value="Set i HR-systemet"' in r.text  # what was typed is kept
    assert f'action="{APPROVALS}/{proposal.id}/godkend"' in r.text
    assert _proposals(ctx)[0].status == "pending"
    # A rejection without a reason: a Danish message, nothing decided.
    r = dc_client.post(f"{APPROVALS}/{proposal.id}/afvis", data={"csrf_token": token})
    assert r.status_code == 400
    assert "Angiv en begrundelse" in r.text
    assert _proposals(ctx)[0].status == "pending"
    r = dc_client.post(
        f"{APPROVALS}/{proposal.id}/afvis",
        data={"reason": "Ikke ansat endnu", "csrf_token": token},
    )
    assert r.status_code == 303
    assert _proposals(ctx)[0].status == "rejected"
    (rejected,) = _events(ctx, "access_proposal.rejected")
    assert rejected.reason == "Ikke ansat endnu"
    assert _user(ctx, "nina") is None


def test_proposals_expire(
    ctx: AppContext, admin_client: TestClient, dc_client: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator")
    dc = enrolled_person(ctx, "data_controller")
    _propose_navigator(admin_client, log_in(admin_client, admin, clock))
    clock.advance(timedelta(hours=ctx.settings.access_proposal_hours))
    token = log_in(dc_client, dc, clock)
    (proposal,) = _proposals(ctx)
    r = _approve(dc_client, token, proposal.id, _fresh_code(dc, clock))
    assert r.status_code == 409
    assert "udløbet" in r.text
    assert _user(ctx, "nina") is None
    dc_client.get(APPROVALS)
    assert _proposals(ctx)[0].status == "expired"
    assert _events(ctx, "access_proposal.expired")


# --- resets ----------------------------------------------------------------------------


def _propose_reset(
    client: TestClient, token: str, person: Person, kind: str, reason: str = "Mistet telefon"
) -> int:
    r = client.post(
        f"/admin/brugere/{person.user_id}/nulstil",
        data={"kind": kind, "reason": reason, "csrf_token": token},
    )
    assert r.status_code == 303, r.text
    return _proposals(_ctx_of(client))[-1].id


def _ctx_of(client: TestClient) -> AppContext:
    ctx: AppContext = client.app.state.ctx  # type: ignore[attr-defined]
    return ctx


def test_a_second_factor_reset_ends_sessions_and_forces_enrolment(
    ctx: AppContext, admin_client: TestClient, dc_client: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator")
    dc = enrolled_person(ctx, "data_controller")
    navigator = enrolled_person(ctx, "navigator")
    with TestClient(create_app(ctx), follow_redirects=False) as nav_client:
        log_in(nav_client, navigator, clock)
        with session_scope(ctx.sessions) as s:
            s.add(
                RecoveryCode(user_id=navigator.user_id, code_hash="x" * 64, created_at=clock.now())
            )
        admin_token = log_in(admin_client, admin, clock)
        proposal_id = _propose_reset(admin_client, admin_token, navigator, "to-faktor")
        # Nothing happens before approval.
        before = _user(ctx, navigator.username)
        assert before is not None
        assert before.totp_secret_sealed is not None
        assert nav_client.get("/").status_code == 200
        token = log_in(dc_client, dc, clock)
        r = _approve(dc_client, token, proposal_id, _fresh_code(dc, clock))
        assert r.status_code == 200, r.text
        password = _one_time_password(r.text)
        # The navigator's open session ended at once.
        assert nav_client.get("/").status_code in (303, 401)
    user = _user(ctx, navigator.username)
    assert user is not None
    assert user.totp_secret_sealed is None
    assert user.must_change_password
    with ctx.sessions() as s:
        assert s.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all() == []
        live = s.scalars(
            select(UserSession).where(
                UserSession.user_id == user.id, UserSession.ended_at.is_(None)
            )
        ).all()
        assert live == []
    # The old password no longer works; the one-time one leads to a new password, then enrolment.
    with TestClient(create_app(ctx), follow_redirects=False) as c:
        assert _login_first_step(c, navigator.username, navigator.password) == "401"
        assert _login_first_step(c, navigator.username, password) == "/login/ny-adgangskode"
    (reset,) = _events(ctx, "user.second_factor_reset")
    assert reset.actor_user_id == dc.user_id
    assert reset.reason == "Mistet telefon"
    details = json.loads(reset.details)
    assert details["before"]["mfa_enrolled"] is True
    assert details["after"]["mfa_enrolled"] is False


def test_a_password_reset_keeps_the_second_factor(
    ctx: AppContext, admin_client: TestClient, dc_client: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator")
    dc = enrolled_person(ctx, "data_controller")
    navigator = enrolled_person(ctx, "navigator")
    admin_token = log_in(admin_client, admin, clock)
    proposal_id = _propose_reset(admin_client, admin_token, navigator, "adgangskode", "Glemt")
    # A second identical proposal while one waits: refused with a Danish message.
    r = admin_client.post(
        f"/admin/brugere/{navigator.user_id}/nulstil",
        data={"kind": "adgangskode", "reason": "Glemt igen", "csrf_token": admin_token},
    )
    assert r.status_code == 400
    assert "venter allerede" in r.text
    token = log_in(dc_client, dc, clock)
    r = _approve(dc_client, token, proposal_id, _fresh_code(dc, clock))
    password = _one_time_password(r.text)
    user = _user(ctx, navigator.username)
    assert user is not None
    assert user.totp_secret_sealed is not None
    with TestClient(create_app(ctx), follow_redirects=False) as c:
        assert _login_first_step(c, navigator.username, password) == "/login/kode"
    assert _events(ctx, "user.password_reset")


def test_an_administrator_cannot_propose_a_reset_in_another_organisation(
    ctx: AppContext, admin_client: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator")
    stranger = enrolled_person(ctx, "navigator", org_name="Norddjurs Kommune")
    token = log_in(admin_client, admin, clock)
    r = admin_client.post(
        f"/admin/brugere/{stranger.user_id}/nulstil",
        data={"kind": "adgangskode", "reason": "ikke min", "csrf_token": token},
    )
    assert r.status_code == 403
    assert _proposals(ctx) == []


def test_a_role_change_to_a_citizen_data_role_renews_the_credentials(
    ctx: AppContext, admin_client: TestClient, dc_client: TestClient, clock: FixedClock
) -> None:
    """An administrator makes a second administrator alone (allowed: it reads no
    citizens' data) and knows its password; turning it into a navigator then needs a data
    controller, and gives the account a new password that only the approver sees."""
    admin = enrolled_person(ctx, "administrator")
    dc = enrolled_person(ctx, "data_controller")
    accomplice = enrolled_person(ctx, "administrator")
    token = log_in(admin_client, admin, clock)
    r = admin_client.post(
        f"/admin/brugere/{accomplice.user_id}/rolle",
        data={
            "role": "navigator", "reason": "Skifter job", "confirmed": "ja",
            "code": _fresh_code(admin, clock), "csrf_token": token,
        },
    )  # fmt: skip
    assert r.status_code == 303
    assert r.headers["location"].split("?")[0] == APPROVALS
    still = _user(ctx, accomplice.username)
    assert still is not None
    assert still.role == "administrator"
    dc_token = log_in(dc_client, dc, clock)
    (proposal,) = _proposals(ctx)
    r = _approve(dc_client, dc_token, proposal.id, _fresh_code(dc, clock))
    assert r.status_code == 200, r.text
    assert _one_time_password(r.text)
    changed = _user(ctx, accomplice.username)
    assert changed is not None
    assert changed.role == "navigator"
    assert changed.totp_secret_sealed is None
    with TestClient(create_app(ctx), follow_redirects=False) as c:
        assert _login_first_step(c, accomplice.username, accomplice.password) == "401"


# --- delivery by e-mail ------------------------------------------------------------------


@pytest.fixture
def smtp_sink() -> Iterator[tuple[int, list[bytes]]]:
    received: list[bytes] = []
    handler = type("Sink", (_SmtpSink,), {"received": received})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


def test_the_one_time_password_can_go_by_mail_instead(
    db_url: str,
    test_keys: dict[str, str],
    clock: FixedClock,
    smtp_sink: tuple[int, list[bytes]],
) -> None:
    port, received = smtp_sink
    settings = make_settings(
        db_url, test_keys, smtp_host="127.0.0.1", smtp_port=port,
        account_mail_domains=["norddjurs.dk"],
    )  # fmt: skip
    ctx = AppContext.build(settings, clock)
    try:
        admin = enrolled_person(ctx, "administrator")
        dc = enrolled_person(ctx, "data_controller")
        with (
            TestClient(create_app(ctx), follow_redirects=False) as a,
            TestClient(create_app(ctx), follow_redirects=False) as d,
        ):
            _propose_navigator(a, log_in(a, admin, clock))
            token = log_in(d, dc, clock)
            (proposal,) = _proposals(ctx)
            outside = _approve(
                d, token, proposal.id, _fresh_code(dc, clock), email="nina@gmail.com"
            )
            assert outside.status_code == 400
            assert "arbejdsadresse" in outside.text
            assert received == []
            r = _approve(d, token, proposal.id, _fresh_code(dc, clock), email="nina@norddjurs.dk")
            assert r.status_code == 200, r.text
            assert "one-time-password" not in r.text
            assert 'id="mailed"' in r.text
        (mail,) = received
        assert b"To: nina@norddjurs.dk" in mail
        text = mail.decode()
        found = re.search(r"adgangskode: ([a-z0-9-]{23})", text)
        assert found
        with TestClient(create_app(ctx), follow_redirects=False) as c:
            assert _login_first_step(c, "nina", found.group(1)) == "/login/ny-adgangskode"
        (approved,) = _events(ctx, "access_proposal.approved")
        assert json.loads(approved.details)["delivery"] == "email"
        assert "norddjurs.dk" not in (approved.details or "")
    finally:
        ctx.engine.dispose()


# --- the command line ------------------------------------------------------------------


@pytest.fixture
def cli_env(ctx: AppContext, test_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_ENV_FILE", "/nonexistent/consent.env")
    monkeypatch.setenv("CONSENT_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("CONSENT_AUDIT_ORIGIN", ctx.settings.audit_origin)
    for name, value in test_keys.items():
        monkeypatch.setenv(f"CONSENT_{name.upper()}", value)


def _now_code(person: Person) -> str:
    return totp.code_for_step(person.secret, totp.time_step(datetime.now(UTC)))


@pytest.mark.usefixtures("cli_env")
def test_the_cli_needs_two_people_with_their_codes(
    ctx: AppContext, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    admin = enrolled_person(ctx, "administrator")
    dc = enrolled_person(ctx, "data_controller")
    navigator = enrolled_person(ctx, "navigator")
    # create-user refuses a role that reads citizens' data once a data controller exists.
    assert main(["create-user", "--username", "solo", "--name", "Solo", "--role", "navigator"]) == 1
    assert "users propose" in capsys.readouterr().out
    assert _user(ctx, "solo") is None

    reset = ["users", "propose-reset", "--username", navigator.username, "--kind"]
    assert main([*reset, "second-factor", "--reason", "Mistet telefon", "--by", admin.username,
                 "--code", "000000"]) == 1  # fmt: skip
    assert "refused" in capsys.readouterr().out
    assert _proposals(ctx) == []
    assert main([*reset, "second-factor", "--reason", "Mistet telefon", "--by", admin.username,
                 "--code", _now_code(admin)]) == 0  # fmt: skip
    capsys.readouterr()
    (proposal,) = _proposals(ctx)
    # The proposer cannot approve; a wrong code does not approve.
    approve = ["users", "approve", str(proposal.id)]
    assert main([*approve, "--by", admin.username, "--code", _now_code(admin)]) == 1
    assert main([*approve, "--by", dc.username, "--code", "000000"]) == 1
    assert "refused" in capsys.readouterr().out
    assert _proposals(ctx)[0].status == "pending"
    assert main([*approve, "--by", dc.username, "--code", _now_code(dc)]) == 0
    out = capsys.readouterr().out
    assert "hand it over yourself" in out
    user = _user(ctx, navigator.username)
    assert user is not None
    assert user.totp_secret_sealed is None
    assert _events(ctx, "user.second_factor_reset")[-1].actor_user_id == dc.user_id


@pytest.mark.usefixtures("cli_env")
def test_create_user_makes_only_an_organisation_s_first_data_controller(
    ctx: AppContext, capsys: pytest.CaptureFixture[str]
) -> None:
    """Like the first administrator, the first data controller has nobody to approve them;
    every later user with a role that reads citizens' data is a proposal."""
    organisation(ctx, "Syddjurs Kommune")
    base = ["create-user", "--organisation", "Syddjurs Kommune", "--name", "Dorte"]
    assert main([*base, "--username", "nav1", "--role", "navigator"]) == 1
    assert main([*base, "--username", "dc1", "--role", "data_controller"]) == 0
    assert "One-time set-up" in capsys.readouterr().out
    assert main([*base, "--username", "dc2", "--role", "data_controller"]) == 1
    assert "users propose" in capsys.readouterr().out
    assert main([*base, "--username", "adm2", "--role", "administrator"]) == 0
    assert _user(ctx, "dc1") is not None
    assert _user(ctx, "dc2") is None
    assert _user(ctx, "nav1") is None

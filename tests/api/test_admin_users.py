"""The administrator's users and API keys pages (issue 16): the organisation a new user
joins, the users list (organisation, role, last login, locks), a role change with a reason
and a fresh code, and API keys only for referrers who completed the second factor.

Attacker first (another organisation, forged ids, no code, a wrong code, CSRF), then the
newcomer's mistakes and the work itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from consent_service.app import create_app
from consent_service.audit.models import AuditEvent
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.identity.models import AccessProposal, ApiToken, User
from tests.conftest import Person, current_code, enrolled_person, log_in, organisation

OPERATOR = "Region Midtjylland"  # the settings' bootstrap organisation: runs the service
MUNICIPALITY = "Norddjurs Kommune"
USERS = "/admin/brugere"
APPROVALS = "/godkendelser/adgang"
TOKENS = "/admin/api-noegler"
WRONG_CODE = "Koden er forkert eller allerede brugt"


@pytest.fixture
def web(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx), follow_redirects=False) as c:
        yield c


@pytest.fixture
def other_web(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx), follow_redirects=False) as c:
        yield c


def _user(ctx: AppContext, username: str) -> User | None:
    with ctx.sessions() as s:
        return s.scalars(select(User).where(User.username == username)).first()


def _by_id(ctx: AppContext, user_id: int) -> User:
    with ctx.sessions() as s:
        user = s.get(User, user_id)
        assert user is not None
        s.expunge(user)
        return user


def _proposals(ctx: AppContext) -> list[AccessProposal]:
    with ctx.sessions() as s:
        return list(s.scalars(select(AccessProposal).order_by(AccessProposal.id)))


def _events(ctx: AppContext, action: str) -> list[AuditEvent]:
    with ctx.sessions() as s:
        return list(
            s.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


def _fresh_code(person: Person, clock: FixedClock) -> str:
    clock.advance(timedelta(seconds=30))  # a step nobody used yet
    return current_code(person, clock)


def _new_user(
    client: TestClient, token: str, username: str, role: str, organisation_id: int | None = None
) -> httpx.Response:
    data = {
        "username": username,
        "display_name": "Nina Nielsen",
        "role": role,
        "reason": "Ny kollega i projektet",
        "csrf_token": token,
    }
    if organisation_id is not None:
        data["organisation"] = str(organisation_id)
    return client.post(USERS, data=data)


def _role(client: TestClient, token: str, user_id: int, role: str, **extra: str) -> httpx.Response:
    return client.post(
        f"{USERS}/{user_id}/rolle",
        data={"role": role, "reason": "Skifter opgaver", "csrf_token": token, **extra},
    )


# --- the organisation of a new user ---------------------------------------------------------


def test_an_organisations_administrator_cannot_create_a_user_in_another(
    ctx: AppContext, web: TestClient, clock: FixedClock
) -> None:
    operator = organisation(ctx, OPERATOR)
    local = enrolled_person(ctx, "administrator", org_name=MUNICIPALITY)
    token = log_in(web, local, clock)
    page = web.get(USERS).text
    assert 'name="organisation"' not in page  # no choice: one's own organisation
    assert web.get(USERS, params={"organisation": operator}).status_code == 403

    for role in ("administrator", "navigator"):  # made at once, or proposed
        for forged in (operator, 999_999):
            r = _new_user(web, token, f"fremmed{role}{forged}", role, forged)
            assert r.status_code == 403, (role, forged)
    assert _proposals(ctx) == []
    assert _events(ctx, "user.created") == []
    # Its own organisation, named or not, works.
    assert _new_user(web, token, "egen", "administrator", local.organisation_id).status_code == 200
    created = _user(ctx, "egen")
    assert created is not None
    assert created.organisation_id == local.organisation_id


def test_the_system_wide_administrator_creates_users_in_another_organisation(
    ctx: AppContext, web: TestClient, other_web: TestClient, clock: FixedClock
) -> None:
    """The user joins the chosen organisation; a navigator there is a proposal that only a
    data controller of that organisation may decide."""
    admin = enrolled_person(ctx, "administrator", org_name=OPERATOR)
    own_dc = enrolled_person(ctx, "data_controller", org_name=OPERATOR)
    their_dc = enrolled_person(ctx, "data_controller", org_name=MUNICIPALITY)
    municipality = their_dc.organisation_id
    token = log_in(web, admin, clock)
    page = web.get(USERS, params={"organisation": municipality})
    assert page.status_code == 200
    assert "Brugere i Norddjurs Kommune" in page.text
    assert f'<option value="{municipality}" selected>' in page.text
    assert f'action="{USERS}/{their_dc.user_id}/rolle"' not in page.text  # not changed here

    r = _new_user(web, token, "lokaladmin", "administrator", municipality)
    assert r.status_code == 200
    assert "oprettet i Norddjurs Kommune" in r.text
    made = _user(ctx, "lokaladmin")
    assert made is not None
    assert made.organisation_id == municipality

    r = _new_user(web, token, "nina", "navigator", municipality)
    assert r.status_code == 303
    (proposal,) = _proposals(ctx)
    assert proposal.organisation_id == municipality
    assert _user(ctx, "nina") is None
    listing = web.get(APPROVALS).text
    assert "Dine forslag i andre organisationer" in listing
    assert "nina" in listing
    assert "Norddjurs Kommune" in listing
    # Past its time, the proposer sees it expired (its organisation's page marks it so).
    with session_scope(ctx.sessions) as s:
        late = s.get(AccessProposal, proposal.id)
        assert late is not None
        kept_until, late.expires_at = late.expires_at, clock.now()
    assert "Udløbet" in web.get(APPROVALS).text.split('id="forslag-andre"')[1]
    with session_scope(ctx.sessions) as s:
        late = s.get(AccessProposal, proposal.id)
        assert late is not None
        late.expires_at = kept_until

    # The proposer's own organisation's data controller may not decide it.
    own_token = log_in(other_web, own_dc, clock)
    r = other_web.post(
        f"{APPROVALS}/{proposal.id}/godkend",
        data={"code": _fresh_code(own_dc, clock), "csrf_token": own_token},
    )
    assert r.status_code == 403
    assert _user(ctx, "nina") is None
    other_web.cookies.clear()
    their_token = log_in(other_web, their_dc, clock)
    assert "nina" in other_web.get(APPROVALS).text
    r = other_web.post(
        f"{APPROVALS}/{proposal.id}/godkend",
        data={"code": _fresh_code(their_dc, clock), "csrf_token": their_token},
    )
    assert r.status_code == 200, r.text
    nina = _user(ctx, "nina")
    assert nina is not None
    assert nina.organisation_id == municipality
    assert nina.role == "navigator"


# --- the users list ------------------------------------------------------------------------


def test_the_list_shows_organisation_role_last_login_and_locks(
    ctx: AppContext, web: TestClient, other_web: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator", org_name=OPERATOR)
    navigator = enrolled_person(ctx, "navigator", org_name=OPERATOR)
    waiting = enrolled_person(ctx, "referrer", org_name=OPERATOR)
    locked = enrolled_person(ctx, "dpo", org_name=OPERATOR)
    gone = enrolled_person(ctx, "data_controller", org_name=OPERATOR)
    stranger = enrolled_person(ctx, "navigator", org_name=MUNICIPALITY)
    assert _by_id(ctx, navigator.user_id).last_login_at is None
    log_in(other_web, navigator, clock)
    logged_in_at = clock.now()
    assert _by_id(ctx, navigator.user_id).last_login_at == logged_in_at
    with session_scope(ctx.sessions) as s:
        row = s.get(User, waiting.user_id)
        assert row is not None
        row.needs_admin_unlock = True
        row.locked_until = clock.now() + timedelta(days=365)
        row = s.get(User, locked.user_id)
        assert row is not None
        row.locked_until = clock.now() + timedelta(minutes=15)
        row = s.get(User, gone.user_id)
        assert row is not None
        row.is_active = False
    log_in(web, admin, clock)
    page = web.get(USERS).text

    def row_of(person: Person) -> str:
        return page.split(f'id="user-{person.username}"')[1].split("</tr>")[0]

    assert stranger.username not in page
    nav = row_of(navigator)
    assert "Region Midtjylland" in nav
    assert "Social navigatør" in nav
    assert "Aldrig logget ind" not in nav
    assert " kl. " in nav
    assert "Aldrig logget ind" in row_of(gone)
    assert "Skal låses op af en administrator" in row_of(waiting)
    assert "Låst til " in row_of(locked)
    assert "Deaktiveret" in row_of(gone)
    assert "Aktiv" in row_of(admin)


# --- the role change -------------------------------------------------------------------------


def test_a_role_change_needs_a_reason_and_a_fresh_code(
    ctx: AppContext, web: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator", org_name=OPERATOR)
    target = enrolled_person(ctx, "referrer", org_name=OPERATOR)
    stranger = enrolled_person(ctx, "referrer", org_name=MUNICIPALITY)
    token = log_in(web, admin, clock)

    # Another organisation's user: the denial an unknown id gets; no code is asked for.
    theirs = _role(web, token, stranger.user_id, "administrator", confirmed="ja", code="000000")
    assert theirs.status_code == 403
    # CSRF.
    r = web.post(
        f"{USERS}/{target.user_id}/rolle", data={"role": "administrator", "reason": "x y z"}
    )
    assert r.status_code == 403

    # No reason: the users page again, the message beside the field, the role kept.
    r = web.post(
        f"{USERS}/{target.user_id}/rolle",
        data={"role": "administrator", "reason": "", "csrf_token": token},
    )
    assert r.status_code == 400
    assert f'id="role-{target.user_id}-reason-error"' in r.text
    assert '<option value="administrator" selected>' in r.text

    # The first post is the confirmation step: it asks for the code and changes nothing.
    r = _role(web, token, target.user_id, "administrator")
    assert r.status_code == 200
    assert "Ny kode fra din godkender-app" in r.text
    assert "går fra Henviser til Administrator" in r.text
    # No code, then a wrong one: the same page, the message beside the code, nothing changed.
    r = _role(web, token, target.user_id, "administrator", confirmed="ja", code="")
    assert r.status_code == 400
    assert 'id="step-code-error"' in r.text
    failures_before = _by_id(ctx, admin.user_id).code_failures
    r = _role(web, token, target.user_id, "administrator", confirmed="ja", code="000000")
    assert r.status_code == 400
    assert WRONG_CODE in r.text
    assert 'id="step-code-error"' in r.text
    assert 'value="Skifter opgaver"' in r.text  # the reason kept
    assert _by_id(ctx, admin.user_id).code_failures == failures_before + 1
    (failed,) = _events(ctx, "login.step_up_failed")
    assert json.loads(failed.details)["purpose"] == "role_change"
    assert _by_id(ctx, target.user_id).role == "referrer"
    assert _events(ctx, "user.role_changed") == []

    r = _role(
        web, token, target.user_id, "administrator", confirmed="ja", code=_fresh_code(admin, clock)
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"{USERS}?besked=role-changed"
    assert _by_id(ctx, target.user_id).role == "administrator"
    (changed,) = _events(ctx, "user.role_changed")
    assert changed.reason == "Skifter opgaver"
    assert json.loads(changed.details)["after"]["role"] == "administrator"
    # The code, once used, does not work again.
    r = _role(web, token, target.user_id, "dpo", confirmed="ja", code=current_code(admin, clock))
    assert r.status_code == 400
    assert _by_id(ctx, target.user_id).role == "administrator"


def test_a_role_with_citizens_data_stays_a_proposal_after_the_code(
    ctx: AppContext, web: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator", org_name=OPERATOR)
    target = enrolled_person(ctx, "referrer", org_name=OPERATOR)
    token = log_in(web, admin, clock)
    r = _role(web, token, target.user_id, "navigator")
    assert r.status_code == 200
    assert "skiftet bliver et forslag" in r.text
    r = _role(
        web, token, target.user_id, "navigator", confirmed="ja", code=_fresh_code(admin, clock)
    )
    assert r.status_code == 303
    assert r.headers["location"].split("?")[0] == APPROVALS
    (proposal,) = _proposals(ctx)
    assert proposal.kind == "change_role"
    assert proposal.role == "navigator"
    assert _by_id(ctx, target.user_id).role == "referrer"


def test_the_old_change_route_no_longer_changes_a_role(
    ctx: AppContext, web: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator", org_name=OPERATOR)
    target = enrolled_person(ctx, "referrer", org_name=OPERATOR)
    token = log_in(web, admin, clock)
    r = web.post(
        f"{USERS}/{target.user_id}/aendr",
        data={"role": "administrator", "reason": "Uden kode", "csrf_token": token},
    )
    assert r.status_code == 400
    assert _by_id(ctx, target.user_id).role == "referrer"


# --- API keys --------------------------------------------------------------------------------


def test_a_key_only_for_an_active_referrer_with_a_second_factor(
    ctx: AppContext, web: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator", org_name=OPERATOR)
    ready = enrolled_person(ctx, "referrer", org_name=OPERATOR)
    fresh = enrolled_person(ctx, "referrer", org_name=OPERATOR)
    left = enrolled_person(ctx, "referrer", org_name=OPERATOR)
    stranger = enrolled_person(ctx, "referrer", org_name=MUNICIPALITY)
    with session_scope(ctx.sessions) as s:
        row = s.get(User, fresh.user_id)
        assert row is not None
        row.totp_enrolled_at = None
        row.totp_secret_sealed = None
        row = s.get(User, left.user_id)
        assert row is not None
        row.is_active = False
    token = log_in(web, admin, clock)
    page = web.get(TOKENS).text
    choices = page.split('id="user_id"')[1].split("</select>")[0]
    assert f'value="{ready.user_id}"' in choices
    assert f'value="{fresh.user_id}"' not in choices
    assert f'value="{left.user_id}"' not in choices

    def issue(user_id: int) -> httpx.Response:
        return web.post(
            TOKENS,
            data={"user_id": str(user_id), "label": "Lægehuset", "valid_days": "30",
                  "csrf_token": token},
        )  # fmt: skip

    for refused in (fresh, left):
        r = issue(refused.user_id)
        assert r.status_code == 409
        assert 'id="user_id-error"' in r.text
        assert "opsat to-faktor" in r.text
        assert 'value="Lægehuset"' in r.text
    assert issue(stranger.user_id).status_code == 403
    with ctx.sessions() as s:
        assert s.scalars(select(ApiToken)).all() == []

    r = issue(ready.user_id)
    assert r.status_code == 200
    bearer = r.text.split('id="new-api-token">')[1].split("<")[0]
    row = r.text.split('id="tokens"')[1].split("</tr>")[1]
    assert "Test referrer (Region Midtjylland)" in row
    assert "Aldrig brugt" in row
    assert bearer.startswith("cst_")
    with session_scope(ctx.sessions) as s:
        key = s.scalars(select(ApiToken)).one()
        key.last_used_at = clock.now()
    row = web.get(TOKENS).text.split('id="tokens"')[1].split("</tr>")[1]
    assert "Aldrig brugt" not in row
    assert " kl. " in row

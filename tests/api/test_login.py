"""Login with mandatory TOTP: enrolment, codes that work once, two lockout counters, one
generic error text, and every rejected attempt audited."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from consent_service.audit.models import AuditEvent
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.identity import totp
from consent_service.identity.lockout import unknown_username_label
from consent_service.identity.login_endpoints import GENERIC_LOGIN_ERROR
from consent_service.identity.models import User
from tests.conftest import csrf_from, current_code, enrolled_person, log_in


def _password(client: TestClient, username: str, password: str):  # type: ignore[no-untyped-def]
    page = client.get("/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
    )


def _code(client: TestClient, code: str):  # type: ignore[no-untyped-def]
    page = client.get("/login/kode")
    assert page.status_code == 200, "expected a pending login at the code step"
    return client.post("/login/kode", data={"code": code, "csrf_token": csrf_from(page.text)})


def _events(ctx: AppContext, action: str) -> list[AuditEvent]:
    with ctx.sessions() as s:
        return list(
            s.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


def _user(ctx: AppContext, user_id: int) -> User:
    with ctx.sessions() as s:
        user = s.get(User, user_id)
        assert user is not None
        return user


def test_password_alone_reaches_nothing(ctx: AppContext, client: TestClient) -> None:
    person = enrolled_person(ctx, "navigator")
    r = _password(client, person.username, person.password)
    assert r.headers["location"] == "/login/kode"
    assert client.get("/").headers["location"] == "/login"
    assert client.get("/api/v1/me").status_code == 401


def test_normal_login(ctx: AppContext, client: TestClient, clock: FixedClock) -> None:
    person = enrolled_person(ctx, "navigator")
    log_in(client, person, clock)
    me = client.get("/api/v1/me")
    assert me.json()["username"] == person.username
    assert _events(ctx, "login.succeeded")[-1].actor_user_id == person.user_id


def test_first_login_forces_password_change_and_enrolment(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator")
    token = log_in(client, admin, clock)
    created = client.post(  # a role that reads no citizens' data needs no second person
        "/admin/brugere",
        data={
            "username": "nina",
            "display_name": "Nina",
            "role": "administrator",
            "csrf_token": token,
        },
    )
    assert created.status_code == 200
    one_time = created.text.split('id="one-time-password">')[1].split("<")[0]
    client.post("/logout", data={"csrf_token": token})

    r = _password(client, "nina", one_time)
    assert r.headers["location"] == "/login/ny-adgangskode"
    page = client.get("/login/ny-adgangskode")
    weak = client.post(
        "/login/ny-adgangskode",
        data={
            "new_password": "password123",
            "repeat_password": "password123",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert weak.status_code == 400
    assert "for almindelig" in weak.text
    ok = client.post(
        "/login/ny-adgangskode",
        data={
            "new_password": "syv grønne æbler i kurven",
            "repeat_password": "syv grønne æbler i kurven",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert ok.headers["location"] == "/login/tilmeld"
    assert client.get("/").headers["location"] == "/login"  # not in without TOTP

    enrol = client.get("/login/tilmeld")
    assert "<svg" in enrol.text
    assert "otpauth://totp/" in enrol.text
    secret = enrol.text.split('id="totp-secret">')[1].split("<")[0].replace(" ", "")
    wrong = client.post(
        "/login/tilmeld", data={"code": "000000", "csrf_token": csrf_from(enrol.text)}
    )
    assert wrong.status_code == 401
    code = totp.code_for_step(secret, totp.time_step(clock.now()))
    done = client.post("/login/tilmeld", data={"code": code, "csrf_token": csrf_from(enrol.text)})
    assert done.status_code == 200
    codes = done.text.split('id="recovery-codes">')[1].split("</ul>")[0]
    assert codes.count("<code>") == 10
    finish = client.post("/login/gendannelseskoder", data={"csrf_token": csrf_from(done.text)})
    assert finish.headers["location"] == "/"
    assert client.get("/").status_code == 200

    # The TOTP secret is stored sealed, not in clear.
    with ctx.sessions() as s:
        nina = s.scalars(select(User).where(User.username == "nina")).one()
        assert nina.totp_secret_sealed is not None
        assert secret.encode() not in nina.totp_secret_sealed
    assert _events(ctx, "user.mfa_enrolled")


def test_a_used_code_fails_the_second_time(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    person = enrolled_person(ctx, "navigator")
    log_in(client, person, clock)
    code = current_code(person, clock)
    client.cookies.clear()
    _password(client, person.username, person.password)
    r = _code(client, code)
    assert r.status_code == 401
    assert GENERIC_LOGIN_ERROR in r.text
    replays = _events(ctx, "security.totp_replay")
    assert replays
    assert replays[-1].actor_user_id == person.user_id


def test_five_wrong_passwords_lock_for_a_while_with_growing_waits(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    person = enrolled_person(ctx, "navigator")
    texts = {_password(client, person.username, "wrong password here").text for _ in range(5)}
    assert all(GENERIC_LOGIN_ERROR in t for t in texts)
    locked = _password(client, person.username, person.password)
    assert locked.status_code == 401
    assert GENERIC_LOGIN_ERROR in locked.text
    lock = _events(ctx, "login.locked")[-1]
    assert lock.reason == "password failures"
    assert '"minutes":5' in lock.details
    clock.advance(timedelta(minutes=5, seconds=1))
    assert _password(client, person.username, person.password).status_code == 303
    # A second lockout without a successful login in between waits longer.
    client.cookies.clear()
    for _ in range(5):
        _password(client, person.username, "wrong password here")
    assert '"minutes":15' in _events(ctx, "login.locked")[-1].details
    clock.advance(timedelta(minutes=6))
    assert _password(client, person.username, person.password).status_code == 401
    clock.advance(timedelta(minutes=10))
    assert _password(client, person.username, person.password).status_code == 303


def test_failures_outside_the_window_do_not_add_up(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    person = enrolled_person(ctx, "navigator")
    for _ in range(4):
        _password(client, person.username, "wrong password here")
    clock.advance(timedelta(minutes=16))
    for _ in range(4):
        _password(client, person.username, "wrong password here")
    assert _password(client, person.username, person.password).status_code == 303


def test_ten_wrong_codes_lock_until_an_administrator_unlocks(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    person = enrolled_person(ctx, "navigator")
    _password(client, person.username, person.password)
    for i in range(10):
        r = _code(client, "000000")
        assert GENERIC_LOGIN_ERROR in r.text, i
        if i < 9:
            assert r.status_code == 401
    # The lockout ended the half-finished login.
    assert client.get("/login/kode").headers["location"] == "/login"
    assert _user(ctx, person.user_id).needs_admin_unlock
    clock.advance(timedelta(days=2))  # time does not unlock it
    again = _password(client, person.username, person.password)
    assert again.status_code == 401
    assert GENERIC_LOGIN_ERROR in again.text

    admin = enrolled_person(ctx, "administrator")
    admin_client = TestClient(client.app, follow_redirects=False)
    token = log_in(admin_client, admin, clock)
    users = admin_client.get("/admin/brugere")
    assert "Skal låses op af en administrator" in users.text
    no_reason = admin_client.post(
        f"/admin/brugere/{person.user_id}/laas-op", data={"reason": "", "csrf_token": token}
    )
    assert no_reason.status_code in (400, 422)
    assert _user(ctx, person.user_id).needs_admin_unlock
    r = admin_client.post(
        f"/admin/brugere/{person.user_id}/laas-op",
        data={"reason": "Ringede og bekræftede sin identitet", "csrf_token": token},
    )
    assert r.status_code == 303
    unlock = _events(ctx, "user.unlocked")[-1]
    assert unlock.reason == "Ringede og bekræftede sin identitet"
    assert unlock.actor_user_id == admin.user_id
    assert '"needs_admin_unlock":true' in unlock.details
    client.cookies.clear()
    log_in(client, person, clock)


def test_unknown_user_gets_the_same_text_and_is_audited(
    ctx: AppContext, client: TestClient
) -> None:
    r = _password(client, "no-such-person", "whatever whatever")
    assert r.status_code == 401
    assert GENERIC_LOGIN_ERROR in r.text
    failure = _events(ctx, "login.password_failed")[-1]
    # What was typed is not stored (it may be a password); a keyed hash groups attempts.
    assert failure.actor_username == unknown_username_label(ctx.deps, "no-such-person")
    assert "no-such-person" not in repr(vars(failure))
    assert failure.reason == "unknown user"
    assert failure.source_ip


def test_every_failure_is_audited_with_reason_and_address(
    ctx: AppContext, client: TestClient
) -> None:
    person = enrolled_person(ctx, "navigator")
    _password(client, person.username, "wrong password here")
    _password(client, person.username, person.password)
    _code(client, "000000")
    pw = _events(ctx, "login.password_failed")[-1]
    code = _events(ctx, "login.code_failed")[-1]
    for event, reason in ((pw, "wrong password"), (code, "wrong code")):
        assert event.reason == reason
        assert event.actor_username == person.username
        assert event.source_ip == "testclient"
        assert event.outcome == "failure"


def test_recovery_code_works_once(ctx: AppContext, client: TestClient, clock: FixedClock) -> None:
    from consent_service.audit.recorder import Actor
    from consent_service.identity import login
    from consent_service.identity.models import SessionStage
    from consent_service.identity.sessions import new_session

    person = enrolled_person(ctx, "navigator")
    # Enrol afresh through the service to get recovery codes.
    with ctx.sessions() as s, s.begin():
        user = s.get(User, person.user_id)
        assert user is not None
        issued = new_session(
            s,
            ctx.identity,
            user,
            SessionStage.NEEDS_ENROLMENT,
            None,
            lifetime=timedelta(minutes=5),
        )
        secret = login.enrolment_secret(s, ctx.identity, issued.row, user)
        codes = login.confirm_enrolment(
            s,
            ctx.identity,
            Actor(),
            issued.row,
            user,
            totp.code_for_step(secret, totp.time_step(clock.now())),
        )
    _password(client, person.username, person.password)
    assert _code(client, codes[0]).headers["location"] == "/"
    client.cookies.clear()
    _password(client, person.username, person.password)
    assert _code(client, codes[0]).status_code == 401
    assert _events(ctx, "login.recovery_code_used")


def test_login_form_needs_its_csrf_token(ctx: AppContext, client: TestClient) -> None:
    person = enrolled_person(ctx, "navigator")
    client.get("/login")
    r = client.post(
        "/login",
        data={"username": person.username, "password": person.password, "csrf_token": "forged"},
    )
    assert r.status_code == 400
    assert "cs_session" not in r.cookies

"""Server-side sessions: new id at login, cookie flags, idle and absolute timeouts, logout,
CSRF on every state-changing request, security headers."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.web.cookies import SESSION_COOKIE
from tests.conftest import csrf_from, current_code, enrolled_person, log_in


def test_a_new_session_id_at_login_and_strict_cookie(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    person = enrolled_person(ctx, "navigator")
    clock.advance(timedelta(seconds=30))
    page = client.get("/login")
    r = client.post(
        "/login",
        data={
            "username": person.username,
            "password": person.password,
            "csrf_token": csrf_from(page.text),
        },
    )
    pending = r.cookies[SESSION_COOKIE]
    page = client.get("/login/kode")
    r = client.post(
        "/login/kode",
        data={"code": current_code(person, clock), "csrf_token": csrf_from(page.text)},
    )
    active = r.cookies[SESSION_COOKIE]
    assert active != pending
    header = r.headers["set-cookie"].lower()
    assert "httponly" in header
    assert "samesite=strict" in header
    # The pending token is dead once the login completed.
    fresh = TestClient(client.app, follow_redirects=False, cookies={SESSION_COOKIE: pending})
    assert fresh.get("/").status_code == 303


def test_cookies_are_secure_off_localhost(ctx: AppContext, client: TestClient) -> None:
    ctx.settings = ctx.settings.model_copy(update={"host": "0.0.0.0"})  # noqa: S104
    assert "secure" in client.get("/login").headers["set-cookie"].lower()


def test_idle_timeout(ctx: AppContext, client: TestClient, clock: FixedClock) -> None:
    person = enrolled_person(ctx, "navigator")
    log_in(client, person, clock)
    clock.advance(timedelta(minutes=14))
    assert client.get("/").status_code == 200  # activity resets the idle timer
    clock.advance(timedelta(minutes=14))
    assert client.get("/").status_code == 200
    clock.advance(timedelta(minutes=15, seconds=1))
    r = client.get("/")
    assert r.headers["location"] == "/login?udloebet=1"
    clock.advance(timedelta(seconds=1))
    assert client.get("/").headers["location"] == "/login"  # ended, not revived


def test_absolute_timeout(ctx: AppContext, client: TestClient, clock: FixedClock) -> None:
    person = enrolled_person(ctx, "navigator")
    log_in(client, person, clock)
    for _ in range(8 * 60 // 10 - 1):
        clock.advance(timedelta(minutes=10))
        assert client.get("/api/v1/me").status_code == 200
    clock.advance(timedelta(minutes=10, seconds=1))
    assert client.get("/api/v1/me").status_code == 401


def test_logout_ends_the_session_server_side(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    person = enrolled_person(ctx, "navigator")
    token = log_in(client, person, clock)
    cookie = client.cookies[SESSION_COOKIE]
    assert client.post("/logout", data={"csrf_token": token}).headers["location"] == "/login"
    replay = TestClient(client.app, follow_redirects=False, cookies={SESSION_COOKIE: cookie})
    assert replay.get("/api/v1/me").status_code == 401


def test_state_changes_need_the_csrf_token(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator")
    token = log_in(client, admin, clock)
    form = {"username": "ole", "display_name": "Ole", "role": "navigator"}
    assert client.post("/admin/brugere", data=form).status_code == 403
    assert client.post("/admin/brugere", data=form | {"csrf_token": "x" * 32}).status_code == 403
    assert client.post("/logout").status_code == 403
    ok = client.post("/admin/brugere", data=form, headers={"X-CSRF-Token": token})
    assert ok.status_code == 303  # a proposal, for a data controller to approve


def test_security_headers(ctx: AppContext, client: TestClient, clock: FixedClock) -> None:
    person = enrolled_person(ctx, "navigator")
    log_in(client, person, clock)
    r = client.get("/")
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-request-id"]


def test_the_content_security_policy_allows_no_inline_script_or_style(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    """Scripts and styles come from the service's own files only (the design system's
    included): ``script-src 'self'``, nothing ``unsafe-*``, and no page carries an inline
    script, an event handler attribute or a style attribute the policy would block."""
    pages = {"/login": client.get("/login")}
    log_in(client, enrolled_person(ctx, "dpo"), clock)
    for path in ("/", "/dpo", "/dpo/log", "/konto", "/findes-ikke"):
        pages[path] = client.get(path)
    for path, r in pages.items():
        csp = r.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
        assert directives["script-src"] == "'self'", path
        assert directives["style-src"] == "'self'", path
        assert "unsafe" not in csp, path
        assert "'nonce-" not in csp, path
        html = r.text
        assert "<script>" not in html, path  # every script has a src on this origin
        for tag in html.split("<script")[1:]:
            assert tag.lstrip().startswith('src="/static/'), (path, tag[:60])
        assert " style=" not in html, path
        assert " onclick=" not in html.lower(), path
        assert "javascript:" not in html.lower(), path

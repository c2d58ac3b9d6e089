"""The login flows in a real browser: first login with TOTP enrolment, a normal login,
lockouts and an administrator's unlock, and logout. Each test runs on SQLite and PostgreSQL
(through ``ctx``); the server reads the test's FixedClock, so codes are computed here."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.identity import totp
from consent_service.identity.login_endpoints import GENERIC_LOGIN_ERROR
from tests.conftest import Person, current_code, enrolled_person

NEW_PASSPHRASE = "blå cykler kører stille gennem Grenaa om morgenen"
TIME_STEP = timedelta(seconds=totp.PERIOD)
SESSION_COOKIE = "cs_session"
SCREENSHOT_DIR = os.environ.get("CONSENT_SCREENSHOT_DIR")  # set to look at the pages


def submit_password(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.get_by_role("button", name="Næste").click()


def submit_code(page: Page, code: str) -> None:
    page.fill("#code", code)
    page.get_by_role("button", name="Log ind").click()


def log_in(page: Page, base: str, person: Person, clock: FixedClock) -> None:
    """Password, then a code from a fresh time step (each code works once)."""
    submit_password(page, base, person.username, person.password)
    expect(page).to_have_url(f"{base}/login/kode")
    clock.advance(TIME_STEP)
    submit_code(page, current_code(person, clock))
    expect(page).to_have_url(f"{base}/")
    expect(page.locator("h1")).to_have_text("Velkommen, Test " + person.role)


def log_out(page: Page, base: str) -> None:
    page.click("#logout")
    expect(page).to_have_url(f"{base}/login")


def wrong_code(person: Person, clock: FixedClock) -> str:
    """A six-digit code that no step near now accepts."""
    now = totp.time_step(clock.now())
    near = {totp.code_for_step(person.secret, s) for s in range(now - 2, now + 3)}
    return next(c for c in (f"{d}" * 6 for d in range(10)) if c not in near)


def expect_generic_error(page: Page) -> None:
    expect(page.get_by_role("alert")).to_contain_text(GENERIC_LOGIN_ERROR)


def test_first_login_enrols_totp(
    page: Page, live_server: str, ctx: AppContext, clock: FixedClock
) -> None:
    base = live_server
    admin = enrolled_person(ctx, "administrator")
    log_in(page, base, admin, clock)
    page.goto(f"{base}/admin/brugere")
    # A role that reads no citizens' data: no second person (tests/api/test_access_proposals.py).
    page.fill("#new-username", "ny.admin")
    page.fill("#new-display_name", "Ny Administrator")
    page.select_option("#new-role", "administrator")
    page.get_by_role("button", name="Opret").click()
    expect(page.locator("h1")).to_have_text("Bruger oprettet")
    one_time_password = page.locator("#one-time-password").inner_text().strip()
    assert one_time_password
    log_out(page, base)

    submit_password(page, base, "ny.admin", one_time_password)
    expect(page).to_have_url(f"{base}/login/ny-adgangskode")
    page.fill("#new_password", NEW_PASSPHRASE)
    page.fill("#repeat_password", NEW_PASSPHRASE)
    page.get_by_role("button", name="Gem adgangskode").click()

    expect(page).to_have_url(f"{base}/login/tilmeld")
    expect(page.locator(".qr svg")).to_be_visible()
    if SCREENSHOT_DIR:
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / "enrol.png"), full_page=True)
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert len(secret) == 32
    clock.advance(TIME_STEP)
    page.fill("#code", totp.code_for_step(secret, totp.time_step(clock.now())))
    page.get_by_role("button", name="Bekræft").click()

    codes = page.locator("#recovery-codes li")
    expect(codes.first).to_be_visible()
    assert codes.count() >= 5
    page.get_by_role("button", name="Jeg har gemt koderne – fortsæt").click()
    expect(page).to_have_url(f"{base}/")
    expect(page.locator("h1")).to_have_text("Velkommen, Ny Administrator")


def test_normal_login_needs_password_then_code(
    page: Page, live_server: str, ctx: AppContext, clock: FixedClock
) -> None:
    base = live_server
    navigator = enrolled_person(ctx, "navigator")
    submit_password(page, base, navigator.username, navigator.password)
    expect(page).to_have_url(f"{base}/login/kode")
    expect(page.locator("#code")).to_be_visible()

    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/login")

    log_in(page, base, navigator, clock)


def test_lockouts_and_administrator_unlock(
    page: Page,
    new_page: Callable[[], Page],
    live_server: str,
    ctx: AppContext,
    clock: FixedClock,
) -> None:
    base = live_server
    guessed = enrolled_person(ctx, "navigator")
    for _ in range(ctx.settings.password_failure_limit):
        submit_password(page, base, guessed.username, "forkert adgangskode igen")
        expect_generic_error(page)
    submit_password(page, base, guessed.username, guessed.password)
    expect(page).to_have_url(f"{base}/login")
    expect_generic_error(page)

    coded = enrolled_person(ctx, "navigator")
    user_page = new_page()
    submit_password(user_page, base, coded.username, coded.password)
    expect(user_page).to_have_url(f"{base}/login/kode")
    for attempt in range(1, ctx.settings.code_failure_limit + 1):
        clock.advance(TIME_STEP)
        submit_code(user_page, wrong_code(coded, clock))
        expect_generic_error(user_page)
        if attempt < ctx.settings.code_failure_limit:
            expect(user_page.locator("#code")).to_be_visible()
    expect(user_page.locator("#username")).to_be_visible()

    # Locked until an administrator unlocks: the right password no longer leads anywhere.
    clock.advance(timedelta(hours=1))
    submit_password(user_page, base, coded.username, coded.password)
    expect(user_page).to_have_url(f"{base}/login")
    expect_generic_error(user_page)

    admin = enrolled_person(ctx, "administrator")
    admin_page = new_page()
    log_in(admin_page, base, admin, clock)
    admin_page.goto(f"{base}/admin/brugere")
    row = admin_page.locator(f"#user-{coded.username}")
    expect(row).to_contain_text("Skal låses op af en administrator")
    row.locator(f"#unlock-{coded.user_id}-reason").fill(
        "Ringede selv; identitet bekræftet over telefon"
    )
    row.get_by_role("button", name="Lås op").click()
    expect(admin_page).to_have_url(f"{base}/admin/brugere?besked=user-unlocked")
    expect(admin_page.locator(f"#user-{coded.username}")).to_contain_text("Aktiv")

    log_in(user_page, base, coded, clock)


def test_logout_ends_the_session(
    page: Page,
    new_page: Callable[[], Page],
    live_server: str,
    ctx: AppContext,
    clock: FixedClock,
) -> None:
    base = live_server
    navigator = enrolled_person(ctx, "navigator")
    log_in(page, base, navigator, clock)
    cookie = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)

    before = new_page()
    before.context.add_cookies([{"name": SESSION_COOKIE, "value": cookie["value"], "url": base}])
    before.goto(f"{base}/")
    expect(before.locator("h1")).to_have_text("Velkommen, Test navigator")

    log_out(page, base)
    page.go_back()
    expect(page).to_have_url(f"{base}/login")
    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/login")

    after = new_page()
    after.context.add_cookies([{"name": SESSION_COOKIE, "value": cookie["value"], "url": base}])
    after.goto(f"{base}/")
    expect(after).to_have_url(f"{base}/login")

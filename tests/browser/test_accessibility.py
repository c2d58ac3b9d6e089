"""Accessibility in a real browser (WCAG 2.1 AA, which Danish public bodies must meet).

Each role logs in and opens every page of its menu, plus the login and code pages, the
404 page and a citizen page with a consent. On each page axe-core (bundled with
``axe-playwright-python``, no download) must find no ``serious`` or ``critical``
violation; the skip link leads to ``#main-content``; the open page's menu link carries
``aria-current="page"``; and the page does not scroll sideways at 1280 px nor at 390 px
(a phone). A form sent with a mistake comes back with the focus on its error summary.

The pages are listed here, not read from the menu, so a page nobody checked cannot slip in:
``test_every_menu_page_is_listed`` compares the list with the menu each role sees.
Runs on SQLite and PostgreSQL (through ``ctx``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, Response, expect

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from tests.browser.conftest import NAVIGATION_TIMEOUT_MS
from tests.browser.test_login_flows import log_in, submit_password
from tests.conftest import enrolled_person
from tests.pages import PAGES, Visit, seeded_citizen

SCREENSHOT_DIR = os.environ.get("CONSENT_SCREENSHOT_DIR")  # set to look at the pages
WIDE = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
BLOCKING = ("serious", "critical")
AXE = Axe()


def _violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on ``page``: rule id, target, help."""
    results = AXE.run(page)
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        for node in violation["nodes"]:
            target = ", ".join(str(t) for t in node["target"])
            found.append(
                f"{violation['id']} ({violation['impact']}) at {target}: {violation['help']}"
            )
    return found


def _scroll_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def _shot(page: Page, name: str) -> None:
    if SCREENSHOT_DIR:
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}.png"), full_page=True)


def check_page(
    page: Page, url: str, name: str, *, menu_href: str | None = None, status: int = 200
) -> list[str]:
    """Open ``url`` at 1280 px and at 390 px; returns every problem found (empty if none):
    also a console error (a blocked script, style or font under the CSP) or a script error,
    and a design-system file that did not load."""
    problems: list[str] = []
    console: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console.append(message.text)

    def on_error(error: Error) -> None:
        console.append(str(error))

    def on_response(response: Response) -> None:
        if "/static/" in response.url and response.status >= 400:
            console.append(f"{response.url} answered {response.status}")

    page.on("console", on_console)
    page.on("pageerror", on_error)
    page.on("response", on_response)
    for label, size in (("1280", WIDE), ("390", PHONE)):
        page.set_viewport_size(size)
        response = page.goto(url)
        assert response is not None
        if response.status != status:
            problems.append(f"{name}: status {response.status}, expected {status}")
        width = _scroll_width(page)
        if width > size["width"]:
            problems.append(f"{name}: scrolls sideways at {label} px ({width} px wide)")
        _shot(page, f"{name}-{label}")
    page.set_viewport_size(WIDE)
    page.goto(url)
    page.remove_listener("console", on_console)
    page.remove_listener("pageerror", on_error)
    page.remove_listener("response", on_response)
    # A 4xx page answers with an error status, which Chromium logs; that is not a problem.
    problems += [f"{name}: console: {text}" for text in console if "status of" not in text]
    problems += [f"{name}: {v}" for v in _violations(page)]
    skip = page.locator("a.skipnav")
    if skip.count() != 1 or skip.get_attribute("href") != "#main-content":
        problems.append(f"{name}: no skip link to #main-content")
    if page.locator("#main-content").count() != 1:
        problems.append(f"{name}: no <main id=main-content>")
    if menu_href is not None:
        current = page.locator('.navigation-menu a[aria-current="page"]')
        hrefs = [current.nth(i).get_attribute("href") for i in range(current.count())]
        if hrefs != [menu_href]:
            problems.append(f"{name}: aria-current='page' on {hrefs}, expected [{menu_href}]")
    return problems


def _slug(path: str) -> str:
    return path.strip("/").replace("/", "-").replace("{citizen}", "borger") or "forside"


def _role_pages() -> list[object]:
    return [
        pytest.param(
            role,
            visit,
            id=f"{role}-{_slug(visit.path)}",
            marks=[pytest.mark.xfail(strict=True, reason=visit.fails)] if visit.fails else [],
        )
        for role, visits in PAGES.items()
        for visit in visits
    ]


@pytest.mark.parametrize(("role", "visit"), _role_pages())
def test_every_page_of_a_role_is_accessible(
    role: str, visit: Visit, page: Page, live_server: str, ctx: AppContext, clock: FixedClock
) -> None:
    citizen = seeded_citizen(ctx, clock) if "{citizen}" in visit.path else ""
    log_in(page, live_server, enrolled_person(ctx, role), clock)
    path = visit.path.format(citizen=citizen)
    problems = check_page(
        page,
        live_server + path,
        f"{role}-{_slug(visit.path)}",
        menu_href=path if visit.in_menu else None,
    )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", list(PAGES))
def test_every_menu_page_is_listed(
    role: str, page: Page, live_server: str, ctx: AppContext, clock: FixedClock
) -> None:
    person = enrolled_person(ctx, role)
    log_in(page, live_server, person, clock)
    links = page.locator(".navigation-menu a.nav-link")
    menu = [links.nth(i).get_attribute("href") for i in range(links.count())]
    listed = [visit.path for visit in PAGES[role] if visit.in_menu]
    assert menu == listed


def test_pages_before_login_and_errors_are_accessible(
    page: Page, live_server: str, ctx: AppContext, clock: FixedClock
) -> None:
    problems = check_page(page, f"{live_server}/login", "login")
    problems += check_page(page, f"{live_server}/findes-ikke", "error-404", status=404)
    person = enrolled_person(ctx, "navigator")
    submit_password(page, live_server, person.username, person.password)
    expect(page).to_have_url(f"{live_server}/login/kode")
    problems += check_page(page, f"{live_server}/login/kode", "code")
    assert not problems, "\n".join(problems)


def _focused_id(page: Page) -> str:
    return str(page.evaluate("document.activeElement ? document.activeElement.id : ''"))


def test_a_form_error_puts_the_focus_on_the_error_summary(
    page: Page, live_server: str, ctx: AppContext, clock: FixedClock
) -> None:
    # Login: a wrong password.
    submit_password(page, live_server, "ingen.bruger", "forkert adgangssætning her")
    expect(page.locator(".alert-error")).to_be_visible()
    assert _focused_id(page).endswith("error-summary"), _focused_id(page)
    # A navigator's form: a new citizen with a CPR number that cannot exist.
    navigator = enrolled_person(ctx, "navigator")
    clock.advance(timedelta(seconds=30))
    log_in(page, live_server, navigator, clock)
    page.goto(f"{live_server}/borgere/ny")
    page.fill("#cpr", "300299-1234")
    page.fill("#name", "Åse Ærø")
    page.get_by_role("button", name="Registrér").click()
    expect(page.locator(".alert-error")).to_be_visible()
    assert _focused_id(page).endswith("error-summary"), _focused_id(page)
    assert not _violations(page)


def test_an_administrators_typo_keeps_the_form_and_says_what_to_fix(
    page: Page, live_server: str, ctx: AppContext, clock: FixedClock
) -> None:
    log_in(page, live_server, enrolled_person(ctx, "administrator"), clock)
    page.goto(f"{live_server}/admin/brugere")
    page.fill("#new-username", "ny bruger!")
    page.fill("#new-display_name", "Ny Navigatør")
    page.select_option("#new-role", "administrator")
    page.get_by_role("button", name="Opret").click()
    summary = page.locator("#new-error-summary")
    expect(summary).to_be_visible()
    assert _focused_id(page) == "new-error-summary"
    expect(page.locator("#new-display_name")).to_have_value("Ny Navigatør")
    expect(page.locator("#new-username")).to_have_attribute("aria-invalid", "true")
    # The summary's link leads to the field.
    summary.get_by_role("link").click()
    assert _focused_id(page) == "new-username"
    assert not _violations(page)


def test_the_menu_is_reachable_on_a_phone_with_and_without_script(
    browser: Browser, live_server: str, ctx: AppContext, clock: FixedClock
) -> None:
    person = enrolled_person(ctx, "dpo")
    for scripted in (True, False):
        context = browser.new_context(locale="da-DK", viewport=PHONE, java_script_enabled=scripted)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        try:
            phone = context.new_page()
            clock.advance(timedelta(seconds=30))
            log_in(phone, live_server, person, clock)
            log_link = phone.get_by_role("link", name="Log", exact=True)
            if scripted:
                # DKFDS's drawer: hidden until the "Menu" button opens it.
                expect(log_link).to_have_count(0)
                phone.get_by_role("button", name="Menu").click()
                expect(phone.locator(".mobile-drawer")).to_be_visible()
            else:
                expect(phone.get_by_role("button", name="Menu")).to_be_hidden()
            expect(log_link).to_be_visible()
            _shot(phone, f"phone-menu-{'script' if scripted else 'noscript'}")
            log_link.click()
            expect(phone).to_have_url(f"{live_server}/dpo/log")
        finally:
            context.close()

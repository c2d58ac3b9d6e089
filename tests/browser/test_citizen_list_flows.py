"""A navigator in a real browser finds a citizen by part of a name without the Danish
letters, corrects the name (a missing reason first: the form comes back with what she
typed), and sees the history; each page passes axe-core with no serious or critical
violation, and the list fits at 1280 px and collapses on a phone. Runs on SQLite and
PostgreSQL (through ``ctx``)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from tests.browser.test_login_flows import log_in
from tests.conftest import enrolled_person
from tests.factories import synthetic_cpr

AXE = Axe()
SCREENSHOT_DIR = os.environ.get("CONSENT_SCREENSHOT_DIR")


def screenshot(page: Page, name: str) -> None:
    if SCREENSHOT_DIR:
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}.png"), full_page=True)


def assert_accessible(page: Page) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    violations = AXE.run(page).response["violations"]
    grave = [
        (v["id"], [n["target"] for n in v["nodes"]])
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
    assert not grave, grave


def register(page: Page, base: str, name: str, cpr: str) -> None:
    page.goto(f"{base}/borgere/ny")
    page.fill("#cpr", cpr)
    page.fill("#name", name)
    page.fill("#gp_clinic", "Lægehuset Grenaa")
    page.get_by_role("button", name="Registrér").click()
    expect(page.locator("h1")).to_have_text(name)


def test_navigator_finds_and_corrects_a_citizen(
    ctx: AppContext, clock: FixedClock, live_server: str, page: Page
) -> None:
    base = live_server
    log_in(page, base, enrolled_person(ctx, "navigator"), clock)
    register(page, base, "Åse Aaberg", synthetic_cpr(date(1961, 4, 17), 1))
    register(page, base, "Søren Østergård", synthetic_cpr(date(1955, 8, 2), 2))

    page.goto(f"{base}/borgere")
    expect(page.locator("#citizens tbody tr")).to_have_count(2)
    assert_accessible(page)
    page.fill("#q", "ostergaard")
    page.click("#search-button")
    expect(page.locator("#citizens tbody tr")).to_have_count(1)
    expect(page.locator("#citizens")).to_contain_text("Søren Østergård")
    assert "ostergaard" not in page.url
    assert_accessible(page)
    screenshot(page, "citizen-search")
    # The table fits at 1280 px, and on a phone each cell carries its column's name.
    page.set_viewport_size({"width": 1280, "height": 900})
    fits = page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert fits
    page.set_viewport_size({"width": 375, "height": 800})
    fits = page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert fits
    screenshot(page, "citizen-search-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.fill("#q", "aaberg")
    page.click("#search-button")
    page.get_by_role("link", name="Åse Aaberg").click()
    page.click("#correct-link")
    assert_accessible(page)
    page.fill("#name", "Åse Åberg")
    page.click("#save-correction")  # no reason yet
    expect(page.locator("#error-summary")).to_contain_text("Skriv en begrundelse for rettelsen.")
    expect(page.locator("#name")).to_have_value("Åse Åberg")  # kept
    expect(page.locator("#reason")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    screenshot(page, "citizen-correction-error")
    page.fill("#reason", "Navnet var stavet forkert")
    page.click("#save-correction")
    expect(page.locator("h1")).to_have_text("Åse Åberg")
    expect(page.locator("#citizen-changes")).to_contain_text("Åse Aaberg")
    expect(page.locator("#citizen-changes")).to_contain_text("Navnet var stavet forkert")
    assert_accessible(page)
    screenshot(page, "citizen-history")

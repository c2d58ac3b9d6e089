"""The legal adviser's path in a browser: the menu's Regelsamling, the scenarios grouped by
law, a sign-off without a comment (kept, with the error summary), then with a comment and
a fresh code; axe-core finds no serious or critical violation on the way."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from tests.browser.test_accessibility import _shot, _violations
from tests.browser.test_login_flows import TIME_STEP, log_in
from tests.conftest import current_code, enrolled_person


def _axe(page: Page, name: str) -> None:
    _shot(page, "rulebook-" + name.replace(" ", "-"))  # with CONSENT_SCREENSHOT_DIR set
    found = _violations(page)
    assert not found, f"{name}: " + "\n".join(found)


def test_the_legal_adviser_reads_the_rules_and_signs_them_off(
    page: Page, live_server: str, ctx: AppContext, clock: FixedClock
) -> None:
    jurist = enrolled_person(ctx, "legal_adviser")
    log_in(page, live_server, jurist, clock)
    expect(page.locator("#rulebook-unsigned")).to_be_visible()
    page.get_by_role("link", name="Regelsamling").first.click()
    expect(page.locator("h1")).to_have_text("Regelsamling")
    expect(page.locator("#lov-sundhedsloven_44 h2")).to_have_text("Sundhedsloven § 44")
    expect(page.locator("#regel-udtraek h3")).to_contain_text("Udtræk af registerdata")
    expect(page.locator("#never-approved")).to_be_visible()
    _axe(page, "read")

    page.get_by_role("button", name="Godkend regelsamlingen").click()
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#comment-error")).to_contain_text("Skriv en kommentar")
    _axe(page, "with errors")

    page.fill("#comment", "Gennemgået mod sundhedsloven og forordningen.")
    clock.advance(TIME_STEP)
    page.fill("#code", current_code(jurist, clock))
    page.get_by_role("button", name="Godkend regelsamlingen").click()
    expect(page.locator("#notice")).to_contain_text("Regelsamlingen er godkendt")
    expect(page.locator("#in-force")).to_be_visible()
    expect(page.locator("#approved-by")).to_contain_text("Test legal_adviser")
    _axe(page, "approved")

"""A referrer in a real browser: sends a referral with the form (a typo first, which
keeps everything typed; then a missing criterion, which warns), sees it under "Mine
henvisninger"; the navigator finds it on her worklist with the phone number and marks it
contacted. Each page on the way is checked with axe-core (no serious or critical finding).
Runs on SQLite and PostgreSQL (through ``ctx``)."""

from __future__ import annotations

from datetime import date

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from tests.browser.test_login_flows import log_in
from tests.conftest import enrolled_person
from tests.factories import synthetic_cpr

AXE = Axe()
BLOCKING = {"serious", "critical"}
NAME = "Åse Ærø"
PHONE = "+45 86 12 34 56"


def assert_accessible(page: Page) -> None:
    """axe-core finds nothing serious or critical on the page as it is now."""
    found = [
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(map(str, n['target']))}"
        for v in AXE.run(page).response["violations"]
        if v["impact"] in BLOCKING
        for n in v["nodes"]
    ]
    assert found == [], f"{page.url}: {found}"


def test_referrer_sends_and_navigator_calls(
    ctx: AppContext, clock: FixedClock, live_server: str, page: Page, new_page: object
) -> None:
    base = live_server
    log_in(page, base, enrolled_person(ctx, "referrer"), clock)
    page.get_by_role("link", name="Henvis en borger").click()
    expect(page).to_have_url(f"{base}/henvis")
    expect(page.locator("#referred_on")).to_have_value("2026-11-23")
    assert_accessible(page)

    cpr = synthetic_cpr(date(1958, 3, 9))
    page.fill("#cpr", cpr[:6] + "-12")  # a typo: too short
    page.fill("#name", NAME)
    page.fill("#phone", PHONE)
    page.fill("#gp_clinic", "Lægehuset Grenaa")
    page.select_option("#referrer_kind", "midwife")
    page.get_by_label("Bor i Norddjurs eller har læge i Norddjurs").check()
    page.get_by_role("button", name="Send henvisning").click()

    # The same page, the error at the top and beside the field, everything kept.
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("CPR-nummeret")
    expect(page.locator("#cpr")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#name")).to_have_value(NAME)
    expect(page.locator("#phone")).to_have_value(PHONE)
    expect(page.locator("#gp_clinic")).to_have_value("Lægehuset Grenaa")
    expect(page.locator("#referrer_kind")).to_have_value("midwife")
    expect(page.get_by_label("Bor i Norddjurs eller har læge i Norddjurs")).to_be_checked()
    expect(page.get_by_label("Kan kontaktes på telefon eller e-mail")).not_to_be_checked()
    assert_accessible(page)

    # Fixed; the unticked criterion warns before anything is sent.
    page.fill("#cpr", cpr)
    page.get_by_role("button", name="Send henvisning").click()
    expect(page.locator("#referral-warnings")).to_contain_text("kontaktes på telefon")
    expect(page.locator("#cpr")).to_have_value(cpr)
    assert_accessible(page)
    page.get_by_label("Kan kontaktes på telefon eller e-mail").check()
    page.get_by_role("button", name="Send med rettelserne").click()

    expect(page).to_have_url(f"{base}/mine-henvisninger?besked=referral-sent")
    expect(page.get_by_text("Henvisningen er sendt.")).to_be_visible()
    mine = page.locator("#my-referrals")
    expect(mine).to_contain_text("Jordemoder")
    expect(mine).to_contain_text("Modtaget")
    expect(mine).not_to_contain_text(NAME)
    assert_accessible(page)

    # The navigator: on the worklist at once, with the phone number; "Kontaktet".
    nav = new_page()  # type: ignore[operator]
    log_in(nav, base, enrolled_person(ctx, "navigator"), clock)
    nav.get_by_role("link", name="Arbejdsliste").first.click()
    row = nav.locator("#new-referrals tbody tr").first
    expect(row).to_contain_text(NAME)
    expect(row).to_contain_text(PHONE)
    assert_accessible(nav)
    row.get_by_text("Markér som kontaktet").click()
    row.get_by_label("Kort note").fill("Aftalt møde torsdag")
    row.get_by_role("button", name="Kontaktet").click()
    expect(nav.get_by_text("Henvisningen er markeret som kontaktet.")).to_be_visible()
    expect(nav.locator("#new-referrals-empty")).to_be_visible()
    assert_accessible(nav)

    page.reload()
    expect(page.locator("#my-referrals")).to_contain_text("Kontaktet")

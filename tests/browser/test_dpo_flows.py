"""The DPO's path in Chromium (issue 16, "how we will check it"): read the log in Danish
local time in a 1,280 px window without sideways scrolling, download a CSV of a filter,
and find a register extract in a citizen's access report, with axe on each page."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from tests.api.test_dpo_pages import executed_extract
from tests.browser.test_accessibility import WIDE, _violations
from tests.browser.test_login_flows import log_in
from tests.conftest import enrolled_person

LOCAL_TIME = re.compile(r"\d\d-\d\d-\d{4} kl\. \d\d:\d\d:\d\d \((CET|CEST)\)")


def _fits(page: Page) -> None:
    width = int(page.evaluate("document.documentElement.scrollWidth"))
    assert width <= WIDE["width"], f"{page.url} is {width} px wide"


def test_the_dpo_reads_the_log_exports_a_filter_and_finds_an_extract(
    page: Page, live_server: str, ctx: AppContext, clock: FixedClock
) -> None:
    included_cpr, _excluded, extract_id = executed_extract(ctx, clock)
    dpo = enrolled_person(ctx, "dpo")
    page.set_viewport_size(WIDE)
    log_in(page, live_server, dpo, clock)

    page.goto(f"{live_server}/dpo/log")
    first = page.locator("#log tbody tr").first
    expect(first.locator("td").first).to_have_text(LOCAL_TIME)
    assert page.locator('#log td[data-action="access.allowed"]').count() == 0
    _fits(page)
    assert _violations(page) == []

    page.select_option("#handling", "extract.executed")
    page.click("#log-filter button[type=submit]")
    expect(page.locator("#log tbody tr")).to_have_count(1)
    expect(page.locator("#log tbody")).to_contain_text("Test data_controller")
    _fits(page)
    with page.expect_download() as info:
        page.click("#csv")
    data = open(info.value.path(), "rb").read()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Nr.;Tidspunkt;Bruger;Handling;Udfald")
    assert len(lines) == 2
    assert LOCAL_TIME.search(lines[1])

    page.goto(f"{live_server}/dpo/indsigt")
    page.fill("#cpr", included_cpr)
    page.select_option("#version", "borger")
    page.click("main form button[type=submit]")
    row = page.locator(f'tr[data-extract="{extract_id}"]')
    expect(row).to_contain_text("Region Midtjylland")
    expect(row).to_contain_text("Betalingsmål 1, regionalt")
    assert included_cpr not in page.url
    _fits(page)
    assert _violations(page) == []


def test_a_bad_date_in_the_browser_keeps_the_filter_and_points_at_the_field(
    page: Page, live_server: str, ctx: AppContext, clock: FixedClock
) -> None:
    dpo = enrolled_person(ctx, "dpo")
    page.set_viewport_size(WIDE)
    log_in(page, live_server, dpo, clock)
    page.goto(f"{live_server}/dpo/log")
    page.fill("#fra", "")
    page.evaluate("document.getElementById('fra').type = 'text'")
    page.fill("#fra", "32-13-2026")
    page.fill("#anmodning", "abc")
    page.click("#log-filter button[type=submit]")
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#fra-error")).to_contain_text("Datoen findes ikke")
    expect(page.locator("#fra")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#anmodning")).to_have_value("abc")
    _fits(page)
    assert _violations(page) == []

"""A navigator in a real browser: registers a referred citizen, prints both consent forms,
records them signed with a scan, and sees both consents given. Runs on SQLite and
PostgreSQL (through ``ctx``)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from playwright.sync_api import Page, expect

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from tests.browser.test_login_flows import log_in
from tests.conftest import enrolled_person
from tests.factories import synthetic_cpr, tiny_png

NAME = "Ayşe Yılmaz"
SCREENSHOT_DIR = os.environ.get("CONSENT_SCREENSHOT_DIR")


def register_citizen(page: Page, base: str, cpr: str) -> None:
    page.goto(f"{base}/borgere/ny")
    page.fill("#cpr", cpr)
    page.fill("#name", NAME)
    page.fill("#phone", "+45 12 34 56 78")
    page.fill("#gp_clinic", "Lægehuset Grenaa")
    page.get_by_role("button", name="Registrér").click()
    expect(page.locator("h1")).to_have_text(NAME)


def refer(page: Page) -> None:
    page.select_option("#henvisning-referrer_kind", "gp")
    page.fill("#henvisning-clinic", "Lægehuset Grenaa")
    page.fill("#henvisning-course_start_on", "2026-12-01")
    page.get_by_label("Bor i Norddjurs eller har læge i Norddjurs").check()
    page.get_by_label("Kan kontaktes på telefon eller e-mail").check()
    page.get_by_role("button", name="Gem henvisning").click()
    expect(page.locator("#referrals")).to_contain_text("Hold 2")


def print_and_record(page: Page, kind: str) -> None:
    citizen_url = page.url
    # The form opens inline (for printing, not left in a downloads folder).
    with page.expect_response(lambda r: r.url.endswith(f"/samtykke/{kind}/udskriv")) as printed:
        page.click(f"#print-{kind}")
    response = printed.value
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    # Chromium hands an inline PDF to its viewer, so the bytes are checked in the API and
    # PDF tests; here the browser gets the form and its id.
    assert response.headers["content-disposition"].startswith("inline;")
    form_id = response.headers["content-disposition"].split("-")[-1].removesuffix('.pdf"')

    page.goto(citizen_url)  # the printed form is now open for recording
    expect(page.locator(f"#form-{kind}")).to_contain_text(form_id)
    page.set_input_files(
        f"#scan-{kind}", files=[{"name": "scan.png", "mimeType": "image/png", "buffer": tiny_png()}]
    )
    page.click(f"#record-{kind}")


def test_navigator_prints_and_records_both_consents(
    page: Page, live_server: str, ctx: AppContext, clock: FixedClock
) -> None:
    navigator = enrolled_person(ctx, "navigator")
    log_in(page, live_server, navigator, clock)
    register_citizen(page, live_server, synthetic_cpr(date(1958, 7, 3)))
    refer(page)

    print_and_record(page, "journal")
    expect(page.locator(".state-given")).to_have_count(1)
    print_and_record(page, "wellbeing")
    expect(page.locator(".state-given")).to_have_count(2)
    expect(page.get_by_text("Ikke bekræftet endnu", exact=False)).to_be_visible()

    page.get_by_role("button", name="Bekræft journalnotat").click()
    expect(page.get_by_text("Ikke bekræftet endnu", exact=False)).to_have_count(0)
    if SCREENSHOT_DIR:
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / "citizen-consents.png"), full_page=True)

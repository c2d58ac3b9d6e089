"""A navigator in a real browser: registers a referred citizen, prints consent forms,
uploads scans whose QR codes pick the form (after a wrong file that keeps the form),
confirms the journal note, and withdraws with a confirmation step; axe-core finds nothing
serious on the pages on the way. Runs on SQLite and PostgreSQL (through ``ctx``)."""

from __future__ import annotations

import io
import os
from datetime import date, timedelta
from pathlib import Path

import pypdfium2
from playwright.sync_api import Page, expect

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from tests.browser.test_login_flows import log_in
from tests.browser.test_referrer_form import assert_accessible
from tests.conftest import enrolled_person
from tests.factories import synthetic_cpr

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


def rendered_scan(pdf: bytes) -> bytes:
    """The printed PDF's first page as a PNG, as a scanner would deliver it."""
    image = pypdfium2.PdfDocument(pdf)[0].render(scale=150 / 72, grayscale=True).to_pil()
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def print_form(page: Page, base: str, kind: str) -> tuple[str, bytes]:
    """Print a form of ``kind`` (it opens inline, for printing); then fetch the stored PDF
    again through the page's "Hent udskriften igen" route, byte for byte. Back on the
    citizen's page afterwards."""
    citizen_url = page.url.split("?")[0]
    with page.expect_response(lambda r: r.url.endswith(f"/samtykke/{kind}/udskriv")) as printed:
        page.click(f"#print-{kind}")
    response = printed.value
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline;")
    form_id = response.headers["content-disposition"].split("-")[-1].removesuffix('.pdf"')
    page.goto(citizen_url)
    again = page.request.get(f"{citizen_url}/blanketter/{form_id}")
    assert again.status == 200
    return form_id, again.body()


def upload_scan(page: Page, kind: str, scan: bytes, name: str = "scan.png") -> None:
    mime = "image/png" if name.endswith(".png") else "application/octet-stream"
    page.set_input_files(
        f"#{kind}-record-scan", files=[{"name": name, "mimeType": mime, "buffer": scan}]
    )
    page.click(f"#record-{kind}")


def print_and_record(page: Page, kind: str) -> None:
    base = page.url.split("/borgere/")[0]
    _, pdf = print_form(page, base, kind)
    upload_scan(page, kind, rendered_scan(pdf))
    expect(page.get_by_text("Samtykket er registreret")).to_be_visible()


def test_navigator_prints_and_records_both_consents(
    page: Page, live_server: str, ctx: AppContext, clock: FixedClock
) -> None:
    navigator = enrolled_person(ctx, "navigator")
    log_in(page, live_server, navigator, clock)
    register_citizen(page, live_server, synthetic_cpr(date(1958, 7, 3)))
    refer(page)

    # Two journal forms printed: the newest is preselected, but the scan's QR code decides.
    first_id, first_pdf = print_form(page, live_server, "journal")
    newest_id, _ = print_form(page, live_server, "journal")
    expect(page.locator("#journal-record-form_id")).to_have_value(newest_id)
    expect(page.locator("#open-forms-journal")).to_contain_text("Blanketkode")
    expect(page.locator("#open-forms-journal")).not_to_contain_text(first_id)

    # A wrong file type keeps the form and says what to fix, on the citizen's page itself:
    # the summary heads the journal card, takes the focus and links to the field.
    page.fill("#journal-record-witness", "Nina Navigatør")
    upload_scan(page, "journal", b"MZ\x90\x00 not a scan", name="scan.exe")
    expect(page.locator("h1")).to_have_text(NAME)
    expect(page.locator("#referrals")).to_be_visible()
    summary = page.locator("#kind-journal #journal-record-error-summary")
    expect(summary).to_contain_text("PDF-, PNG- eller JPEG")
    expect(summary).to_be_focused()
    expect(summary.locator('a[href="#journal-record-scan"]')).to_have_count(1)
    expect(page.locator("#journal-record-witness")).to_have_value("Nina Navigatør")
    assert_accessible(page)
    upload_scan(page, "journal", rendered_scan(first_pdf))
    expect(page.get_by_text("Samtykket er registreret")).to_be_visible()
    journal = page.locator("#kind-journal")
    expect(journal.locator(".state-given")).to_have_count(1)
    expect(journal).to_contain_text("Ikke bekræftet endnu")
    expect(journal).to_contain_text("Næste skridt")
    expect(journal.locator("#print-journal")).to_have_count(0)  # no second print-and-record
    assert_accessible(page)

    page.get_by_role("button", name="Bekræft journalnotat").click()
    expect(page.get_by_text("Journalnotatet er bekræftet")).to_be_visible()
    expect(page.get_by_text("Ikke bekræftet endnu", exact=False)).to_have_count(0)

    print_and_record(page, "wellbeing")
    expect(page.locator(".state-given")).to_have_count(2)

    # WHO-5: a wrong answer keeps every answer given and says what to fix.
    citizen_url = page.url.split("?")[0]
    page.click("#wellbeing-link")
    for item in range(1, 6):
        page.select_option(f"#who5_{item}", str(item % 6))
    page.fill("#life_satisfaction", "11")
    page.get_by_role("button", name="Gem besvarelse").click()
    expect(page.locator("#error-summary")).to_contain_text("fra 0 til 10")
    expect(page.locator("#who5_4")).to_have_value("4")
    assert_accessible(page)
    page.fill("#life_satisfaction", "7")
    page.get_by_role("button", name="Gem besvarelse").click()
    expect(page.get_by_text("Besvarelsen er registreret")).to_be_visible()
    page.goto(citizen_url)

    # Withdrawal asks first and says what happens to the answers.
    # A date in the future comes back on the citizen's page with the withdrawal form open,
    # the channel chosen and the date typed kept.
    wellbeing = page.locator("#kind-wellbeing")
    wellbeing.get_by_text("Registrér tilbagekaldelse").click()
    wellbeing.get_by_label("Hvordan borgeren tilbagekaldte").select_option("letter")
    tomorrow = (clock.now().date() + timedelta(days=1)).isoformat()
    wellbeing.get_by_label("Tilbagekaldt den").fill(tomorrow)
    wellbeing.get_by_role("button", name="Tilbagekald").click()
    expect(page.locator("h1")).to_have_text(NAME)
    expect(wellbeing.locator("[id^=withdraw-][id$=-error-summary]")).to_be_visible()
    expect(wellbeing.get_by_label("Tilbagekaldt den")).to_be_visible()  # the <details> is open
    expect(wellbeing.get_by_label("Tilbagekaldt den")).to_have_value(tomorrow)
    expect(wellbeing.get_by_label("Hvordan borgeren tilbagekaldte")).to_have_value("letter")
    assert_accessible(page)
    wellbeing.get_by_label("Tilbagekaldt den").fill(clock.now().date().isoformat())
    wellbeing.get_by_role("button", name="Tilbagekald").click()
    expect(page.locator("h1")).to_have_text("Bekræft tilbagekaldelsen")
    expect(page.locator("#confirm-lines")).to_contain_text("slettes senest")
    assert_accessible(page)
    if SCREENSHOT_DIR:
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / "confirm-withdrawal.png"), full_page=True)
    page.click("#confirm")
    expect(page.get_by_text("Tilbagekaldelsen er registreret")).to_be_visible()
    expect(page.locator("#kind-wellbeing .withdrawal")).to_contain_text("brev")
    expect(page.locator("#print-wellbeing")).to_have_count(1)  # a fresh form is possible
    assert_accessible(page)
    if SCREENSHOT_DIR:
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / "citizen-consents.png"), full_page=True)

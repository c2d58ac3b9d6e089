"""The data controllers' extract path in Chromium: one asks (purpose first, then only its
sources and fields), a second approves with a fresh code after seeing the gate's preview,
executes and downloads the ZIP; the verification page then checks the downloaded manifest
and file. axe-core checks each page on the way (no serious or critical violation).
Runs on SQLite and PostgreSQL (through ``ctx``)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path

from playwright.sync_api import Page, expect

from consent_service.clock import LEGAL_TZ, FixedClock
from consent_service.context import AppContext
from tests.browser.test_accessibility import _shot, _violations
from tests.browser.test_login_flows import TIME_STEP, log_in
from tests.conftest import current_code, enrolled_person
from tests.scenario import Pilot

REFERRED = date(2026, 11, 2)
DAY = date(2027, 6, 1)


def _axe(page: Page, name: str) -> None:
    _shot(page, "extract-" + name.replace(" ", "-"))  # with CONSENT_SCREENSHOT_DIR set
    found = _violations(page)
    assert not found, f"{name}: " + "\n".join(found)


def test_request_approve_execute_download_and_verify(
    page: Page,
    new_page: Callable[[], Page],
    live_server: str,
    ctx: AppContext,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    pilot = Pilot.start(ctx, clock)
    pilot.at(REFERRED)
    pid = pilot.citizen()
    pilot.refer(pid, REFERRED)
    pilot.sign(pid, "journal", date(2026, 11, 10))
    clock.set(datetime.combine(DAY, time(10), tzinfo=LEGAL_TZ))
    requester = enrolled_person(ctx, "data_controller")
    approver = enrolled_person(ctx, "data_controller")

    # The requester: purpose first, then only its sources and fields.
    log_in(page, live_server, requester, clock)
    page.goto(f"{live_server}/udtraek")
    expect(page.locator('input[name="fields"]')).to_have_count(0)
    _axe(page, "step 1")
    page.get_by_label("Betalingsmål 1, regionalt (færre kontakter til sundhedsvæsenet)").check()
    page.click("#choose-purpose")
    expect(page.locator("#chosen-purpose")).to_contain_text("Betalingsmål 1, regionalt")
    expect(page.get_by_label("Kommunal sygepleje")).to_have_count(0)
    _axe(page, "step 2")
    page.click('#draft-form button[type="submit"]')  # nothing chosen: the form says what
    expect(page.locator(".alert-error")).to_contain_text("Vælg mindst én kilde.")
    _axe(page, "step 2 with errors")
    page.get_by_label("Sygesikringsregistret").check()
    page.get_by_label("Kontakter til egen læge").check()
    page.select_option("#cohort", "hold-2")
    page.select_option("#measurement_years", "1")
    page.click('#draft-form button[type="submit"]')
    expect(page.locator("#status")).to_have_text("Afventer godkendelse")
    expect(page.locator("#awaiting")).to_be_visible()
    request_url = page.url.split("?")[0]

    # The approver: who asked, the gate's preview, then a fresh code.
    second = new_page()
    log_in(second, live_server, approver, clock)
    second.goto(request_url)
    expect(second.locator("#requested-by")).to_contain_text("Test data_controller")
    expect(second.locator("#preview-included")).to_have_text("1")
    _axe(second, "approval")
    clock.advance(TIME_STEP)
    second.fill("#approve-code", current_code(approver, clock))
    second.get_by_role("button", name="Godkend").click()
    expect(second.locator("#status")).to_have_text("Godkendt")
    second.get_by_role("button", name="Udfør udtrækket nu").click()
    expect(second.locator("#status")).to_have_text("Udført")
    expect(second.locator("#included")).to_have_text("1")
    expect(second.locator("#downloads")).to_contain_text("0 af 3 hentninger brugt")
    _axe(second, "executed")
    with second.expect_download() as downloading:
        second.get_by_role("button", name="Hent udtrækket").click()
    archive = tmp_path / "udtraek.zip"
    downloading.value.save_as(archive)
    second.goto(request_url)
    expect(second.locator("#downloads")).to_contain_text("1 af 3 hentninger brugt")

    # The verification page: the manifest and the file from the ZIP.
    with zipfile.ZipFile(io.BytesIO(archive.read_bytes())) as zf:
        zf.extractall(tmp_path)
    second.goto(f"{live_server}/udtraek/verificer")
    _axe(second, "verification")
    second.set_input_files("#manifest", str(tmp_path / "manifest.json"))
    second.set_input_files("#files", str(tmp_path / "sygesikring.csv"))
    second.get_by_role("button", name="Kontrollér").click()
    expect(second.locator("#signature-ok")).to_be_visible()
    expect(second.locator('#file-checks tr[data-outcome="match"]')).to_have_count(1)
    _axe(second, "verification result")

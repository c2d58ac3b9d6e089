"""Paper originals in a real browser: the data controller adds a location; the navigator
puts a signed original in it from the citizen's page, takes it out and returns it, and
records its destruction through the confirmation step; a missing location keeps the form.
axe-core finds nothing serious on the pages on the way. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from tests.browser.test_login_flows import log_in
from tests.browser.test_referrer_form import assert_accessible
from tests.conftest import enrolled_person
from tests.pages import seeded_citizen

CABINET = "Skab 2, Grenaa Sundhedshus"


def _custody_form(page: Page) -> None:
    page.locator("summary", has_text="Registrér hvor originalen er").click()


def test_navigator_keeps_track_of_a_signed_original(
    ctx: AppContext, clock: FixedClock, live_server: str, page: Page
) -> None:
    pid = seeded_citizen(ctx, clock)
    log_in(page, live_server, enrolled_person(ctx, "data_controller"), clock)
    page.goto(f"{live_server}/papir/placeringer")
    page.fill("#ny-placering-name", CABINET)
    page.get_by_role("button", name="Opret placering").click()
    expect(page.locator("#locations")).to_contain_text(CABINET)
    assert_accessible(page)

    page.context.clear_cookies()
    log_in(page, live_server, enrolled_person(ctx, "navigator"), clock)
    page.goto(f"{live_server}/borgere/{pid}")
    original = page.locator(".paper-original")
    expect(original).to_contain_text("Ikke registreret lagt på plads.")
    # A newcomer forgets the location: the same page, the summary, the form open.
    _custody_form(page)
    original.get_by_role("button", name="Registrér", exact=True).click()
    expect(page.locator(".alert-error")).to_contain_text("Vælg, hvor originalen lægges.")
    assert_accessible(page)
    original = page.locator(".paper-original")
    original.get_by_label("Placering (når originalen lægges på plads)").select_option(label=CABINET)
    original.get_by_role("button", name="Registrér", exact=True).click()
    expect(page.locator(".paper-original")).to_contain_text(f"Ligger i {CABINET}.")

    _custody_form(page)
    original = page.locator(".paper-original")
    original.get_by_label("Hvad sker der").select_option("taken_out")
    original.get_by_label("Hvorfor (når originalen tages ud)").fill("Kopi til borgeren")
    original.get_by_role("button", name="Registrér", exact=True).click()
    expect(page.locator(".paper-original")).to_contain_text("Udtaget af")

    _custody_form(page)
    original = page.locator(".paper-original")
    original.get_by_label("Hvad sker der").select_option("returned")
    original.get_by_label("Placering (når originalen lægges på plads)").select_option(label=CABINET)
    original.get_by_role("button", name="Registrér", exact=True).click()
    expect(page.locator(".paper-original")).to_contain_text(f"Ligger i {CABINET}.")
    assert_accessible(page)

    page.locator("summary", has_text="Registrér at originalen er destrueret").click()
    original = page.locator(".paper-original")
    original.get_by_label("Destrueret af").fill("Nina Navigatør")
    original.get_by_role("button", name="Registrér destruktion …").click()
    expect(page.locator("h1")).to_have_text("Bekræft, at originalen er destrueret")
    assert_accessible(page)
    page.get_by_role("button", name="Registrér destruktionen").click()
    expect(page.locator(".paper-original")).to_contain_text(
        "Destrueret (makuleret) af Nina Navigatør"
    )
    assert_accessible(page)

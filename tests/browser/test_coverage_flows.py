"""A data controller in a real browser: sees all six cohort measurements with their
planned dates and risk, the chart (an SVG image, no console or CSP error) with its table,
opens a measurement's re-consent list, makes a typo moving its date (the form comes back
with the focus on the summary and the values kept), moves it, and sees who changed it
and why; axe-core finds nothing serious on the way. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, time

from playwright.sync_api import ConsoleMessage, Page, Response, expect

from consent_service.clock import LEGAL_TZ, FixedClock
from consent_service.context import AppContext
from tests.browser.test_login_flows import log_in
from tests.browser.test_referrer_form import assert_accessible
from tests.conftest import enrolled_person
from tests.coverage_support import pseudonym_of
from tests.scenario import Pilot


def _seed(ctx: AppContext, clock: FixedClock) -> str:
    pilot = Pilot.start(ctx, clock)
    pilot.at(date(2026, 11, 2))
    pid = pilot.citizen(name="Åse Ærø Østergård")
    pilot.refer(pid, date(2026, 11, 2))
    pilot.sign(pid, "journal", date(2026, 11, 10))
    clock.set(datetime.combine(date(2027, 9, 1), time(10), tzinfo=LEGAL_TZ))
    return pid


def test_the_data_controller_sees_the_measurements_and_moves_a_date(
    ctx: AppContext, clock: FixedClock, live_server: str, page: Page
) -> None:
    base = live_server
    pid = _seed(ctx, clock)
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A 400 answer to the typo is logged by Chromium; that is not a problem.
        if message.type == "error" and "status of" not in message.text:
            errors.append(message.text)

    def on_response(response: Response) -> None:
        if response.status >= 400 and "/udtraek/daekning/dato" not in response.url:
            errors.append(f"{response.url} answered {response.status}")

    page.on("console", on_console)
    page.on("response", on_response)
    log_in(page, base, enrolled_person(ctx, "data_controller"), clock)
    page.goto(f"{base}/udtraek/daekning")
    expect(page.locator("h1")).to_have_text("Dækning af målingerne")
    rows = page.locator("#coverage-overview tbody tr")
    expect(rows).to_have_count(6)
    expect(page.locator("#m-hold-2-1")).to_contain_text("01-05-2028")
    expect(page.locator("#m-hold-2-1")).to_contain_text("første frist 09-11-2027")
    # The chart loaded as an image (the browser drew it) and the numbers stand beside it.
    chart = page.locator('img[src="/udtraek/daekning/graf.svg"]')
    expect(chart).to_be_visible()
    assert (
        page.evaluate(
            "() => document.querySelector('img[src=\"/udtraek/daekning/graf.svg\"]').naturalWidth"
        )
        > 0
    )
    expect(page.locator("#coverage-timeline caption")).to_contain_text("Tallene bag grafen")
    assert_accessible(page)

    page.get_by_role("link", name="Hold 2:1").click()
    expect(page.locator("h1")).to_have_text("Hold 2:1: udtræk den 01-05-2028")
    expect(page.locator("#reconsent")).to_contain_text(pseudonym_of(ctx, pid, "hold-2", 1))
    expect(page.locator("#reconsent")).not_to_contain_text(pid)
    assert_accessible(page)

    # A typo: the same page comes back, the summary focused, the reason kept.
    page.fill("#dato", "31-02-2028")
    page.fill("#begrundelse", "Aftalt med registerejeren")
    page.get_by_role("button", name="Gem ny dato").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    expect(page.locator("#begrundelse")).to_have_value("Aftalt med registerejeren")
    expect(page.locator("#dato")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)

    page.fill("#dato", "2027-10-01")
    page.get_by_role("button", name="Gem ny dato").click()
    expect(page.locator("#notice")).to_contain_text("Den nye måledato er gemt")
    expect(page.locator("h1")).to_have_text("Hold 2:1: udtræk den 01-10-2027")
    expect(page.locator("#override")).to_contain_text("Test data_controller")
    expect(page.locator("#override")).to_contain_text("Aftalt med registerejeren")
    expect(page.locator("#no-reconsent")).to_be_visible()
    assert_accessible(page)
    assert errors == []

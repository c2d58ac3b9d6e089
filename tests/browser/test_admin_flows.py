"""The administrator's main path in a real browser (issue 16): create an organisation,
create a user in it (a navigator: a proposal), see the proposal listed, and the new
organisation's data controller approve it with a fresh code; then a role change that asks
for a reason and a fresh code. axe checks every page on the way (WCAG 2.1 AA).
Runs on SQLite and PostgreSQL (through ``ctx``)."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from tests.browser.test_accessibility import _violations, check_page
from tests.browser.test_login_flows import TIME_STEP, log_in
from tests.conftest import current_code, enrolled_person

OPERATOR = "Region Midtjylland"  # the settings' bootstrap organisation: runs the service
NEW_ORGANISATION = "Syddjurs Kommune"


def test_the_administrator_sets_up_an_organisation_and_its_first_navigator(
    page: Page,
    new_page: Callable[[], Page],
    live_server: str,
    ctx: AppContext,
    clock: FixedClock,
) -> None:
    base = live_server
    admin = enrolled_person(ctx, "administrator", org_name=OPERATOR)
    log_in(page, base, admin, clock)
    problems = check_page(
        page, f"{base}/admin/organisationer", "admin-organisationer",
        menu_href="/admin/organisationer",
    )  # fmt: skip

    # A typo first: an empty name keeps the form and says what to fix.
    page.get_by_role("button", name="Opret organisation").click()
    expect(page.locator("#new-error-summary")).to_be_visible()
    expect(page.locator("#new-name-error")).to_contain_text("Skriv organisationens navn")
    page.fill("#new-name", NEW_ORGANISATION)
    page.get_by_role("button", name="Opret organisation").click()
    expect(page.locator("h1")).to_have_text(NEW_ORGANISATION)
    expect(page.locator("main")).to_contain_text("Organisationen er oprettet")
    problems += check_page(page, page.url, "admin-organisation")

    # A user in it: the organisation is chosen on the user form.
    page.get_by_role("link", name=f"Opret en bruger i {NEW_ORGANISATION}").click()
    expect(page.locator("h1")).to_have_text(f"Brugere i {NEW_ORGANISATION}")
    expect(page.locator("#new-organisation option:checked")).to_have_text(NEW_ORGANISATION)
    page.fill("#new-username", "sara.s")
    page.fill("#new-display_name", "Sara Sørensen")
    page.select_option("#new-role", "navigator")
    page.fill("#new-reason", "Ny navigatør i Syddjurs")
    page.get_by_role("button", name="Opret", exact=True).click()
    expect(page).to_have_url(f"{base}/godkendelser/adgang?besked=proposal-made")
    listed = page.locator("#forslag-andre")
    expect(listed).to_contain_text("Sara Sørensen (sara.s)")
    expect(listed).to_contain_text(NEW_ORGANISATION)
    expect(listed).to_contain_text("Afventer godkendelse")
    problems += check_page(page, page.url, "admin-godkendelser-andre")

    # The new organisation's first data controller (made on the command line, as the
    # first of each organisation is) approves it with a fresh code.
    dc = enrolled_person(ctx, "data_controller", org_name=NEW_ORGANISATION)
    dc_page = new_page()
    log_in(dc_page, base, dc, clock)
    dc_page.goto(f"{base}/godkendelser/adgang")
    card = dc_page.locator("section.card", has_text="sara.s")
    clock.advance(TIME_STEP)
    card.get_by_label("Ny kode fra din godkender-app").fill(current_code(dc, clock))
    card.get_by_role("button", name="Godkend").click()
    expect(dc_page.locator("#one-time-password")).to_be_visible()

    page.goto(f"{base}/admin/organisationer")
    expect(page.locator("#organisations")).to_contain_text(NEW_ORGANISATION)
    row = page.locator("#organisations tr", has_text=NEW_ORGANISATION)
    expect(row.locator('td[data-title="Brugere"]')).to_have_text("2")
    assert not problems, "\n".join(problems)


def test_a_role_change_asks_for_a_reason_and_a_fresh_code(
    page: Page, live_server: str, ctx: AppContext, clock: FixedClock
) -> None:
    base = live_server
    admin = enrolled_person(ctx, "administrator", org_name=OPERATOR)
    referrer = enrolled_person(ctx, "referrer", org_name=OPERATOR)
    log_in(page, base, admin, clock)
    page.goto(f"{base}/admin/brugere")
    row = page.locator(f"#user-{referrer.username}")
    row.locator("summary").click()
    row.locator(f"#role-{referrer.user_id}-role").select_option("administrator")
    row.locator(f"#role-{referrer.user_id}-reason").fill("Overtager brugeradministrationen")
    row.get_by_role("button", name="Skift rolle…").click()
    expect(page.locator("h1")).to_contain_text("Skift rolle for")
    expect(page.locator("#confirm-lines")).to_contain_text("går fra Henviser til Administrator")
    # The confirmation step answers a post, so axe checks it where it stands.
    problems = [f"role change: {v}" for v in _violations(page)]

    page.fill("#step-code", "000000")
    page.get_by_role("button", name="Skift rollen").click()
    expect(page.locator("#step-error-summary")).to_be_visible()
    expect(page.locator("#step-code-error")).to_contain_text("Koden er forkert")
    problems += [f"role change with a wrong code: {v}" for v in _violations(page)]
    clock.advance(TIME_STEP)
    page.fill("#step-code", current_code(admin, clock))
    page.get_by_role("button", name="Skift rollen").click()
    expect(page).to_have_url(f"{base}/admin/brugere?besked=role-changed")
    expect(page.locator(f"#user-{referrer.username}")).to_contain_text("Administrator")
    assert not problems, "\n".join(problems)

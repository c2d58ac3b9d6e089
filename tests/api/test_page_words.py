"""The words on the pages (issue 15): no stored code shown raw (``in_person``, ``sensitive``,
``draft``, ``login.succeeded``), no rule or program file path (``policies/extracts.yaml``,
``audit/verify.py``), and no person by number ("af bruger 2", "Henviser: 7").

Each role opens every page of ``tests/pages.py`` (its menu and the pages it reaches),
after actions that fill them (a citizen with a consent, a refused login, a user, an API
token, an extract request), and the visible text (tags, attributes and scripts removed)
is scanned. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from consent_service import labels
from consent_service.app import create_app
from consent_service.clock import FixedClock, legal_today
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.identity.models import User
from tests.conftest import Person, csrf_from, enrolled_person, log_in
from tests.pages import PAGES, seeded_citizen

# Groups whose codes are English words or identifiers no Danish sentence uses; a code
# that is also a Danish word (a role "administrator") is left out.
SCANNED_GROUPS = (
    "consent_states",
    "consent_events",
    "withdrawal_channels",
    "correction_reasons",
    "referrer_kinds",
    "information_categories",
    "referral_statuses",
    "extract_statuses",
    "audit_actions",
    "audit_outcomes",
    "deletion_rows",
    "checkpoint_reasons",
    "api_scopes",
)
ROLE_CODES = ("navigator", "referrer", "data_controller", "dpo")
PATH = re.compile(r"[\w./-]+\.(?:ya?ml|py)\b")
NUMBERED_PERSON = re.compile(
    r"\b(?:bruger|henviser|medarbejder|navigatør|user)\s*(?:nr\.?|:)?\s*\d+\b", re.IGNORECASE
)


def visible_text(page_html: str) -> str:
    """The text a person sees: no scripts or styles, no tags or attributes."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", page_html, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", text)
    return html.unescape(text)


def raw_codes(text: str) -> list[str]:
    """Every stored code that appears as a word of ``text`` (case-sensitive: codes are
    lower case; a Danish sentence may start with a word that happens to be one)."""
    codes = {code for group in SCANNED_GROUPS for code in labels.group(group)}
    codes |= set(ROLE_CODES)
    found = []
    for code in sorted(codes):
        # Not the local part of an e-mail address (the DPO's "dpo@..." in a scenario).
        if re.search(rf"(?<![\w.-]){re.escape(code)}(?![\w@-])", text):
            found.append(code)
    return found


def page_problems(name: str, page_html: str) -> list[str]:
    text = visible_text(page_html)
    problems = [f"{name}: raw code {code!r}" for code in raw_codes(text)]
    problems += [f"{name}: file path {m!r}" for m in PATH.findall(text)]
    problems += [f"{name}: a person by number {m!r}" for m in NUMBERED_PERSON.findall(text)]
    return problems


# Real-looking names: the fixtures' "Test navigator" would read as a role code.
NAMES = {
    "navigator": "Mette Kjær",
    "referrer": "Jonas Lund",
    "data_controller": "Karen Holm",
    "dpo": "Søren Dahl",
    "administrator": "Lise Berg",
    "legal_adviser": "Ida Vinther",
}
# Pages other helpers own that still show a code, a path or a numbered person (strict
# xfail, so the list shows when it is fixed).
FAILS: dict[str, str] = {}


def named_person(ctx: AppContext, role: str) -> Person:
    person = enrolled_person(ctx, role)
    with session_scope(ctx.sessions) as session:
        user = session.get(User, person.user_id)
        assert user is not None
        user.display_name = NAMES[role]
    return person


def _fill_the_pages(ctx: AppContext, clock: FixedClock) -> str:
    """A citizen with a consent; a refused login, a locked-out referrer, an API token and
    an extract request, so lists and logs are not empty. Returns the citizen's id."""
    citizen = seeded_citizen(ctx, clock)
    referrer = named_person(ctx, "referrer")
    with TestClient(create_app(ctx), follow_redirects=False) as anyone:
        form = anyone.get("/login")
        anyone.post(
            "/login",
            data={
                "username": referrer.username,
                "password": "forkert",
                "csrf_token": csrf_from(form.text),
            },
        )
    with TestClient(create_app(ctx), follow_redirects=False) as admin:
        token = log_in(admin, named_person(ctx, "administrator"), clock)
        r = admin.post(
            "/admin/api-noegler",
            data={
                "user_id": str(referrer.user_id),
                "label": "Lægehuset Grenaa",
                "valid_days": "30",
                "csrf_token": token,
            },
        )
        assert r.status_code == 200, r.text
    with TestClient(create_app(ctx), follow_redirects=False) as controller:
        token = log_in(controller, named_person(ctx, "data_controller"), clock)
        r = controller.post(
            "/udtraek",
            data={
                "purpose": "payment_goal_1_regional",
                "cohort": "hold-2",
                "measurement_years": "1",
                "planned_on": legal_today(clock).isoformat(),
                "sources": ["sygesikring"],
                "fields": ["gp_contacts"],
                "csrf_token": token,
            },
        )
        assert r.status_code == 303, r.text
    with session_scope(ctx.sessions) as session:
        for user in session.scalars(select(User).where(User.display_name.startswith("Test "))):
            user.display_name = NAMES[user.role]
    return citizen


def test_the_scan_finds_what_it_looks_for() -> None:
    page = (
        "<p>Status: draft, kanal in_person; Oplysninger: sensitive. "
        "Se policies/extracts.yaml og audit/verify.py. Oprettet af bruger 2; Henviser: 7</p>"
        '<select><option value="phone">Telefon</option></select>'
    )
    problems = page_problems("eksempel", page)
    assert any("'draft'" in p for p in problems)
    assert any("'in_person'" in p for p in problems)
    assert any("'sensitive'" in p for p in problems)
    assert any("policies/extracts.yaml" in p for p in problems)
    assert any("audit/verify.py" in p for p in problems)
    assert sum("by number" in p for p in problems) == 2
    assert not any("'phone'" in p for p in problems)  # an attribute is not seen


def _role_pages() -> list[object]:
    return [
        pytest.param(
            role,
            visit.path,
            id=f"{role}-{visit.path}",
            marks=[pytest.mark.xfail(strict=True, reason=FAILS[visit.path])]
            if visit.path in FAILS
            else [],
        )
        for role, visits in PAGES.items()
        for visit in visits
    ]


@pytest.mark.parametrize(("role", "path"), _role_pages())
def test_no_page_shows_a_code_a_path_or_a_numbered_person(
    role: str, path: str, ctx: AppContext, clock: FixedClock
) -> None:
    citizen = _fill_the_pages(ctx, clock)
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        log_in(client, named_person(ctx, role), clock)
        r = client.get(path.format(citizen=citizen))
        assert r.status_code == 200, (path, r.status_code)
        problems = page_problems(path, r.text)
        if path == "/udtraek":
            extract = r.text.split('href="/udtraek/')[1].split('"')[0]
            problems += page_problems(
                "/udtraek/<anmodning>", client.get(f"/udtraek/{extract}").text
            )
    assert not problems, "\n".join(problems)


def test_pages_before_login_and_errors_show_no_code(ctx: AppContext, clock: FixedClock) -> None:
    problems: list[str] = []
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        problems += page_problems("/login", client.get("/login").text)
        missing = client.get("/findes-ikke")
        assert missing.status_code == 404
        assert "Not Found" not in visible_text(missing.text)
        problems += page_problems("404", missing.text)
    assert not problems, "\n".join(problems)

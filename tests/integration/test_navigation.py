"""The menu follows the access policy: each role sees the links its grants open, and a
changed grant changes the menu, with no role named in a template."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from consent_service.app import create_app
from consent_service.clock import FixedClock
from consent_service.config import Settings
from consent_service.context import AppContext
from consent_service.web.navigation import MENU, page_permissions
from tests.conftest import enrolled_person, log_in

# Reviewed with the policy: what each role finds in the menu besides Forside and Min konto.
EXPECTED = {
    "navigator": ["Borgere", "Arbejdsliste"],
    "referrer": ["Henvis borger", "Mine henvisninger"],
    "data_controller": [
        "Udtræk",
        "Dækning",
        "Opgaver pr. hold",
        "Sletning",
        "Papiroriginaler",
        "Kontrol af udtræk",
        "Godkendelser",
        "Regelsamling",
    ],
    "dpo": [
        "Overblik",
        "Log",
        "Afviste forsøg",
        "Alarmer",
        "Indsigt",
        "Kontrol af udtræk",
        "Regelsamling",
    ],
    "administrator": ["Brugere", "Organisationer", "API-nøgler", "Godkendelser"],
    "legal_adviser": ["Regelsamling"],
}
NAV = re.compile(r"<nav[^>]*>(.*?)</nav>", re.S)
LINK = re.compile(r'<a href="[^"]+"[^>]*>(?:<span>)?([^<]+)(?:</span>)?</a>')


def _menu(ctx: AppContext, clock: FixedClock, role: str) -> list[str]:
    person = enrolled_person(ctx, role)
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        log_in(client, person, clock)
        home = client.get("/")
        assert home.status_code == 200
    match = NAV.search(home.text)
    assert match is not None
    return [
        label for label in LINK.findall(match.group(1)) if label not in ("Forside", "Min konto")
    ]


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_sees_the_links_its_grants_open(
    ctx: AppContext, clock: FixedClock, role: str
) -> None:
    assert _menu(ctx, clock, role) == EXPECTED[role]


def test_every_menu_link_is_a_page_that_declares_a_permission(ctx: AppContext) -> None:
    permissions = page_permissions(create_app(ctx).routes)
    for href, label in MENU:
        assert href in permissions, f"{label}: {href} is no page of the app"


@pytest.fixture
def granted_ctx(settings: Settings, clock: FixedClock, tmp_path: Path) -> Iterator[AppContext]:
    """A service whose policy also lets the navigator list the organisation's users."""
    policies = tmp_path / "policies"
    shutil.copytree(settings.policy_dir, policies)
    access = policies / "access.yaml"
    text = access.read_text(encoding="utf-8")
    anchor = "  navigator:\n    - permission: home:view\n"
    assert anchor in text
    text = text.replace(anchor, anchor + "    - permission: users:read\n")
    access.write_text(text, encoding="utf-8")
    context = AppContext.build(settings.model_copy(update={"policy_dir": policies}), clock)
    yield context
    context.engine.dispose()


def test_a_changed_grant_changes_the_menu(granted_ctx: AppContext, clock: FixedClock) -> None:
    assert _menu(granted_ctx, clock, "navigator") == ["Borgere", "Arbejdsliste", "Brugere"]


def test_the_users_page_offers_changes_where_the_policy_allows_them(
    ctx: AppContext, clock: FixedClock
) -> None:
    """``users:change`` is granted ``not_self``: the administrator's own row offers no change,
    another user's does; the page asks the policy instead of comparing ids itself."""
    admin = enrolled_person(ctx, "administrator")
    other = enrolled_person(ctx, "referrer")
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        log_in(client, admin, clock)
        users = client.get("/admin/brugere")
    assert users.status_code == 200
    assert users.text.count(f'action="/admin/brugere/{other.user_id}/aendr"') == 1
    assert users.text.count(f'action="/admin/brugere/{other.user_id}/rolle"') == 1
    assert f'action="/admin/brugere/{admin.user_id}/aendr"' not in users.text
    assert f'action="/admin/brugere/{admin.user_id}/rolle"' not in users.text


OPEN_ITEM = re.compile(r'<a href="([^"]+)" class="nav-link" aria-current="(page|true)"')


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/udtraek", ("/udtraek", "page")),
        ("/udtraek/daekning", ("/udtraek/daekning", "page")),
        ("/udtraek/daekning/maaling?maaling=hold-2-2", ("/udtraek/daekning", "true")),
        ("/udtraek/verificer", ("/udtraek/verificer", "page")),
    ],
)
def test_one_menu_item_is_open_the_deepest_above_the_page(
    ctx: AppContext, clock: FixedClock, path: str, expected: tuple[str, str]
) -> None:
    """A page under two menu entries (/udtraek and /udtraek/daekning) opens only the
    deeper one: one item marked, in the main menu and in the phone's drawer alike."""
    person = enrolled_person(ctx, "data_controller")
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        log_in(client, person, clock)
        page = client.get(path)
    assert page.status_code == 200
    main_menu = NAV.search(page.text)
    assert main_menu is not None
    assert OPEN_ITEM.findall(main_menu.group(1)) == [expected]
    assert set(OPEN_ITEM.findall(page.text)) == {expected}

"""The administrator's organisations pages (issue 16): a system-wide administrator (of the
organisation that runs the service, ``organisations:manage``) sees, creates and renames
organisations; an administrator of any other organisation sees only their own.

Attacker first: another organisation's administrator, a navigator, no CSRF token, hostile
bytes, two creations of one name at once; then the newcomer's typo and the happy path.
The organisation is named in the query or form, so the route matrix's cross-organisation
rule does not cover these routes: every case is tried here."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from consent_service.app import create_app
from consent_service.audit.models import AuditEvent
from consent_service.cli import main
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.identity.models import Organisation
from tests.conftest import enrolled_person, log_in, organisation

OPERATOR = "Region Midtjylland"  # the settings' bootstrap organisation: runs the service
MUNICIPALITY = "Norddjurs Kommune"
PAGE = "/admin/organisationer"


@pytest.fixture
def web(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx), follow_redirects=False) as c:
        yield c


def _names(ctx: AppContext) -> list[str]:
    with ctx.sessions() as s:
        return sorted(s.scalars(select(Organisation.name)))


def _events(ctx: AppContext, action: str) -> list[AuditEvent]:
    with ctx.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _denials(ctx: AppContext, permission: str) -> int:
    with ctx.sessions() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied"))
        return sum(json.loads(e.details).get("permission") == permission for e in rows)


# --- attacker ------------------------------------------------------------------------------


def test_another_organisations_administrator_sees_and_manages_only_their_own(
    ctx: AppContext, web: TestClient, clock: FixedClock
) -> None:
    operator = organisation(ctx, OPERATOR)
    local = enrolled_person(ctx, "administrator", org_name=MUNICIPALITY)
    enrolled_person(ctx, "navigator", org_name=OPERATOR)
    token = log_in(web, local, clock)

    listing = web.get(PAGE)
    assert listing.status_code == 200
    assert MUNICIPALITY in listing.text
    assert OPERATOR not in listing.text
    assert 'action="/admin/organisationer"' not in listing.text  # no create form
    own = web.get(f"{PAGE}/vis", params={"organisation": local.organisation_id})
    assert own.status_code == 200
    assert "Omdøb" not in own.text

    # Another organisation's id and an unknown one: the same audited denial, nothing shown.
    theirs = web.get(f"{PAGE}/vis", params={"organisation": operator})
    unknown = web.get(f"{PAGE}/vis", params={"organisation": 999_999})
    assert theirs.status_code == unknown.status_code == 403
    assert OPERATOR not in theirs.text
    before = _names(ctx)
    created = web.post(PAGE, data={"name": "Falsk Kommune", "csrf_token": token})
    renamed = web.post(
        f"{PAGE}/omdoeb",
        data={"organisation": operator, "name": "Overtaget", "csrf_token": token},
    )
    own_renamed = web.post(
        f"{PAGE}/omdoeb",
        data={"organisation": local.organisation_id, "name": "Ny Kommune", "csrf_token": token},
    )
    assert created.status_code == renamed.status_code == own_renamed.status_code == 403
    assert _names(ctx) == before
    assert _denials(ctx, "organisations:manage") == 5
    assert _events(ctx, "organisation.created") == []


def test_a_navigator_is_refused_and_a_post_needs_its_csrf_token(
    ctx: AppContext, web: TestClient, clock: FixedClock
) -> None:
    navigator = enrolled_person(ctx, "navigator", org_name=OPERATOR)
    log_in(web, navigator, clock)
    assert web.get(PAGE).status_code == 403
    web.cookies.clear()
    admin = enrolled_person(ctx, "administrator", org_name=OPERATOR)
    log_in(web, admin, clock)
    before = _names(ctx)
    assert web.post(PAGE, data={"name": "Uden token"}).status_code == 403
    assert web.post(PAGE, data={"name": "Forkert token", "csrf_token": "x" * 43}).status_code == 403
    assert _names(ctx) == before


def test_hostile_bytes_are_refused_or_shown_as_text(
    ctx: AppContext, web: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator", org_name=OPERATOR)
    token = log_in(web, admin, clock)
    before = _names(ctx)
    nul = web.post(PAGE, data={"name": "Kommune\x00; DROP TABLE organisation", "csrf_token": token})
    assert nul.status_code == 400
    assert _names(ctx) == before
    script = "<script>alert(1)</script> Kommune"
    r = web.post(PAGE, data={"name": script, "csrf_token": token})
    assert r.status_code == 303
    shown = web.get(PAGE).text
    assert "<script>alert(1)</script>" not in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Kommune" in shown
    junk = web.get(f"{PAGE}/vis", params={"organisation": "1 OR 1=1"})
    assert junk.status_code == 404


def test_two_creations_of_one_name_at_once_one_wins_the_other_is_told(
    ctx: AppContext, clock: FixedClock
) -> None:
    admins = [enrolled_person(ctx, "administrator", org_name=OPERATOR) for _ in range(2)]
    app = create_app(ctx)
    clients = [TestClient(app, follow_redirects=False) for _ in admins]
    tokens = [log_in(c, a, clock) for c, a in zip(clients, admins, strict=True)]
    barrier = threading.Barrier(len(clients))

    def create(i: int) -> tuple[int, str]:
        barrier.wait(timeout=30)
        r = clients[i].post(PAGE, data={"name": "Syddjurs Kommune", "csrf_token": tokens[i]})
        return r.status_code, r.text

    with ThreadPoolExecutor(len(clients)) as pool:
        answers = sorted(pool.map(create, range(len(clients))))
    for c in clients:
        c.close()
    assert [status for status, _ in answers] == [303, 409]
    assert "Der findes allerede en organisation med det navn" in answers[1][1]
    assert 'value="Syddjurs Kommune"' in answers[1][1]
    assert _names(ctx).count("Syddjurs Kommune") == 1
    assert len(_events(ctx, "organisation.created")) == 1


# --- newcomer ------------------------------------------------------------------------------


def test_a_mistake_keeps_the_form_and_says_what_to_fix(
    ctx: AppContext, web: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator", org_name=OPERATOR)
    other = organisation(ctx, MUNICIPALITY)
    token = log_in(web, admin, clock)
    before = _names(ctx)

    empty = web.post(PAGE, data={"name": "  ", "csrf_token": token})
    assert empty.status_code == 400
    assert 'id="new-error-summary"' in empty.text
    assert 'id="new-name-error"' in empty.text
    assert "Skriv organisationens navn" in empty.text

    taken = web.post(PAGE, data={"name": "norddjurs kommune", "csrf_token": token})
    assert taken.status_code == 409
    assert 'id="new-name-error"' in taken.text
    assert 'value="norddjurs kommune"' in taken.text
    assert _names(ctx) == before

    rename_taken = web.post(
        f"{PAGE}/omdoeb",
        data={"organisation": other, "name": OPERATOR.upper(), "csrf_token": token},
    )
    assert rename_taken.status_code == 409
    assert 'id="rename-name-error"' in rename_taken.text
    assert f'value="{OPERATOR.upper()}"' in rename_taken.text
    operator = organisation(ctx, OPERATOR)
    itself = web.post(
        f"{PAGE}/omdoeb",
        data={"organisation": operator, "name": "Region Nord", "csrf_token": token},
    )
    assert itself.status_code == 409
    assert "kan ikke omdøbes" in itself.text
    assert _names(ctx) == before
    assert _events(ctx, "organisation.renamed") == []


# --- the work ------------------------------------------------------------------------------


def test_the_system_wide_administrator_creates_renames_and_sees_every_organisation(
    ctx: AppContext, web: TestClient, clock: FixedClock
) -> None:
    admin = enrolled_person(ctx, "administrator", org_name=OPERATOR)
    enrolled_person(ctx, "navigator", org_name=MUNICIPALITY)
    enrolled_person(ctx, "referrer", org_name=MUNICIPALITY)
    token = log_in(web, admin, clock)

    r = web.post(PAGE, data={"name": "  Syddjurs   Kommune ", "csrf_token": token})
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith(f"{PAGE}/vis?organisation=")
    new_id = int(location.split("organisation=")[1].split("&")[0])
    detail = web.get(location)
    assert "Organisationen er oprettet" in detail.text
    assert "<h1>Syddjurs Kommune</h1>" in detail.text
    assert "Organisationen har ingen brugere endnu" in detail.text

    listing = web.get(PAGE).text
    for name in (OPERATOR, MUNICIPALITY, "Syddjurs Kommune"):
        assert name in listing
    with ctx.sessions() as s:
        municipality = s.scalar(select(Organisation).where(Organisation.name == MUNICIPALITY))
        assert municipality is not None
    row = listing.split(f'id="organisation-{municipality.id}"')[1].split("</tr>")[0]
    assert '<td data-title="Brugere">2</td>' in row
    users = web.get(f"{PAGE}/vis", params={"organisation": municipality.id}).text
    assert "Social navigatør" in users
    assert "Henviser" in users
    assert "Aldrig logget ind" in users

    r = web.post(
        f"{PAGE}/omdoeb",
        data={"organisation": new_id, "name": "Syddjurs Kommune (pilot)", "csrf_token": token},
    )
    assert r.status_code == 303
    assert "Syddjurs Kommune (pilot)" in _names(ctx)
    (created,) = _events(ctx, "organisation.created")
    (renamed,) = _events(ctx, "organisation.renamed")
    assert created.actor_user_id == renamed.actor_user_id == admin.user_id
    assert json.loads(created.details)["after"] == {"name": "Syddjurs Kommune"}
    details = json.loads(renamed.details)
    assert details["before"] == {"name": "Syddjurs Kommune"}
    assert details["after"] == {"name": "Syddjurs Kommune (pilot)"}
    assert renamed.organisation_id == new_id
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Organisation)) == 3


def test_the_command_line_still_creates_organisations(
    ctx: AppContext,
    test_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CONSENT_ENV_FILE", "/nonexistent/consent.env")
    monkeypatch.setenv("CONSENT_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("CONSENT_AUDIT_ORIGIN", ctx.settings.audit_origin)
    for name, value in test_keys.items():
        monkeypatch.setenv(f"CONSENT_{name.upper()}", value)
    assert main(["create-organisation", "Favrskov Kommune"]) == 0
    assert main(["create-organisation", "favrskov kommune"]) == 1
    assert main(["create-organisation", " "]) == 1
    out = capsys.readouterr().out
    assert "created organisation 'Favrskov Kommune'" in out
    assert out.count("refused: ") == 2
    assert _names(ctx).count("Favrskov Kommune") == 1

"""Corrections of a citizen's name, contact data and practice: a reason is required, only
changed fields are recorded (before and after, sealed), the audit names the fields only,
the citizen's page shows the history with names and local times, printed forms keep the
old name, another organisation cannot correct, and deleting the citizen removes it all."""

from __future__ import annotations

import json
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import Actor
from consent_service.citizens.models import Citizen, CitizenChange
from consent_service.clock import FixedClock
from consent_service.consents.models import ConsentForm
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.deletion.service import delete_citizen
from tests.api.test_citizens_consents import print_form, refer, register
from tests.conftest import Person, enrolled_person, log_in
from tests.factories import synthetic_cpr

OLD = "Åse Aaberg"
NEW = "Åse Åberg"
FORM = {
    "name": OLD,
    "phone": "+45 12 34 56 78",
    "email": "borger@example.dk",
    "municipality": "Norddjurs",
    "gp_clinic": "Lægehuset Grenaa",
}


@pytest.fixture
def nav_person(ctx: AppContext) -> Person:
    return enrolled_person(ctx, "navigator")


@pytest.fixture
def nav(client: TestClient, clock: FixedClock, nav_person: Person) -> str:
    return log_in(client, nav_person, clock)


@pytest.fixture
def pid(client: TestClient, nav: str) -> str:
    return register(client, nav, synthetic_cpr(date(1961, 4, 17), 4), name=OLD)


def correct(client: TestClient, token: str, pid: str, **changes: str):  # type: ignore[no-untyped-def]
    return client.post(f"/borgere/{pid}/ret", data={**FORM, **changes, "csrf_token": token})


def _changes(ctx: AppContext) -> list[CitizenChange]:
    with ctx.sessions() as s:
        return list(s.scalars(select(CitizenChange)))


def _events(ctx: AppContext, action: str) -> list[AuditEvent]:
    with ctx.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_the_form_shows_the_current_values(client: TestClient, nav: str, pid: str) -> None:
    page = client.get(f"/borgere/{pid}/ret")
    assert page.status_code == 200
    assert f'value="{OLD}"' in page.text
    assert 'value="+45 12 34 56 78"' in page.text
    assert f'href="/borgere/{pid}/ret"' in client.get(f"/borgere/{pid}").text


def test_a_correction_records_only_what_changed_with_history_and_audit(
    ctx: AppContext, client: TestClient, nav: str, pid: str
) -> None:
    r = correct(client, nav, pid, name=NEW, phone="", reason="Navnet var stavet forkert")
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/borgere/{pid}?besked=citizen-corrected"
    (change,) = _changes(ctx)
    sealed = change.changes_sealed
    assert OLD.encode() not in sealed
    assert b"forkert" not in sealed
    (event,) = _events(ctx, "citizen.corrected")
    assert (event.resource_id, event.outcome) == (pid, "success")
    assert json.loads(event.details) == {"fields": ["name", "phone"]}  # names, no values
    page = client.get(r.headers["location"]).text
    assert f"<h1>{NEW}</h1>" in page
    assert "Oplysningerne er rettet" in page
    history = page.split('id="citizen-changes"')[1].split("</table>")[0]
    assert history.count("<tr>") == 3  # header + two fields; e-mail was not changed
    assert "E-mail" not in history
    assert f'<td data-title="Før">{OLD}</td>' in history
    assert f'<td data-title="Efter">{NEW}</td>' in history
    assert '<td data-title="Felt">Telefon</td>' in history
    assert '<td data-title="Efter">–</td>' in history  # the phone was removed
    assert "Navnet var stavet forkert" in history
    assert "Test navigator" in history  # who, by name
    assert "(CET)" in history or "(CEST)" in history  # local time with its zone
    # the name search finds the new name, not the old one
    found = client.post("/borgere/soeg", data={"q": "åberg", "csrf_token": nav}).text
    assert NEW in found
    old = client.post("/borgere/soeg", data={"q": "Aaberg Åse x", "csrf_token": nav}).text
    assert NEW not in old


def test_a_typo_keeps_every_value_and_changes_nothing(
    ctx: AppContext, client: TestClient, nav: str, pid: str
) -> None:
    r = correct(client, nav, pid, name=NEW, email="borger@", reason="Ny e-mail")
    assert r.status_code == 400
    assert "E-mailadressen er ikke gyldig." in r.text
    assert f'value="{NEW}"' in r.text  # what was typed, not what is stored
    assert 'value="borger@"' in r.text
    assert ">Ny e-mail</textarea>" in r.text
    assert 'href="#email"' in r.text  # the summary links to the field
    assert _changes(ctx) == []
    assert _events(ctx, "citizen.corrected") == []
    assert f"<h1>{OLD}</h1>" in client.get(f"/borgere/{pid}").text


@pytest.mark.parametrize(
    ("changes", "message", "field"),
    [
        ({"name": NEW, "reason": "  "}, "Skriv en begrundelse for rettelsen.", "reason"),
        ({"reason": "Ingen grund"}, "Intet er ændret.", ""),
        ({"name": "", "reason": "Tom"}, "Navn skal udfyldes.", "name"),
        ({"gp_clinic": "", "reason": "Tom"}, "Lægepraksis skal udfyldes.", "gp_clinic"),
    ],
)
def test_a_refused_correction_says_why_beside_the_field(
    ctx: AppContext,
    client: TestClient,
    nav: str,
    pid: str,
    changes: dict[str, str],
    message: str,
    field: str,
) -> None:
    r = correct(client, nav, pid, **changes)
    assert r.status_code == 400
    assert message in r.text
    assert "gp_clinic" not in r.text.split("<form")[0]  # no code in a message
    if field:
        assert f'href="#{field}"' in r.text
    assert _changes(ctx) == []


def test_another_organisations_citizen_cannot_be_corrected(
    ctx: AppContext, client: TestClient, clock: FixedClock, pid: str
) -> None:
    other = TestClient(client.app, follow_redirects=False)
    token = log_in(other, enrolled_person(ctx, "navigator", org_name="Anden Region"), clock)
    assert other.get(f"/borgere/{pid}/ret").status_code == 404
    r = other.post(
        f"/borgere/{pid}/ret", data={**FORM, "name": NEW, "reason": "x", "csrf_token": token}
    )
    assert r.status_code == 404
    assert OLD not in r.text
    assert _changes(ctx) == []


def test_printed_forms_keep_the_old_name_and_their_hash(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str, pid: str
) -> None:
    refer(client, nav, pid, clock.now().date())
    print_form(client, nav, pid, "journal")
    with ctx.sessions() as s:
        before = s.execute(select(ConsentForm.pdf_sha256, ConsentForm.pdf_sealed)).one()
    assert correct(client, nav, pid, name=NEW, reason="Stavefejl").status_code == 303
    with ctx.sessions() as s:
        after = s.execute(select(ConsentForm.pdf_sha256, ConsentForm.pdf_sealed)).one()
    assert tuple(after) == tuple(before)


def test_deleting_the_citizen_removes_the_history(
    ctx: AppContext, client: TestClient, nav: str, nav_person: Person, pid: str
) -> None:
    assert correct(client, nav, pid, name=NEW, reason="Stavefejl").status_code == 303
    assert correct(client, nav, pid, name=NEW, phone="", reason="Intet nummer").status_code == 303
    assert len(_changes(ctx)) == 2
    actor = Actor(
        user_id=nav_person.user_id,
        username=nav_person.username,
        organisation_id=nav_person.organisation_id,
    )
    with session_scope(ctx.sessions) as session:
        citizen = session.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        record = delete_citizen(session, ctx.deps, actor, citizen, rule="pilot_end")
    assert record.rows["citizen_changes"] == 2
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(CitizenChange)) == 0
    assert client.get(f"/borgere/{pid}/ret").status_code == 404

"""The worklist's new referrals ("ring op") and "kontaktet", what comes up in the next 30
days, and the citizen page's referral form (the form pattern)."""

from __future__ import annotations

import json
import threading
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from consent_service.citizens import referrals
from consent_service.citizens.models import Citizen, Referral, ReferralContact
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.deletion.service import delete_citizen
from consent_service.errors import InvalidInput
from tests.api.test_referral_api import _body, _issue_token
from tests.conftest import enrolled_person, log_in
from tests.factories import synthetic_cpr
from tests.scenario import Pilot

NOTE = "Ringede kl. 10, aftalt møde i Sundhedshuset torsdag"


@pytest.fixture
def pilot(ctx: AppContext, clock: FixedClock) -> Pilot:
    return Pilot.start(ctx, clock)


def _api_referral(ctx: AppContext, client: TestClient, clock: FixedClock, cpr: str) -> str:
    token = _issue_token(ctx, client, clock)
    api = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
    body = _body(cpr) | {"phone": "+45 86 12 34 56", "name": "Åse Ærø"}
    r = api.post("/api/v1/referrals", json=body)
    assert r.status_code == 202, r.text
    return str(r.json()["referral_id"])


def _contacts(ctx: AppContext) -> list[ReferralContact]:
    with ctx.sessions() as session:
        return list(session.scalars(select(ReferralContact)).all())


def _contact(client: TestClient, token: str, referral: str, **data: str) -> int:
    r = client.post(f"/henvisninger/{referral}/kontaktet", data={"csrf_token": token, **data})
    return r.status_code


def test_an_api_referral_is_on_the_worklist_at_once_and_contacted_moves_it(
    pilot: Pilot, ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    referral = _api_referral(ctx, client, clock, synthetic_cpr(date(1958, 3, 9)))
    client.cookies.clear()
    navigator = enrolled_person(ctx, "navigator")
    token = log_in(client, navigator, clock)
    page = client.get("/arbejdsliste")  # no worker has run
    assert page.status_code == 200
    table = page.text.split('id="new-referrals"')[1].split("</table>")[0]
    assert "Åse Ærø" in table
    assert "+45 86 12 34 56" in table
    assert "20-11-2026" in table
    assert "Praktiserende læge" in table
    assert "Lægehuset Grenaa" in table
    assert f'id="kontakt-{referral}-contacted_on"' in table
    assert 'value="2026-11-23"' in table  # today, Copenhagen

    r = client.post(
        f"/henvisninger/{referral}/kontaktet",
        data={"csrf_token": token, "contacted_on": "2026-11-23", "note": NOTE},
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/arbejdsliste?besked=referral-contacted"
    after = client.get(r.headers["location"])
    assert "Henvisningen er markeret som kontaktet." in after.text
    assert 'id="new-referrals-empty"' in after.text
    assert "Åse Ærø" not in after.text

    [contact] = _contacts(ctx)
    assert contact.contacted_on == date(2026, 11, 23)
    assert contact.recorded_by == navigator.user_id
    assert contact.note_sealed is not None
    assert NOTE.encode() not in contact.note_sealed
    [event] = pilot.events("referral.contacted")
    details = json.loads(event.details)
    assert details == {"referral": referral, "contacted_on": "2026-11-23", "with_note": True}
    assert "Ringede" not in event.details
    assert event.actor_user_id == navigator.user_id

    # The citizen page says who contacted the citizen, when, and the note.
    with ctx.sessions() as session:
        row = session.scalar(select(Referral).where(Referral.public_id == referral))
        assert row is not None
        citizen = session.get(Citizen, row.citizen_id)
        assert citizen is not None
        pid = citizen.public_id
    citizen_page = client.get(f"/borgere/{pid}").text
    assert "Kontaktet 23-11-2026 af Test navigator" in citizen_page
    assert NOTE in citizen_page

    # A second "kontaktet" is refused and stores nothing.
    assert _contact(client, token, referral, contacted_on="2026-11-23") == 400
    assert len(_contacts(ctx)) == 1


def test_a_bad_contact_keeps_what_was_typed_and_stores_nothing(
    pilot: Pilot, ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pilot.at(date(2026, 11, 20))
    pid = pilot.citizen(name="Jens Ærø")
    pilot.refer(pid, date(2026, 11, 20))
    with ctx.sessions() as session:
        referral = session.scalars(select(Referral.public_id)).one()
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    bad = client.post(
        f"/henvisninger/{referral}/kontaktet",
        data={"csrf_token": token, "contacted_on": "31-02-2026", "note": "Telefonsvarer"},
    )
    assert bad.status_code == 400
    assert "Datoen findes ikke" in bad.text
    assert 'value="31-02-2026"' in bad.text
    assert ">Telefonsvarer</textarea>" in bad.text
    assert f'href="#kontakt-{referral}-contacted_on"' in bad.text  # the error summary
    assert 'aria-invalid="true"' in bad.text
    assert "Jens Ærø" in bad.text  # the worklist, with the menu, not a bare error page

    future = _contact(client, token, referral, contacted_on="2026-12-01")
    before = _contact(client, token, referral, contacted_on="2026-11-19")
    too_long = _contact(client, token, referral, contacted_on="2026-11-21", note="x" * 501)
    assert (future, before, too_long) == (400, 400, 400)
    assert _contacts(ctx) == []
    assert pilot.events("referral.contacted") == []


def test_another_organisations_referral_is_not_found(
    pilot: Pilot, ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pilot.at(date(2026, 11, 20))
    pid = pilot.citizen()
    pilot.refer(pid, date(2026, 11, 20))
    with ctx.sessions() as session:
        referral = session.scalars(select(Referral.public_id)).one()
    stranger = enrolled_person(ctx, "navigator", org_name="Aarhus Kommune")
    token = log_in(client, stranger, clock)
    foreign = client.post(
        f"/henvisninger/{referral}/kontaktet",
        data={"csrf_token": token, "contacted_on": "2026-11-23"},
    )
    unknown = client.post(
        f"/henvisninger/{'0' * 32}/kontaktet",
        data={"csrf_token": token, "contacted_on": "2026-11-23"},
    )
    assert foreign.status_code == unknown.status_code == 404
    assert "Ayşe" not in foreign.text
    assert _contacts(ctx) == []
    page = client.get("/arbejdsliste")
    assert "Ayşe Yılmaz" not in page.text  # their worklist shows only their own
    [probe] = pilot.events("citizen.cross_organisation_probe")
    assert probe.organisation_id == pilot.organisation_id
    assert json.loads(probe.details)["via"] == "referral"


def test_coming_up_shows_the_next_30_days(
    pilot: Pilot, ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pilot.at(date(2026, 11, 20))
    pid = pilot.citizen(name="Łukasz Śliwiński")
    pilot.refer(pid, date(2026, 11, 20))
    pilot.sign(pid, "wellbeing", date(2026, 11, 25))
    pilot.answer(pid, "baseline", date(2026, 12, 1))  # follow-up due 01-06-2027
    pilot.run(date(2027, 4, 1))  # plans the follow-up; nothing due yet
    log_in(client, enrolled_person(ctx, "navigator"), clock)
    early = client.get("/arbejdsliste").text
    assert 'id="upcoming-empty"' in early  # 61 days ahead: not yet

    pilot.run(date(2027, 5, 10))
    log_in(client, enrolled_person(ctx, "navigator"), clock)
    soon = client.get("/arbejdsliste").text
    upcoming = soon.split('id="upcoming"')[1].split("</table>")[0]
    assert "Opfølgende trivselsmåling" in upcoming
    assert "Łukasz Śliwiński" in upcoming
    assert "01-06-2027" in upcoming
    assert 'id="worklist-empty"' in soon

    pilot.run(date(2027, 6, 1))  # the worker opens the task: it moves to "Opgaver nu"
    log_in(client, enrolled_person(ctx, "navigator"), clock)
    now = client.get("/arbejdsliste").text
    assert "Łukasz Śliwiński" in now.split('id="worklist"')[1].split("</table>")[0]
    assert 'id="upcoming-empty"' in now


def test_the_citizen_pages_referral_form_keeps_its_fields_on_error(
    pilot: Pilot, ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pilot.at(date(2026, 11, 20))
    pid = pilot.citizen()
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    page = client.get(f"/borgere/{pid}").text
    assert 'id="henvisning-referred_on"' in page
    assert 'value="2026-11-20"' in page  # the Copenhagen date
    bad = client.post(
        f"/borgere/{pid}/henvisning",
        data={"csrf_token": token, "referrer_kind": "nurse", "clinic": "Klinik Øst",
              "referred_on": "32-11-2026", "course_start_on": "2027-05-03",
              "reachable": "true"},
    )  # fmt: skip
    assert bad.status_code == 400
    assert "Datoen findes ikke" in bad.text
    assert 'value="Klinik Øst"' in bad.text
    assert 'value="32-11-2026"' in bad.text
    assert 'value="2027-05-03"' in bad.text
    assert '<option value="nurse" selected>' in bad.text
    assert 'id="henvisning-reachable" name="reachable" value="true" checked' in bad.text
    assert 'id="henvisning-norddjurs_link" name="norddjurs_link" value="true">' in bad.text
    future = client.post(
        f"/borgere/{pid}/henvisning",
        data={"csrf_token": token, "referrer_kind": "gp", "clinic": "Klinik Øst",
              "referred_on": "2026-12-24"},
    )  # fmt: skip
    assert future.status_code == 400
    assert "fremtiden" in future.text
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Referral)) == 0
    ok = client.post(
        f"/borgere/{pid}/henvisning",
        data={"csrf_token": token, "referrer_kind": "gp", "clinic": "Klinik Øst",
              "referred_on": "20-11-2026", "norddjurs_link": "true", "reachable": "true"},
    )  # fmt: skip
    assert ok.status_code == 303
    assert ok.headers["location"] == f"/borgere/{pid}?besked=referral-registered"
    shown = client.get(ok.headers["location"]).text
    assert "Henvisningen er registreret." in shown
    assert "Ikke kontaktet endnu" in shown


def test_deleting_a_contacted_citizen_removes_the_contact(
    pilot: Pilot, ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pilot.at(date(2026, 11, 20))
    pid = pilot.citizen()
    pilot.refer(pid, date(2026, 11, 20))
    with ctx.sessions() as session:
        referral = session.scalars(select(Referral.public_id)).one()
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    assert _contact(client, token, referral, contacted_on="2026-11-20", note="Note") == 303
    with session_scope(ctx.sessions) as session:
        citizen = session.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        delete_citizen(session, ctx.deps, pilot.actor, citizen, rule="pilot_end")
    assert _contacts(ctx) == []
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Referral)) == 0
    assert 'id="new-referrals-empty"' in client.get("/arbejdsliste").text


def test_two_kontaktet_at_once_store_one_contact(pilot: Pilot, ctx: AppContext) -> None:
    """Two navigators press "Kontaktet" on the same referral at the same moment: one
    contact is stored, the other is told it was already contacted."""
    pilot.at(date(2026, 11, 20))
    pid = pilot.citizen()
    pilot.refer(pid, date(2026, 11, 20))
    with ctx.sessions() as session:
        referral = session.scalars(select(Referral.public_id)).one()
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def press() -> None:
        start.wait()
        try:
            with session_scope(ctx.sessions) as session:
                referrals.contact_referral(
                    session, ctx.deps, pilot.actor, pilot.organisation_id, referral,
                    date(2026, 11, 20), "Ringede",
                )  # fmt: skip
            outcomes.append("stored")
        except InvalidInput as exc:
            outcomes.append(exc.message)

    threads = [threading.Thread(target=press) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["Henvisningen er allerede markeret som kontaktet.", "stored"]
    assert len(_contacts(ctx)) == 1
    assert len(pilot.events("referral.contacted")) == 1


def test_hostile_notes_are_refused_or_shown_as_text(
    pilot: Pilot, ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pilot.at(date(2026, 11, 20))
    pid = pilot.citizen()
    pilot.refer(pid, date(2026, 11, 20))
    with ctx.sessions() as session:
        referral = session.scalars(select(Referral.public_id)).one()
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    assert _contact(client, token, referral, contacted_on="2026-11-20", note="a\x00b") == 400
    assert _contacts(ctx) == []
    script = "<script>alert(1)</script>"
    assert _contact(client, token, referral, contacted_on="2026-11-20", note=script) == 303
    page = client.get(f"/borgere/{pid}").text
    assert script not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page

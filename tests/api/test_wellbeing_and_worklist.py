"""Pages of the schedule issue: the wellbeing questionnaire (captured only under a wellbeing
consent), the navigator's worklist, the data controller's counts, and the pilot-end deletion
confirmed with a fresh code."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from consent_service.citizens.models import Citizen, CitizenKey
from consent_service.clock import LEGAL_TZ, FixedClock
from consent_service.context import AppContext
from consent_service.retention.schedule import default_schedule
from consent_service.wellbeing.models import WellbeingResponse
from tests.conftest import current_code, enrolled_person, log_in
from tests.factories import synthetic_cpr
from tests.scenario import Pilot

REFERRED = date(2026, 11, 2)
ANSWERS = {"who5_1": "3", "who5_2": "3", "who5_3": "4", "who5_4": "2", "who5_5": "3"}


def _answer(client: TestClient, token: str, pid: str, **extra: str) -> int:
    data = {"occasion": "baseline", "answered_on": "2026-12-01", "life_satisfaction": "7",
            **ANSWERS, "csrf_token": token, **extra}  # fmt: skip
    return client.post(f"/borgere/{pid}/trivsel", data=data).status_code


def _stored(ctx: AppContext) -> int:
    with ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(WellbeingResponse)) or 0


@pytest.fixture
def pilot(ctx: AppContext, clock: FixedClock) -> Pilot:
    return Pilot.start(ctx, clock)


def test_answers_need_a_wellbeing_consent(
    pilot: Pilot, ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pilot.at(REFERRED)
    pid = pilot.citizen()
    pilot.refer(pid, REFERRED)
    pilot.at(date(2026, 12, 1))
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    page = client.get(f"/borgere/{pid}/trivsel")
    assert page.status_code == 200
    assert 'id="capture-refused"' in page.text
    assert "ikke et gyldigt samtykke til trivselsdata" in page.text
    assert _answer(client, token, pid) == 409
    assert _stored(ctx) == 0


def test_answers_are_scored_sealed_and_refused_after_withdrawal(
    pilot: Pilot, ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pilot.at(REFERRED)
    pid = pilot.citizen()
    pilot.refer(pid, REFERRED)
    consent_pid = pilot.sign(pid, "wellbeing", date(2026, 11, 20))
    pilot.at(date(2026, 12, 1))
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    assert _answer(client, token, pid) == 303
    page = client.get(f"/borgere/{pid}/trivsel").text
    # WHO-5 3+3+4+2+3 = 15 raw, 60 %; life satisfaction 7
    assert "<td>15</td><td>60</td><td>7</td>" in page
    with ctx.sessions() as session:
        [row] = session.scalars(select(WellbeingResponse)).all()
        assert b"who5" not in row.answers_sealed
        assert b"life_satisfaction" not in row.answers_sealed
    # A second baseline is refused; out-of-scale answers are refused; nothing stored.
    assert _answer(client, token, pid) == 409
    assert _answer(client, token, pid, occasion="follow_up", who5_1="6") in (400, 422)
    assert _answer(client, token, pid, occasion="follow_up", life_satisfaction="11") in (400, 422)
    assert _stored(ctx) == 1

    pilot.withdraw(pid, consent_pid, date(2026, 12, 10))
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    assert _answer(client, token, pid, occasion="follow_up", answered_on="2026-12-10") == 409
    assert _stored(ctx) == 1  # the answers already given stay until the worker deletes them


def test_a_citizen_under_18_gets_no_questionnaire(
    pilot: Pilot, ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pilot.at(REFERRED)
    pid = pilot.citizen(cpr="030310-4007")  # born 3 March 2010: 16 at referral
    pilot.refer(pid, REFERRED)
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    page = client.get(f"/borgere/{pid}/trivsel").text
    assert "under 18" in page
    assert _answer(client, token, pid, answered_on=REFERRED.isoformat()) == 409
    assert _stored(ctx) == 0


def test_worklist_for_the_navigator_and_counts_for_the_data_controller(
    pilot: Pilot, ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pilot.at(REFERRED)
    pid = pilot.citizen(name="Łukasz Śliwiński")
    pilot.refer(pid, REFERRED)
    pilot.sign(pid, "journal", date(2026, 11, 10))
    pilot.run(date(2027, 9, 10))  # 60 days before the consent expires on 2027-11-09
    log_in(client, enrolled_person(ctx, "navigator"), clock)
    page = client.get("/arbejdsliste")
    assert page.status_code == 200
    assert "Łukasz Śliwiński" in page.text
    assert "Nyt journalsamtykke" in page.text
    assert "09-11-2027" in page.text

    client.cookies.clear()
    log_in(client, enrolled_person(ctx, "data_controller"), clock)
    counts = client.get("/arbejdsliste/hold")
    assert counts.status_code == 200
    assert (
        '<td data-title="Hold">Hold 2</td><td data-title="Opgave">Nyt journalsamtykke</td>'
        '<td data-title="Skal gøres">1</td><td data-title="Forfaldne">0</td>'
    ) in counts.text
    assert "Śliwiński" not in counts.text
    assert client.get("/arbejdsliste").status_code == 403  # names are for navigators


def _pilot_end_day(days_after: int) -> datetime:
    day = default_schedule().pilot_end + timedelta(days=days_after)
    return datetime.combine(day, time(10), tzinfo=LEGAL_TZ)


def test_pilot_end_deletion_needs_the_end_and_a_fresh_code(
    pilot: Pilot, ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pilot.at(REFERRED)
    cpr = synthetic_cpr(date(1970, 5, 5), 77)
    pid = pilot.citizen(cpr=cpr)
    pilot.refer(pid, REFERRED)
    pilot.sign(pid, "journal", date(2026, 11, 10))
    controller = enrolled_person(ctx, "data_controller")
    token = log_in(client, controller, clock)
    before = client.get("/sletning")
    assert before.status_code == 200
    assert 'id="deletion-not-yet"' in before.text
    clock.advance(timedelta(seconds=30))  # a fresh code: only the date refuses
    r = client.post("/sletning", data={"confirm": "SLET", "code": current_code(controller, clock),
                                       "csrf_token": token})  # fmt: skip
    assert r.status_code == 409
    assert "først ske fra 01-07-2028" in r.text

    clock.set(_pilot_end_day(1))
    token = log_in(client, controller, clock)
    dry_run = client.get("/sletning")
    assert "<tr><td>Borgere</td><td>1</td></tr>" in dry_run.text
    assert 'id="deletion-form"' in dry_run.text
    wrong = client.post(
        "/sletning", data={"confirm": "SLET", "code": "000000", "csrf_token": token}
    )
    assert wrong.status_code == 409
    replayed = client.post(
        "/sletning", data={"confirm": "SLET", "code": current_code(controller, clock),
                           "csrf_token": token},
    )  # fmt: skip
    assert replayed.status_code == 409  # the login used this time step's code already
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CitizenKey)) == 1
    assert pilot.events("login.step_up") == []  # the early attempt's accepted code went
    # with its rolled-back action
    steps = [e.reason for e in pilot.events("login.step_up_failed")]
    assert steps == ["wrong code", "replayed code"]

    clock.advance(timedelta(seconds=30))
    code = current_code(controller, clock)
    done = client.post("/sletning", data={"confirm": "SLET", "code": code, "csrf_token": token})
    assert done.status_code == 200, done.text
    assert 'id="deletion-done"' in done.text
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CitizenKey)) == 0
        citizen = session.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        assert citizen.deleted_at is not None
        assert citizen.cpr_index is None
    [record] = pilot.events("retention.pilot_end_deleted")
    assert '"citizens":1' in record.details
    # The navigator can no longer find or open the citizen.
    client.cookies.clear()
    nav_token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    assert client.get(f"/borgere/{pid}").status_code == 404
    found = client.post("/borgere/soeg", data={"cpr": cpr, "csrf_token": nav_token})
    assert found.status_code == 404
    assert client.get("/sletning").status_code == 403

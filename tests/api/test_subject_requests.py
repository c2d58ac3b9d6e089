"""The register of data-subject requests (issue 17): registered, extended and answered on
the citizen's page; the organisation's open requests by deadline for the navigator (by
name) and the DPO (by pseudonymous id); the home pages' count; the overdue sweep and its
alert. As the attacker (another organisation's ids, the app's own database login, free
text kept out of the log) and as the newcomer (a typo keeps the form, nothing changes)."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from html import escape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import ProgrammingError

from consent_service.app import create_app
from consent_service.audit.models import AuditAlert, AuditEvent, AuditPending
from consent_service.audit.recorder import SYSTEM
from consent_service.citizens.models import Citizen
from consent_service.clock import LEGAL_TZ, FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.deletion.service import delete_citizen
from consent_service.subject_requests import service
from consent_service.subject_requests.models import SubjectRequest
from consent_service.worker.runner import housekeeping
from tests.conftest import Person, enrolled_person, log_in
from tests.scenario import Pilot

RECEIVED = date(2027, 3, 10)  # deadline 10-04-2027
REASON = "Borgeren har sendt ti anmodninger på én gang"
ANSWER = "Kopi af journalnotater sendt med Digital Post til Ayşe"


def _at(clock: FixedClock, day: date) -> None:
    clock.set(datetime.combine(day, time(10), tzinfo=LEGAL_TZ))


def _as(client: TestClient, person: Person, clock: FixedClock) -> str:
    client.cookies.clear()
    return log_in(client, person, clock)


def _citizen(ctx: AppContext, clock: FixedClock, org: str = "Region Midtjylland",
             name: str = "Ayşe Yılmaz") -> str:  # fmt: skip
    pilot = Pilot.start(ctx, clock, org_name=org)
    return pilot.citizen(name=name)


def _register(client: TestClient, token: str, pid: str, **data: str):  # type: ignore[no-untyped-def]
    body = {"kind": "access", "channel": "letter", "received_on": RECEIVED.isoformat()}
    return client.post(f"/borgere/{pid}/anmodninger", data={**body, **data, "csrf_token": token})


def _requests(ctx: AppContext) -> list[SubjectRequest]:
    with ctx.sessions() as s:
        return list(s.scalars(select(SubjectRequest).order_by(SubjectRequest.id)).all())


def _events(ctx: AppContext, prefix: str = "subject_request.") -> list[tuple[str, str]]:
    with ctx.sessions() as s:
        sealed = [(e.action, e.details) for e in s.scalars(select(AuditEvent)).all()]
        staged = [(e.action, e.details) for e in s.scalars(select(AuditPending)).all()]
    return [(a, d or "") for a, d in [*sealed, *staged] if a.startswith(prefix)]


def test_a_request_is_registered_extended_and_answered_on_the_citizens_page(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _at(clock, RECEIVED)
    pid = _citizen(ctx, clock)
    token = _as(client, enrolled_person(ctx, "navigator"), clock)
    page = client.get(f"/borgere/{pid}").text
    assert "Anmodninger fra borgeren" in page
    assert "Ingen anmodninger registreret." in page

    r = _register(client, token, pid)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/borgere/{pid}?besked=request-registered"
    (req,) = _requests(ctx)
    assert (req.kind, req.channel, req.status) == ("access", "letter", "received")
    assert req.deadline_on == date(2027, 4, 10)
    page = client.get(f"/borgere/{pid}").text
    assert "Indsigt (art. 15)" in page
    assert "10-04-2027" in page
    assert "frist om 31 dage" in page

    _at(clock, date(2027, 4, 1))
    token = _as(client, enrolled_person(ctx, "navigator"), clock)
    r = client.post(
        f"/anmodninger/{req.public_id}/forlaeng",
        data={"new_deadline": "10-06-2027", "reason": REASON, "csrf_token": token},
    )
    assert r.status_code == 303, r.text
    (req,) = _requests(ctx)
    assert (req.status, req.extended_to, req.extended_on) == (
        "extended",
        date(2027, 6, 10),
        date(2027, 4, 1),
    )
    page = client.get(f"/borgere/{pid}").text
    assert escape(REASON) in page
    assert "Forlænget 01-04-2027 fra 10-04-2027" in page

    r = client.post(
        f"/anmodninger/{req.public_id}/besvar",
        data={"outcome": "answered", "answered_on": "2027-04-01", "note": ANSWER,
              "csrf_token": token},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    assert r.headers["location"].endswith("besked=request-answered")
    (req,) = _requests(ctx)
    assert (req.status, req.answered_on) == ("answered", date(2027, 4, 1))
    assert escape(ANSWER) in client.get(f"/borgere/{pid}").text

    # The free text is sealed, not stored or logged in the clear.
    assert req.extension_sealed is not None
    assert REASON.encode() not in req.extension_sealed
    assert req.answer_sealed is not None
    assert "Ayşe".encode() not in req.answer_sealed
    events = _events(ctx)
    assert [a for a, _ in events] == [
        "subject_request.registered",
        "subject_request.extended",
        "subject_request.answered",
    ]
    for _, details in events:
        assert "Borgeren" not in details
        assert "Ayşe" not in details
        assert json.loads(details)["request"] == req.public_id

    # Answered already: a second answer is refused (409), nothing changes.
    r = client.post(
        f"/anmodninger/{req.public_id}/besvar",
        data={"outcome": "refused", "answered_on": "2027-04-01", "note": "Igen",
              "csrf_token": token},
    )  # fmt: skip
    assert r.status_code == 409
    assert "Anmodningen er allerede afsluttet." in r.text
    assert _requests(ctx)[0].status == "answered"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kind": "hack"}, "kind", "Vælg, hvad borgeren anmoder om."),
        ({"channel": ""}, "channel", "Vælg, hvordan anmodningen kom."),
        ({"received_on": "31-02-2027"}, "received_on", "Datoen findes ikke."),
        ({"received_on": "i går"}, "received_on", "Skriv datoen som dd-mm-åååå."),
        ({"received_on": "2027-03-11"}, "received_on", "kan ikke ligge efter i dag"),
        ({"received_on": "2025-03-10"}, "received_on", "mere end et år tilbage"),
    ],
)
def test_a_typo_keeps_the_form_with_a_danish_message_and_changes_nothing(
    ctx: AppContext, client: TestClient, clock: FixedClock,
    data: dict[str, str], field: str, message: str,
) -> None:  # fmt: skip
    _at(clock, RECEIVED)
    pid = _citizen(ctx, clock)
    token = _as(client, enrolled_person(ctx, "navigator"), clock)
    r = _register(client, token, pid, **data)
    assert r.status_code == 400
    assert message in r.text
    assert f'id="anmodning-{field}-error"' in r.text
    assert 'id="anmodning-error-summary"' in r.text
    assert "<details open" in r.text
    assert _requests(ctx) == []
    assert _events(ctx) == []


def test_an_extension_after_the_deadline_is_refused_and_a_bad_date_is_a_field_error(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _at(clock, RECEIVED)
    pid = _citizen(ctx, clock)
    token = _as(client, enrolled_person(ctx, "navigator"), clock)
    assert _register(client, token, pid).status_code == 303
    (req,) = _requests(ctx)
    url = f"/anmodninger/{req.public_id}/forlaeng"

    r = client.post(url, data={"new_deadline": "11-06-2027", "reason": REASON,
                               "csrf_token": token})  # fmt: skip
    assert r.status_code == 400
    assert "dvs. til 10-06-2027" in r.text
    assert f"{escape(REASON)}</textarea>" in r.text
    r = client.post(url, data={"new_deadline": "10-06-2027", "reason": " ", "csrf_token": token})
    assert r.status_code == 400
    assert "Skriv begrundelsen, som borgeren får." in r.text

    _at(clock, date(2027, 4, 11))
    token = _as(client, enrolled_person(ctx, "navigator"), clock)
    r = client.post(url, data={"new_deadline": "10-06-2027", "reason": REASON,
                               "csrf_token": token})  # fmt: skip
    assert r.status_code == 409
    assert "kan ikke registreres bagefter" in r.text
    (req,) = _requests(ctx)
    assert (req.status, req.extended_to, req.extension_sealed) == ("received", None, None)
    assert [a for a, _ in _events(ctx)] == ["subject_request.registered"]
    page = client.get(f"/borgere/{pid}").text
    assert "overskredet" in page
    assert "Forlæng fristen" not in page  # no longer offered

    # Answered late: recorded, and marked as late.
    r = client.post(
        f"/anmodninger/{req.public_id}/besvar",
        data={"outcome": "refused", "answered_on": "11-04-2027",
              "note": "Åbenbart grundløs (art. 12, stk. 5)", "csrf_token": token},
    )  # fmt: skip
    assert r.status_code == 303
    assert r.headers["location"].endswith("besked=request-answered-late")
    assert json.loads(_events(ctx)[-1][1])["late"] is True


def test_the_open_list_by_deadline_names_citizens_for_the_navigator_only(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _at(clock, date(2027, 3, 1))
    first = _citizen(ctx, clock, name="Ayşe Yılmaz")
    second = _citizen(ctx, clock, name="Jens Ærø")
    nav = enrolled_person(ctx, "navigator")
    token = _as(client, nav, clock)
    assert _register(client, token, first, received_on="2027-03-01").status_code == 303
    assert _register(client, token, second, kind="erasure",
                     received_on="2027-02-10").status_code == 303  # fmt: skip
    _at(clock, date(2027, 3, 12))
    token = _as(client, nav, clock)
    page = client.get("/anmodninger").text
    # Nearest deadline first: 10-03 (overdue) before 01-04 (20 days left).
    assert page.index("Jens Ærø") < page.index(escape("Ayşe Yılmaz"))
    assert "overskredet" in page
    assert "frist om 20 dage" in page
    assert "Sletning (art. 17)" in page
    home = client.get("/").text
    assert "1 anmodning nærmer sig fristen" in home

    dpo = enrolled_person(ctx, "dpo")
    _as(client, dpo, clock)
    page = client.get("/anmodninger").text
    assert "Jens" not in page
    assert "Ayşe" not in page
    assert first in page
    assert second in page
    assert "overskredet" in page
    assert "1 anmodning nærmer sig fristen" in client.get("/").text
    assert client.get(f"/borgere/{first}").status_code == 403


def test_another_organisations_request_and_citizen_answer_404_and_nothing_changes(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _at(clock, RECEIVED)
    pid = _citizen(ctx, clock)
    token = _as(client, enrolled_person(ctx, "navigator"), clock)
    assert _register(client, token, pid).status_code == 303
    (req,) = _requests(ctx)

    stranger = enrolled_person(ctx, "navigator", org_name="Norddjurs Kommune")
    token = _as(client, stranger, clock)
    for url, data in (
        (f"/anmodninger/{req.public_id}/forlaeng", {"new_deadline": "2027-05-10", "reason": "x"}),
        (f"/anmodninger/{req.public_id}/besvar",
         {"outcome": "answered", "answered_on": "2027-03-10", "note": "x"}),
        ("/anmodninger/0123456789abcdef0123456789abcdef/besvar",
         {"outcome": "answered", "answered_on": "2027-03-10", "note": "x"}),
    ):  # fmt: skip
        r = client.post(url, data={**data, "csrf_token": token})
        assert r.status_code == 404, url
        assert req.public_id not in r.text
    assert _register(client, token, pid).status_code == 404
    # The first organisation's DPO learns that someone outside tried its citizen's request.
    with ctx.sessions() as s:
        probes = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "citizen.cross_organisation_probe")
        ).all()
        staged = s.scalars(
            select(AuditPending).where(AuditPending.action == "citizen.cross_organisation_probe")
        ).all()
        vias = sorted(json.loads(e.details or "{}")["via"] for e in [*probes, *staged])
        assert vias == ["open", "subject_request", "subject_request"]
        assert {e.resource_id for e in [*probes, *staged]} == {pid}
    page = client.get("/anmodninger").text
    assert req.public_id not in page
    assert pid not in page
    assert _requests(ctx)[0].status == "received"
    assert len(_requests(ctx)) == 1


def test_erasing_the_citizen_shreds_the_free_text_and_keeps_the_record(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _at(clock, RECEIVED)
    pid = _citizen(ctx, clock)
    token = _as(client, enrolled_person(ctx, "navigator"), clock)
    assert _register(client, token, pid, kind="erasure").status_code == 303
    (req,) = _requests(ctx)
    r = client.post(
        f"/anmodninger/{req.public_id}/besvar",
        data={"outcome": "answered", "answered_on": RECEIVED.isoformat(), "note": ANSWER,
              "csrf_token": token},
    )  # fmt: skip
    assert r.status_code == 303
    with session_scope(ctx.sessions) as s:
        citizen = s.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        delete_citizen(s, ctx.deps, SYSTEM, citizen, "erasure_request")
    with ctx.sessions() as s:
        citizen = s.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        (view,) = service.citizen_requests(s, ctx.deps, citizen, RECEIVED)
    assert view.answer_note is None
    assert (view.request.status, view.request.answered_on) == ("answered", RECEIVED)


def test_the_overdue_sweep_records_once_and_raises_one_alert(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _at(clock, RECEIVED)
    pid = _citizen(ctx, clock)
    late = _citizen(ctx, clock, name="Jens Ærø")
    token = _as(client, enrolled_person(ctx, "navigator"), clock)
    assert _register(client, token, pid).status_code == 303
    assert _register(client, token, late, kind="objection").status_code == 303
    on_time, answered_late = _requests(ctx)
    _at(clock, date(2027, 4, 10))  # the deadline day: not overdue yet
    housekeeping(ctx.sessions, ctx.deps)
    assert _events(ctx, "subject_request.overdue") == []
    _at(clock, date(2027, 4, 11))
    token = _as(client, enrolled_person(ctx, "navigator"), clock)
    with session_scope(ctx.sessions) as s:  # answered late, before any sweep saw it
        found, citizen = service.request_in_organisation(
            s, on_time.organisation_id, answered_late.public_id
        )
        service.answer(s, ctx.deps, SYSTEM, found, citizen, outcome="answered",
                       answered_on=date(2027, 4, 11), note="Svar sendt")  # fmt: skip
    for _ in range(3):
        housekeeping(ctx.sessions, ctx.deps)
        clock.advance(timedelta(hours=1))
    with ctx.sessions() as s:
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "subject_request.overdue")
        ).all()
        assert sorted(e.resource_id for e in events) == sorted(
            [on_time.public_id, answered_late.public_id]
        )
        assert {e.resource_type for e in events} == {"subject_request"}
        assert all(e.organisation_id == on_time.organisation_id for e in events)
        alerts = s.scalars(
            select(AuditAlert).where(AuditAlert.rule == "subject_request_overdue")
        ).all()
        assert sorted(a.subject for a in alerts) == sorted(
            [on_time.public_id, answered_late.public_id]
        )
    assert all(r.overdue_recorded_at is not None for r in _requests(ctx))
    _as(client, enrolled_person(ctx, "dpo"), clock)
    page = client.get("/dpo/alarmer").text
    assert "ikke besvaret inden for fristen" in page
    assert "Anmodning fra borger" in page


def test_the_applications_login_cannot_delete_a_request(
    ctx: AppContext, client: TestClient, clock: FixedClock, db_url: str
) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite has no logins: least privilege is PostgreSQL's")
    _at(clock, RECEIVED)
    pid = _citizen(ctx, clock)
    token = _as(client, enrolled_person(ctx, "navigator"), clock)
    assert _register(client, token, pid).status_code == 303
    engine = create_engine(db_url)  # the application login
    try:
        with pytest.raises(ProgrammingError, match="permission denied"), engine.begin() as conn:
            conn.execute(text("DELETE FROM subject_request"))
        with engine.begin() as conn:  # what it may do: read and update
            conn.execute(text("UPDATE subject_request SET handled_by = handled_by"))
            assert conn.execute(text("SELECT count(*) FROM subject_request")).scalar() == 1
    finally:
        engine.dispose()
    assert len(_requests(ctx)) == 1


def test_create_app_serves_the_list_only_to_whom_the_policy_allows(
    ctx: AppContext, clock: FixedClock
) -> None:
    with TestClient(create_app(ctx), follow_redirects=False) as c:
        _as(c, enrolled_person(ctx, "data_controller"), clock)
        r = c.get("/anmodninger")
        assert r.status_code == 403
        assert "Du har ikke adgang" in r.text

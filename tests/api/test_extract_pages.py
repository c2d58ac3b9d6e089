"""The extract pages: a data controller drafts, the same person is refused as approver by
the access policy, a second one approves only with a fresh code, then executes on the
planned day and downloads; the coverage plan page and API; other roles are refused."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from consent_service.audit.models import AuditEvent
from consent_service.clock import LEGAL_TZ, FixedClock
from consent_service.context import AppContext
from tests.conftest import current_code, enrolled_person, log_in
from tests.scenario import Pilot

REFERRED = date(2026, 11, 2)
DAY = date(2027, 6, 1)


def _seed(ctx: AppContext, clock: FixedClock) -> str:
    pilot = Pilot.start(ctx, clock)
    pilot.at(REFERRED)
    pid = pilot.citizen()
    pilot.refer(pid, REFERRED)
    pilot.sign(pid, "journal", date(2026, 11, 10))
    return pid


def _draft(client: TestClient, token: str, **extra: object) -> str:
    data = {
        "purpose": "payment_goal_1_regional",
        "cohort": "hold-2",
        "measurement_years": "1",
        "planned_on": DAY.isoformat(),
        "sources": ["sygesikring"],
        "fields": ["gp_contacts", "psychologist_contacts"],
        "csrf_token": token,
        **extra,
    }
    r = client.post("/udtraek", data=data)
    assert r.status_code == 303, r.text
    return r.headers["location"].split("?")[0].rsplit("/", 1)[1]


def test_draft_approve_with_a_fresh_code_execute_and_download(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _seed(ctx, clock)
    clock.set(datetime.combine(date(2027, 5, 20), time(10), tzinfo=LEGAL_TZ))
    requester = enrolled_person(ctx, "data_controller")
    approver = enrolled_person(ctx, "data_controller")
    token = log_in(client, requester, clock)
    public_id = _draft(client, token)
    page = client.get(f"/udtraek/{public_id}")
    assert 'id="awaiting"' in page.text
    # The requester cannot approve: the policy's not_self condition denies it (audited).
    clock.advance(timedelta(seconds=30))
    own = client.post(
        f"/udtraek/{public_id}/godkend",
        data={"code": current_code(requester, clock), "csrf_token": token},
    )
    assert own.status_code == 403

    client.cookies.clear()
    token = log_in(client, approver, clock)
    wrong = client.post(
        f"/udtraek/{public_id}/godkend", data={"code": "123456", "csrf_token": token}
    )
    # The same page again with the message beside the code (the form pattern).
    assert wrong.status_code == 400
    assert 'id="approve-code-error"' in wrong.text
    with ctx.sessions() as session:  # the wrong code is audited and counted all the same
        failures = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "login.step_up_failed")
        ).all()
    assert [e.actor_user_id for e in failures] == [approver.user_id]
    assert 'data-status="draft">Afventer godkendelse' in client.get(f"/udtraek/{public_id}").text
    clock.advance(timedelta(seconds=30))
    ok = client.post(
        f"/udtraek/{public_id}/godkend",
        data={"code": current_code(approver, clock), "comment": "OK", "csrf_token": token},
    )
    assert ok.status_code == 303
    assert 'data-status="approved">Godkendt' in client.get(f"/udtraek/{public_id}").text
    early = client.post(f"/udtraek/{public_id}/udfoer", data={"csrf_token": token})
    assert early.status_code == 409

    clock.set(datetime.combine(DAY, time(10), tzinfo=LEGAL_TZ))
    token = log_in(client, approver, clock)
    done = client.post(f"/udtraek/{public_id}/udfoer", data={"csrf_token": token})
    assert done.status_code == 303
    page = client.get(f"/udtraek/{public_id}").text
    assert 'id="included">1<' in page
    archive = client.post(f"/udtraek/{public_id}/hent", data={"csrf_token": token})
    assert archive.status_code == 200
    assert archive.headers["content-type"] == "application/zip"
    assert archive.content.startswith(b"PK")


def test_a_field_outside_the_policy_is_refused_on_the_page(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    token = log_in(client, enrolled_person(ctx, "data_controller"), clock)
    data = {
        "purpose": "payment_goal_1_regional",
        "cohort": "hold-2",
        "measurement_years": "1",
        "planned_on": DAY.isoformat(),
        "sources": ["sygesikring"],
        "fields": ["home_nursing"],
        "csrf_token": token,
    }
    r = client.post("/udtraek", data=data)
    # The same page again (the form pattern): the message, the choices kept.
    assert r.status_code == 400
    assert "Feltet &#39;Kommunal sygepleje&#39; hører ikke til formålet" in r.text
    assert "Vælg kun felter fra de valgte kilder." in r.text
    assert ".yaml" not in r.text
    # Beside the fields, the purpose kept: only its sources and fields are offered.
    assert 'id="fields-error"' in r.text
    assert 'id="chosen-purpose"' in r.text
    assert 'value="sygesikring" checked' in r.text
    assert 'value="home_nursing"' not in r.text
    visible = re.sub(r"<[^>]+>", " ", r.text)
    assert "home_nursing" not in visible
    assert "udtræk" in client.get("/udtraek").text.lower()


def test_coverage_page_and_api(ctx: AppContext, client: TestClient, clock: FixedClock) -> None:
    pid = _seed(ctx, clock)
    clock.set(datetime.combine(DAY, time(10), tzinfo=LEGAL_TZ))
    log_in(client, enrolled_person(ctx, "data_controller"), clock)
    page = client.get(
        "/udtraek/daekning", params={"hold": "hold-2", "maaling": 2, "dato": "2028-06-30"}
    )
    assert page.status_code == 200
    assert 'id="expire-before">1<' in page.text
    assert pid in page.text  # the pseudonymous id, never a name
    api = client.get(
        "/api/v1/extracts/coverage",
        params={"cohort": "hold-2", "measurement": 2, "planned_on": "2028-06-30"},
    )
    assert api.status_code == 200
    body = api.json()
    assert (body["covered"], body["covered_today"], body["expire_before"]) == (0, 1, 1)
    assert body["reconsent_by"] == [{"citizen": pid, "by": "2027-11-09"}]
    bad = client.get(
        "/api/v1/extracts/coverage",
        params={"cohort": "hold-9", "measurement": 2, "planned_on": "2028-06-30"},
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")


def test_navigators_and_the_dpo_cannot_reach_extracts(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    for role in ("navigator", "dpo", "administrator"):
        client.cookies.clear()
        log_in(client, enrolled_person(ctx, role), clock)
        assert client.get("/udtraek").status_code == 403
        assert client.get("/udtraek/daekning").status_code == 403


def test_another_organisations_request_is_not_found_on_every_route_like_an_unknown_id(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    """Isolation rests on the scoped loader: a data controller of another organisation
    gets exactly the answer an unknown id gets, on every route that names a request, and
    the request is left as it was."""
    clock.set(datetime.combine(date(2027, 5, 20), time(10), tzinfo=LEGAL_TZ))
    owner = enrolled_person(ctx, "data_controller")
    token = log_in(client, owner, clock)
    public_id = _draft(client, token)
    unknown = "0" * len(public_id)

    client.cookies.clear()
    stranger = enrolled_person(ctx, "data_controller", org_name="Region Hovedstaden")
    token = log_in(client, stranger, clock)

    def answers(request_id: str) -> list[tuple[int, str]]:
        clock.advance(timedelta(seconds=30))
        code = current_code(stranger, clock)
        responses = [
            client.get(f"/udtraek/{request_id}"),
            client.post(f"/udtraek/{request_id}/godkend", data={"code": code, "csrf_token": token}),
            client.post(f"/udtraek/{request_id}/afvis", data={"csrf_token": token}),
            client.post(f"/udtraek/{request_id}/udfoer", data={"csrf_token": token}),
            client.post(f"/udtraek/{request_id}/hent", data={"csrf_token": token}),
        ]
        # Each answer names its own request's id (for support): leave those out.
        return [(r.status_code, re.sub("[0-9a-f]{32}", "ID", r.text)) for r in responses]

    foreign = answers(public_id)
    assert [status for status, _ in foreign] == [404] * 5
    assert foreign == answers(unknown)

    client.cookies.clear()
    log_in(client, owner, clock)
    assert 'data-status="draft">Afventer godkendelse' in client.get(f"/udtraek/{public_id}").text

"""The DPO's review: a navigator's five failed logins become an alert, the log is filtered
to one citizen by CPR (never in a URL), a week is exported and verified outside the
service, and a citizen's access report is made as a page and a PDF."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select

from consent_service.app import create_app
from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import SYSTEM
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.oversight.alerts import evaluate_alerts
from tests.conftest import Person, csrf_from, enrolled_person, log_in
from tests.factories import synthetic_cpr

VERIFY = Path(__file__).resolve().parents[2] / "audit" / "verify.py"
NAME = "Łukasz Śliwiński"


def _client(ctx: AppContext) -> TestClient:
    return TestClient(create_app(ctx), follow_redirects=False)


@pytest.fixture
def navigator(ctx: AppContext) -> Person:
    return enrolled_person(ctx, "navigator")


@pytest.fixture
def dpo(ctx: AppContext) -> Person:
    return enrolled_person(ctx, "dpo")


def _citizen_with_history(ctx: AppContext, navigator: Person, clock: FixedClock) -> tuple[str, str]:
    """A navigator registers a citizen and opens the page; returns (CPR, public id)."""
    cpr = synthetic_cpr(date(1961, 4, 17))
    with _client(ctx) as client:
        token = log_in(client, navigator, clock)
        r = client.post(
            "/borgere/ny",
            data={
                "cpr": cpr,
                "name": NAME,
                "phone": "+45 12 34 56 78",
                "municipality": "Norddjurs",
                "gp_clinic": "Lægehuset Grenaa",
                "csrf_token": token,
            },
        )
        assert r.status_code == 303
        pid = r.headers["location"].split("?")[0].rsplit("/", 1)[1]
        assert client.get(f"/borgere/{pid}").status_code == 200
    return cpr, pid


def test_five_failed_logins_become_an_alert_the_dpo_acknowledges(
    ctx: AppContext, clock: FixedClock, navigator: Person, dpo: Person
) -> None:
    with _client(ctx) as attacker:
        for _ in range(5):
            token = csrf_from(attacker.get("/login").text)
            r = attacker.post(
                "/login",
                data={"username": navigator.username, "password": "forkert!", "csrf_token": token},
            )
            assert r.status_code == 401
            clock.advance(timedelta(minutes=1))
    with session_scope(ctx.sessions) as session:
        raised = evaluate_alerts(session, ctx.clock, ctx.audit, SYSTEM)
    # One account and one address (the test client's) each reached the threshold.
    assert sorted(a.rule for a in raised) == ["failed_logins_account", "failed_logins_address"]
    with session_scope(ctx.sessions) as session:
        assert evaluate_alerts(session, ctx.clock, ctx.audit, SYSTEM) == []  # no duplicates
    raised = [a for a in raised if a.rule == "failed_logins_account"]

    with _client(ctx) as client:
        token = log_in(client, dpo, clock)
        page = client.get("/dpo/alarmer").text
        assert navigator.username in page
        alert_id = raised[0].id
        too_short = client.post(
            f"/dpo/alarmer/{alert_id}/kvitter", data={"comment": "x", "csrf_token": token}
        )
        assert too_short.status_code in (400, 422)
        ok = client.post(
            f"/dpo/alarmer/{alert_id}/kvitter",
            data={"comment": "Brugeren havde glemt sin adgangskode", "csrf_token": token},
        )
        assert ok.status_code == 303
        assert f'id="alert-{alert_id}"' not in client.get("/dpo/alarmer").text
        rejected = client.get("/dpo/afvisninger").text
        assert navigator.username in rejected
        assert "login.password_failed" in rejected
    with ctx.sessions() as s:
        acks = s.scalars(select(AuditEvent).where(AuditEvent.action == "alert.acknowledged"))
        assert [e.actor_user_id for e in acks] == [dpo.user_id]


def test_dpo_filters_the_log_to_one_citizen_by_cpr(
    ctx: AppContext, clock: FixedClock, navigator: Person, dpo: Person
) -> None:
    cpr, pid = _citizen_with_history(ctx, navigator, clock)
    with _client(ctx) as client:
        token = log_in(client, dpo, clock)
        r = client.post("/dpo/log/borger", data={"cpr": cpr, "csrf_token": token})
        assert r.status_code == 303
        location = r.headers["location"]
        assert cpr not in location
        assert cpr.replace("-", "") not in location
        assert location == f"/dpo/log?borger={pid}"
        page = client.get(location).text
        assert "citizen.created" in page
        assert "citizen.read" in page
        assert NAME not in page  # metadata, not content
        assert cpr not in page

        missing = client.post(
            "/dpo/log/borger", data={"cpr": synthetic_cpr(date(1950, 1, 2)), "csrf_token": token}
        )
        assert missing.status_code == 404
        bad = client.post("/dpo/log/borger", data={"cpr": "123", "csrf_token": token})
        assert bad.status_code == 400

        by_user = client.get(f"/dpo/log?bruger={navigator.username}").text
        assert "citizen.created" in by_user
        unknown = client.get("/dpo/log?bruger=nobody")
        assert unknown.status_code == 400
        backwards = client.get("/dpo/log?fra=2026-11-20&til=2026-11-01")
        assert backwards.status_code == 400
        assert "Fra-datoen" in backwards.text
    with ctx.sessions() as s:
        lookups = s.scalars(select(AuditEvent).where(AuditEvent.action == "audit.citizen_lookup"))
        details = [(e.resource_id, e.details) for e in lookups]
    assert details[0][0] == pid
    assert all(cpr not in d and cpr.replace("-", "") not in d for _, d in details)


def test_log_pages_through_older_events(ctx: AppContext, clock: FixedClock, dpo: Person) -> None:
    with session_scope(ctx.sessions) as session:
        for i in range(120):
            ctx.audit.record(
                session,
                SYSTEM.as_user(dpo.user_id, dpo.username, dpo.organisation_id),
                action="audit.log_viewed",
                outcome="success",
                details={"n": i},
            )
    with _client(ctx) as client:
        log_in(client, dpo, clock)
        first = client.get("/dpo/log?handling=audit.log_viewed")
        assert first.status_code == 200
        assert 'id="older"' in first.text
        seqs_first = _seqs(first.text)
        assert len(seqs_first) == 50
        older = first.text.split('id="older" href="')[1].split('"')[0].replace("&amp;", "&")
        second = _seqs(client.get(older).text)
        assert max(second) < min(seqs_first)


def _seqs(html: str) -> list[int]:
    body = html.split('id="log">')[1].split("</table>")[0]
    return [int(cell.split('"')[0]) for cell in body.split('data-seq="')[1:]]


def test_dpo_sees_only_their_organisation(ctx: AppContext, clock: FixedClock, dpo: Person) -> None:
    elsewhere = enrolled_person(ctx, "navigator", org_name="Aarhus Kommune")
    other_cpr, other_pid = _citizen_with_history(ctx, elsewhere, clock)
    with _client(ctx) as client:
        token = log_in(client, dpo, clock)
        page = client.get("/dpo/log").text
        assert other_pid not in page
        assert elsewhere.username not in page
        lookup = client.post("/dpo/log/borger", data={"cpr": other_cpr, "csrf_token": token})
        assert lookup.status_code == 404


def test_export_a_week_verifies_outside_the_service(
    ctx: AppContext, clock: FixedClock, navigator: Person, dpo: Person, tmp_path: Path
) -> None:
    _citizen_with_history(ctx, navigator, clock)
    today = clock.now().date()
    with _client(ctx) as client:
        log_in(client, dpo, clock)
        overview = client.get("/dpo").text
        assert "BEGIN PUBLIC KEY" in overview
        r = client.get(f"/dpo/eksport?fra={today - timedelta(days=6)}&til={today}")
        assert r.status_code == 200
        assert r.headers["content-disposition"].startswith("attachment;")
        export = tmp_path / "week.jsonl"
        export.write_bytes(r.content)
        key = tmp_path / "key.pem"
        key.write_text(ctx.crypto.public_key_pem())

        ok = _verify(export, key)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert ok.stdout.startswith("OK")

        data = bytearray(export.read_bytes())
        at = data.index(b"citizen.created")
        data[at] = ord("C")
        tampered = tmp_path / "tampered.jsonl"
        tampered.write_bytes(bytes(data))
        bad = _verify(tampered, key)
        assert bad.returncode == 1
        assert bad.stdout.startswith("FAIL")

        too_long = client.get(f"/dpo/eksport?fra={today - timedelta(days=400)}&til={today}")
        assert too_long.status_code == 400
    with ctx.sessions() as s:
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "audit.exported")).all()


def _verify(export: Path, key: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFY), str(export), "--public-key", str(key)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_access_report_for_the_dpo_and_for_the_citizen(
    ctx: AppContext, clock: FixedClock, navigator: Person, dpo: Person
) -> None:
    cpr, pid = _citizen_with_history(ctx, navigator, clock)
    with _client(ctx) as client:
        token = log_in(client, dpo, clock)
        page = client.post(
            "/dpo/indsigt", data={"cpr": cpr, "version": "dpo", "csrf_token": token}
        ).text
        assert "Test navigator" in page  # the staff member, for the DPO's eyes
        assert "Medarbejder" in page
        citizen_page = client.post(
            "/dpo/indsigt", data={"cpr": cpr, "version": "borger", "csrf_token": token}
        ).text
        assert "Test navigator" not in citizen_page
        assert "Medarbejder" not in citizen_page
        pdf = client.post(
            "/dpo/indsigt",
            data={"cpr": cpr, "version": "borger", "format": "pdf", "csrf_token": token},
        )
        assert pdf.headers["content-type"] == "application/pdf"
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
        assert "Indsigt" in text
        assert "Test navigator" not in text
        bad = client.post("/dpo/indsigt", data={"cpr": cpr, "version": "alle", "csrf_token": token})
        assert bad.status_code == 400
    with ctx.sessions() as s:
        reports = s.scalars(select(AuditEvent).where(AuditEvent.action == "audit.access_report"))
        assert {e.resource_id for e in reports} == {pid}

"""The DPO's pages as the DPO reads them (issue 16): the log in Danish with local times and
names, one row per action (the permission decision folded in), field errors on the
filter and the CPR look-up, a CSV of the filter (audited, with its audit event or not at
all), links from rejected attempts and alerts to their rows, a confirmation for signing,
and a citizen's access report that names the register extracts that included them.

Attacker's tests: another organisation's citizen is "not found" in the same words as a
number nobody registered; a navigator is refused; hostile filter values are a 400 with a
message and nothing audited; no CPR number or name in an address or a log line."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import func, select

from consent_service.app import create_app
from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import SYSTEM
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.extracts import execution, requests
from consent_service.oversight.alerts import evaluate_alerts
from tests.conftest import (
    Person,
    allow_inserts,
    csrf_from,
    enrolled_person,
    log_in,
    refuse_inserts,
)
from tests.factories import synthetic_cpr
from tests.scenario import Pilot

NAME = "Łukasz Śliwiński"
ERROR_BESIDE_CPR = re.compile(
    r'id="(?:cpr-)?cpr-error"><span class="sr-only">Fejl: </span>([^<]*)</span>'
)
LOCAL_TIME = re.compile(r"\d\d-\d\d-\d{4} kl\. \d\d:\d\d(:\d\d)? \((CET|CEST)\)")


def _client(ctx: AppContext, **kwargs: object) -> TestClient:
    return TestClient(create_app(ctx), follow_redirects=False, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def navigator(ctx: AppContext) -> Person:
    return enrolled_person(ctx, "navigator")


@pytest.fixture
def dpo(ctx: AppContext) -> Person:
    return enrolled_person(ctx, "dpo")


def _count(ctx: AppContext, action: str) -> int:
    with ctx.sessions() as s:
        return s.scalar(select(func.count()).where(AuditEvent.action == action)) or 0


def _register(ctx: AppContext, person: Person, clock: FixedClock, cpr: str) -> str:
    with _client(ctx) as client:
        token = log_in(client, person, clock)
        r = client.post("/borgere/ny", data={
            "cpr": cpr, "name": NAME, "phone": "+45 12 34 56 78", "municipality": "Norddjurs",
            "gp_clinic": "Lægehuset Grenaa", "csrf_token": token,
        })  # fmt: skip
        assert r.status_code == 303
        pid = r.headers["location"].split("?")[0].rsplit("/", 1)[1]
        assert client.get(f"/borgere/{pid}").status_code == 200
        return pid


def _rows(page: str) -> list[str]:
    body = page.split('id="log">')[1].split("</table>")[0]
    return body.split("<tr id=")[1:]


def test_the_log_reads_in_danish_with_local_times_names_and_one_row_per_action(
    ctx: AppContext, clock: FixedClock, navigator: Person, dpo: Person
) -> None:
    _register(ctx, navigator, clock, synthetic_cpr(date(1961, 4, 17)))
    with _client(ctx) as client:
        log_in(client, navigator, clock)
        assert client.get("/dpo/log").status_code == 403  # "role navigator lacks audit:read"
    with session_scope(ctx.sessions) as session:
        who = SYSTEM.as_user(navigator.user_id, navigator.username, navigator.organisation_id)
        ctx.audit.record(session, who, action="access.denied", outcome="deny",
                         reason="condition not_self not met")  # fmt: skip
        ctx.audit.record(session, who, action="login.step_up_failed", outcome="failure",
                         reason="wrong code (account locked)")  # fmt: skip
    with _client(ctx) as client:
        log_in(client, dpo, clock)
        page = client.get("/dpo/log").text
        assert "Rollen har ikke denne adgang (Social navigatør)" in page
        assert "Betingelse ikke opfyldt: man kan ikke gøre det ved sin egen bruger" in page
        assert "Forkert kode; kontoen er nu spærret" in page
        for raw in ("not_self", "wrong code", "lacks audit:read"):
            assert raw not in page
        assert "Test navigator (navigator" in page  # the person by name
        assert LOCAL_TIME.search(page)
        # One row per action: the citizen's page view is one row, its permission
        # decision folded into it; the decision's own rows behind the filter.
        rows = _rows(page)
        assert not any('data-action="access.allowed"' in r for r in rows)
        read = next(r for r in rows if 'data-action="citizen.read"' in r)
        assert "Tilladt af adgangspolitikken (citizen:read" in read
        with_decisions = _rows(client.get("/dpo/log?beslutninger=ja").text)
        assert any('data-action="access.allowed"' in r for r in with_decisions)
        assert len(with_decisions) > len(rows)
    with ctx.sessions() as s:  # the raw decisions stay in the chain
        assert s.scalar(select(func.count()).where(AuditEvent.action == "access.allowed"))


def test_a_bad_date_keeps_the_filter_form_with_the_message_beside_the_field(
    ctx: AppContext, clock: FixedClock, dpo: Person
) -> None:
    with _client(ctx) as client:
        log_in(client, dpo, clock)
        before = _count(ctx, "audit.log_viewed")
        r = client.get(
            "/dpo/log?fra=31-02-2026&til=i+går&bruger=ingen.her&handling=login.succeeded"
        )
        assert r.status_code == 400
        page = r.text
        assert 'id="error-summary"' in page
        assert 'id="fra-error"' in page
        assert "Datoen findes ikke" in page
        assert 'id="til-error"' in page
        assert 'id="bruger-error"' in page
        assert "ingen bruger med det brugernavn" in page
        assert 'value="31-02-2026"' in page
        assert 'value="ingen.her"' in page
        assert re.search(r'<option value="login.succeeded" selected>', page)
        assert _count(ctx, "audit.log_viewed") == before  # nothing was searched
        later = client.get("/dpo/log?fra=2026-12-01&til=2026-11-01")
        assert later.status_code == 400
        assert "Fra-datoen skal ligge før til-datoen" in later.text


@pytest.mark.parametrize(
    "query",
    [
        "handling=%3Cscript%3Ealert(1)%3C/script%3E",
        "udfald=alt",
        "anmodning=%27%3B+DROP+TABLE+audit_event",
        "anmodning=" + "a" * 200,
        "bruger=%00admin",
        "foer=-1",
        "foer=1e9",
        "konto=x",
        "fra_nr=99999999999999999999",
        "borger=..%2F..%2Fetc",
        "beslutninger=kanske",
        "fra=%EF%BB%BF2026-01-01",
    ],
)
def test_hostile_filter_values_are_a_400_with_a_message_and_nothing_audited(
    ctx: AppContext, clock: FixedClock, dpo: Person, query: str
) -> None:
    with _client(ctx) as client:
        log_in(client, dpo, clock)
        before = _count(ctx, "audit.log_viewed"), _count(ctx, "audit.log_exported")
        for path in ("/dpo/log", "/dpo/log/csv"):
            r = client.get(f"{path}?{query}")
            assert r.status_code == 400, (path, query, r.status_code)
            # A NUL byte is refused before the page (web/textguard.py), also in Danish.
            assert 'id="error-summary"' in r.text or "%00" in query
            assert "<script>alert" not in r.text
        assert (_count(ctx, "audit.log_viewed"), _count(ctx, "audit.log_exported")) == before


def test_the_csv_of_a_filter_is_danish_local_and_audited_with_its_filter(
    ctx: AppContext, clock: FixedClock, navigator: Person, dpo: Person
) -> None:
    with session_scope(ctx.sessions) as session:
        who = SYSTEM.as_user(navigator.user_id, navigator.username, navigator.organisation_id)
        ctx.audit.record(session, who, action="access.denied", outcome="deny",
                         reason="=HYPERLINK(\"http://x\")")  # fmt: skip
    with _client(ctx) as client:
        log_in(client, dpo, clock)
        page = client.get("/dpo/log?handling=access.denied").text
        href = html.unescape(page.split('id="csv" href="')[1].split('"')[0])
        assert "handling=access.denied" in href
        r = client.get(href)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        assert r.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
        assert rows[0][:5] == ["Nr.", "Tidspunkt", "Bruger", "Handling", "Udfald"]
        assert len(rows) == 2
        assert LOCAL_TIME.fullmatch(rows[1][1])
        assert rows[1][2].startswith("Test navigator (")
        assert rows[1][3] == "Adgang nægtet" or rows[1][3] != "access.denied"
        assert rows[1][6].startswith("'=")  # never a formula in a spreadsheet
    with ctx.sessions() as s:
        exported = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "audit.log_exported")
        ).all()
        assert len(exported) == 1
        assert '"action":"access.denied"' in exported[0].details.replace(" ", "")
        assert '"rows":1' in exported[0].details.replace(" ", "")


def test_no_csv_leaves_without_its_audit_event(
    ctx: AppContext, clock: FixedClock, dpo: Person
) -> None:
    table = "audit_pending" if ctx.engine.dialect.name == "postgresql" else "audit_event"
    with _client(ctx, raise_server_exceptions=False) as client:
        log_in(client, dpo, clock)
        refuse_inserts(ctx, table)
        try:
            r = client.get("/dpo/log/csv")
        finally:
            allow_inserts(ctx, table)
        assert r.status_code >= 500
        assert not r.content.startswith(b"\xef\xbb\xbf")
        assert "text/csv" not in r.headers.get("content-type", "")


def test_navigator_is_refused_every_dpo_page(
    ctx: AppContext, clock: FixedClock, navigator: Person
) -> None:
    with _client(ctx) as client:
        token = log_in(client, navigator, clock)
        for path in ("/dpo/log", "/dpo/log/csv", "/dpo/afvisninger", "/dpo/indsigt"):
            assert client.get(path).status_code == 403, path
        r = client.post("/dpo/indsigt", data={"cpr": "010101-1234", "csrf_token": token})
        assert r.status_code == 403
        r = client.post("/dpo/log/borger", data={"cpr": "010101-1234", "csrf_token": token})
        assert r.status_code == 403


def test_the_cpr_lookup_keeps_its_form_and_another_organisations_citizen_is_not_found(
    ctx: AppContext,
    clock: FixedClock,
    dpo: Person,
    navigator: Person,
    capsys: pytest.CaptureFixture[str],
) -> None:
    own_cpr = synthetic_cpr(date(1961, 4, 17))
    own = _register(ctx, navigator, clock, own_cpr)
    elsewhere = enrolled_person(ctx, "navigator", org_name="Aarhus Kommune")
    other_cpr = synthetic_cpr(date(1972, 2, 2))
    _register(ctx, elsewhere, clock, other_cpr)
    nobody_cpr = synthetic_cpr(date(1973, 3, 3))
    with _client(ctx) as client:
        token = log_in(client, dpo, clock)
        typo = client.post("/dpo/log/borger", data={"cpr": "12-34", "csrf_token": token})
        assert typo.status_code == 400
        assert 'id="cpr-cpr-error"' in typo.text
        assert 'value="12-34"' in typo.text
        messages = []
        for cpr in (other_cpr, nobody_cpr):
            for path, data in (
                ("/dpo/log/borger", {"cpr": cpr}),
                ("/dpo/indsigt", {"cpr": cpr, "version": "dpo", "format": "side"}),
            ):
                r = client.post(path, data={**data, "csrf_token": token})
                assert r.status_code == 404
                messages += ERROR_BESIDE_CPR.findall(r.text)
        assert len(messages) == 4
        assert set(messages) == {
            "Ingen borger med det CPR-nummer er registreret i din organisation."
        }
        r = client.post("/dpo/log/borger", data={"cpr": own_cpr, "csrf_token": token})
        assert r.status_code == 303
        location = r.headers["location"]
        assert location == f"/dpo/log?borger={own}"
        page = client.get(location).text
        assert 'id="citizen-filter"' in page
        report = client.post(
            "/dpo/indsigt", data={"cpr": own_cpr, "version": "borger", "csrf_token": token}
        )
        assert report.status_code == 200
    out = capsys.readouterr()
    assert "audit.citizen_lookup" in out.out + out.err  # the log lines were captured
    digits = own_cpr.replace("-", "")
    for secret in (own_cpr, digits, other_cpr, NAME):
        assert secret not in out.out
        assert secret not in out.err


def test_signing_a_checkpoint_says_so(ctx: AppContext, clock: FixedClock, dpo: Person) -> None:
    with _client(ctx) as client:
        token = log_in(client, dpo, clock)
        r = client.post("/dpo/checkpoint", data={"csrf_token": token})
        assert r.status_code == 303
        assert r.headers["location"] == "/dpo?besked=checkpoint-signed"
        page = client.get(r.headers["location"]).text
        assert "Kædens hoved er signeret" in page
        assert 'id="last-cosignature"' in page
        verified = client.post("/dpo/verificer", data={"csrf_token": token})
        assert verified.status_code == 200
        assert "Loggen er intakt" in verified.text


def test_rejected_attempts_and_alerts_link_to_their_rows_by_id_and_name_the_user(
    ctx: AppContext, clock: FixedClock, navigator: Person, dpo: Person
) -> None:
    with _client(ctx) as attacker:
        for _ in range(5):
            token = csrf_from(attacker.get("/login").text)
            attacker.post("/login", data={
                "username": navigator.username, "password": "forkert!", "csrf_token": token,
            })  # fmt: skip
            clock.advance(timedelta(minutes=1))
    with session_scope(ctx.sessions) as session:
        evaluate_alerts(session, ctx.clock, ctx.audit, SYSTEM)
    with _client(ctx) as client:
        log_in(client, dpo, clock)
        rejected = client.get("/dpo/afvisninger").text
        assert "Test navigator (navigator" in rejected
        links = [html.unescape(h) for h in re.findall(r'class="log-link" href="([^"]+)"', rejected)]
        link = next(h for h in links if "login.password_failed" in h)
        assert navigator.username not in link
        assert "Test" not in link
        assert parse_qs(urlsplit(link).query)["konto"] == [str(navigator.user_id)]
        rows = _rows(client.get(link).text)
        assert len(rows) == 5
        assert all('data-action="login.password_failed"' in r for r in rows)

        alerts = client.get("/dpo/alarmer").text
        assert "Bruger Test navigator (navigator" in alerts
        alert_link = html.unescape(re.findall(r'class="log-link" href="([^"]+)"', alerts)[0])
        assert navigator.username not in alert_link
        shown = _rows(client.get(alert_link).text)
        assert len(shown) >= 5
        assert all("Test navigator" in r for r in shown)


def executed_extract(ctx: AppContext, clock: FixedClock) -> tuple[str, str, str]:
    """A regional extract executed with one citizen included and one excluded (no
    consent): (included CPR, excluded CPR, extract id). The clock is left on its day."""
    pilot = Pilot.start(ctx, clock)
    referred = date(2026, 11, 2)
    pilot.at(referred)
    included_cpr = synthetic_cpr(date(1960, 1, 1), 3)
    excluded_cpr = synthetic_cpr(date(1960, 1, 2), 3)
    included = pilot.citizen(cpr=included_cpr, name=NAME)
    excluded = pilot.citizen(cpr=excluded_cpr, name="Borger uden samtykke")
    for pid in (included, excluded):
        pilot.refer(pid, referred)
    pilot.sign(included, "journal", date(2026, 11, 10))
    people = [enrolled_person(ctx, "data_controller") for _ in range(2)]
    requester, approver = (SYSTEM.as_user(p.user_id, p.username, p.organisation_id) for p in people)
    day = date(2027, 11, 5)
    with session_scope(ctx.sessions) as session:
        data = requests.DraftInput(
            purpose="payment_goal_1_regional", sources=["sygesikring", "hospital"],
            fields=["gp_contacts", "acute_contacts"], cohort="hold-2", measurement_years=2,
            planned_on=day,
        )  # fmt: skip
        req = requests.draft(session, ctx.deps, requester, people[0].organisation_id, data)
        public_id = req.public_id
    with session_scope(ctx.sessions) as session:
        row = requests.request_in_organisation(session, people[0].organisation_id, public_id)
        requests.decide(session, ctx.deps, approver, row, approve=True, comment="ok")
    pilot.at(day)
    with session_scope(ctx.sessions) as session:
        row = requests.request_in_organisation(session, people[0].organisation_id, public_id)
        manifest = execution.execute_request(session, ctx.deps, requester, row)
    assert manifest["included"] == 1
    return included_cpr, excluded_cpr, public_id


def test_an_executed_extract_shows_in_the_report_of_an_included_citizen_only(
    ctx: AppContext, clock: FixedClock
) -> None:
    included_cpr, excluded_cpr, public_id = executed_extract(ctx, clock)
    dpo = enrolled_person(ctx, "dpo")
    with _client(ctx) as client:
        token = log_in(client, dpo, clock)
        page = client.post(
            "/dpo/indsigt", data={"cpr": included_cpr, "version": "borger", "csrf_token": token}
        ).text
        assert f'data-extract="{public_id}"' in page
        row_html = page.split(f'data-extract="{public_id}"')[1].split("</tr>")[0]
        assert "05-11-2027" in row_html
        assert "Betalingsmål 1, regionalt" in row_html
        assert "Region Midtjylland" in row_html
        assert "Sygesikringsregistret" in row_html
        assert "sundhedsloven § 42 d, stk. 1, og § 43, stk. 1" in row_html  # legal basis
        assert "Journalsamtykke" in row_html or "journal" in row_html.lower()
        assert "SHA-256" not in row_html  # the hash is for the DPO's version
        assert "Test data_controller" not in page  # no staff names for the citizen
        dpo_page = client.post(
            "/dpo/indsigt", data={"cpr": included_cpr, "version": "dpo", "csrf_token": token}
        ).text
        assert "Test data_controller" in dpo_page.split(f'data-extract="{public_id}"')[1]
        other = client.post(
            "/dpo/indsigt", data={"cpr": excluded_cpr, "version": "borger", "csrf_token": token}
        ).text
        assert public_id not in other
        assert 'id="no-extracts"' in other
        pdf = client.post("/dpo/indsigt", data={
            "cpr": included_cpr, "version": "borger", "format": "pdf", "csrf_token": token,
        })  # fmt: skip
        assert pdf.headers["content-type"] == "application/pdf"
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
        assert public_id in text.replace("\n", "")
        assert "Region Midtjylland" in text
        flat = " ".join(text.split())
        assert "Retsgrundlag" in flat
        assert "§ 43, stk. 1" in flat
        excluded_pdf = client.post("/dpo/indsigt", data={
            "cpr": excluded_cpr, "version": "borger", "format": "pdf", "csrf_token": token,
        })  # fmt: skip
        excluded_text = "".join(
            p.extract_text() for p in PdfReader(io.BytesIO(excluded_pdf.content)).pages
        )
        assert public_id not in excluded_text.replace("\n", "")
        assert "Du har ikke været med i et registerudtræk." in " ".join(excluded_text.split())
        assert "§ 43, stk. 1" not in " ".join(excluded_text.split())
    with ctx.sessions() as s:
        reports = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "audit.access_report")
        ).all()
        assert len(reports) == 5
        assert any('"format":"pdf"' in e.details.replace(" ", "") for e in reports)
        assert any('"extracts":1' in e.details.replace(" ", "") for e in reports)

"""A navigator registers a citizen, refers, prints both forms, records them signed, confirms
the journal entry, withdraws; the raw database never holds the CPR or name in clear."""

from __future__ import annotations

import json
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.consent import Consent as FhirConsent
from markupsafe import escape
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from consent_service.audit.models import AuditEvent
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from tests.conftest import csrf_from, enrolled_person, log_in, owner_engine
from tests.factories import synthetic_cpr, tiny_png

NAME = "Łukasz Śliwiński"
BIRTH = date(1961, 4, 17)


@pytest.fixture
def nav(ctx: AppContext, client: TestClient, clock: FixedClock) -> str:
    """The client logged in as a navigator; returns the CSRF token."""
    return log_in(client, enrolled_person(ctx, "navigator"), clock)


def register(client: TestClient, token: str, cpr: str, name: str = NAME) -> str:
    r = client.post(
        "/borgere/ny",
        data={
            "cpr": cpr,
            "name": name,
            "phone": "+45 12 34 56 78",
            "email": "borger@example.dk",
            "municipality": "Norddjurs",
            "gp_clinic": "Lægehuset Grenaa",
            "csrf_token": token,
        },
    )
    assert r.status_code == 303, r.text
    return r.headers["location"].split("?")[0].rsplit("/", 1)[1]


def refer(
    client: TestClient, token: str, pid: str, referred_on: date, course_start_on: date | None = None
) -> None:
    data = {
        "referrer_kind": "gp",
        "clinic": "Lægehuset Grenaa",
        "referred_on": referred_on.isoformat(),
        "norddjurs_link": "true",
        "reachable": "true",
        "csrf_token": token,
    }
    if course_start_on:
        data["course_start_on"] = course_start_on.isoformat()
    r = client.post(f"/borgere/{pid}/henvisning", data=data)
    assert r.status_code == 303, r.text


def print_form(client: TestClient, token: str, pid: str, kind: str) -> str:
    r = client.post(f"/borgere/{pid}/samtykke/{kind}/udskriv", data={"csrf_token": token})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    return r.headers["content-disposition"].split("-")[-1].removesuffix('.pdf"')


def record(
    client: TestClient,
    token: str,
    pid: str,
    kind: str,
    form_id: str,
    signed_on: date,
    scan: bytes | None = None,
):  # type: ignore[no-untyped-def]
    return client.post(
        f"/borgere/{pid}/samtykke/{kind}/registrer",
        data={
            "form_id": form_id,
            "signed_on": signed_on.isoformat(),
            "witness": "Nina",
            "csrf_token": token,
        },
        files={"scan": ("scan.png", scan if scan is not None else tiny_png(), "image/png")},
    )


def assert_on_citizen_page(
    r,  # type: ignore[no-untyped-def]
    prefix: str,
    field: str | None = None,
    value: str | None = None,
    *,
    name: str = NAME,
    status: int = 400,
    opened: str | None = None,
) -> str:
    """A consent form's mistake comes back on the citizen's page itself (not a page of its
    own): the page's <h1> is the citizen's name and the referral list is there; the one
    error summary, the form's (``prefix``), links to the field; the value typed is kept in
    the form; ``opened`` names the <details> held open around it. Returns the page."""
    assert r.status_code == status, r.text
    page: str = r.text
    assert f"<h1>{escape(name)}</h1>" in page
    assert '<table class="table table--compact table--responsive-headers" id="referrals"' in page
    assert page.count('data-module="error-summary"') == 1
    summary = page.split(f'id="{prefix}error-summary"')[1].split("</ul>")[0]
    if field is not None:
        assert f'<a href="#{prefix}{field}">' in summary
        assert f'id="{prefix}{field}"' in page
        # The summary heads the form's card: it comes before the form.
        assert page.index(f'id="{prefix}error-summary"') < page.index(f'id="{prefix}form"')
    if value is not None:
        form = page.split(f'id="{prefix}form"')[1].split("</form>")[0]
        assert f'value="{escape(value)}"' in form
    if opened is not None:
        assert f"<details open><summary>{opened}</summary>" in page
    return page


def _consent_id(ctx: AppContext, kind: str) -> str:
    from consent_service.consents.models import Consent

    with ctx.sessions() as s:
        return (
            s.scalars(
                select(Consent.public_id).where(Consent.kind == kind).order_by(Consent.id.desc())
            ).first()
            or ""
        )


def test_full_lifecycle(
    ctx: AppContext,
    client: TestClient,
    clock: FixedClock,
    nav: str,
    settings: object,
    tmp_path: Path,
) -> None:
    today = clock.now().date()
    cpr = synthetic_cpr(BIRTH)
    pid = register(client, nav, cpr)
    refer(client, nav, pid, today - timedelta(days=3), date(2026, 12, 1))
    page = client.get(f"/borgere/{pid}").text
    assert NAME in page
    assert cpr in page
    assert "Hold 2" in page

    forms = {kind: print_form(client, nav, pid, kind) for kind in ("journal", "wellbeing")}
    for kind, form_id in forms.items():
        assert record(client, nav, pid, kind, form_id, today).status_code == 303
    page = client.get(f"/borgere/{pid}").text
    assert page.count("state-given") == 2
    assert "Ikke bekræftet endnu" in page

    journal_id = _consent_id(ctx, "journal")
    r = client.post(
        f"/samtykker/{journal_id}/journal",
        data={"entered_on": today.isoformat(), "csrf_token": nav},
    )
    assert r.status_code == 303
    assert "Ikke bekræftet endnu" not in client.get(f"/borgere/{pid}").text

    wellbeing_id = _consent_id(ctx, "wellbeing")
    withdrawal = {"withdrawn_on": today.isoformat(), "channel": "phone", "csrf_token": nav}
    asked = client.post(f"/samtykker/{wellbeing_id}/tilbagekald", data=withdrawal)
    assert asked.status_code == 200
    assert "Bekræft tilbagekaldelsen" in asked.text
    assert "state-withdrawn" not in client.get(f"/borgere/{pid}").text  # not yet
    r = client.post(
        f"/samtykker/{wellbeing_id}/tilbagekald", data={**withdrawal, "confirmed": "ja"}
    )
    assert r.status_code == 303
    page = client.get(f"/borgere/{pid}").text
    assert page.count("state-given") == 1
    assert "state-withdrawn" in page

    receipt = client.get(f"/samtykker/{journal_id}/kvittering.pdf")
    assert receipt.content.startswith(b"%PDF-")
    fhir = client.get(f"/api/v1/consents/{journal_id}/fhir")
    assert fhir.json()["resourceType"] == "Consent"
    fhir_consent = FhirConsent.model_validate(fhir.json())  # raises if not valid FHIR R4
    assert fhir_consent.status == "active"
    iso = client.get(f"/api/v1/consents/{journal_id}/iso27560")
    assert iso.status_code == 200
    scan = client.get(f"/samtykker/{journal_id}/scanning")
    assert scan.content == tiny_png()

    # The audit log names the citizen only by pseudonymous id.
    with ctx.sessions() as s:
        events = s.scalars(select(AuditEvent)).all()
    dumped = json.dumps([[e.details, e.resource_id, e.reason] for e in events])
    assert cpr not in dumped
    assert cpr.replace("-", "") not in dumped
    assert "Śliwiński" not in dumped
    actions = {e.action for e in events if e.resource_id == pid}
    assert {
        "citizen.created",
        "citizen.read",
        "referral.created",
        "consent.printed",
        "consent.recorded",
        "consent.journal_confirmed",
        "consent.withdrawn",
        "consent.exported",
    } <= actions

    _assert_not_in_raw_database(ctx, cpr, tmp_path)


def _assert_not_in_raw_database(ctx: AppContext, cpr: str, tmp_path: Path) -> None:
    url = ctx.settings.database_url
    needles = [
        cpr.encode(),
        cpr.replace("-", "").encode(),
        NAME.encode(),
        b"Sliwi",
        "Śliwiński".encode("utf-16-le"),
    ]
    if url.startswith("sqlite"):
        ctx.engine.dispose()
        base = Path(url.removeprefix("sqlite:///"))
        blobs = [p.read_bytes() for p in (base, Path(f"{base}-wal")) if p.exists()]
    else:
        dump = tmp_path / "dump.sql"
        conninfo = url.replace("postgresql+psycopg://", "postgresql://")
        subprocess.run(
            ["pg_dump", "--no-owner", "-f", str(dump), conninfo], check=True, timeout=120
        )
        blobs = [dump.read_bytes()]
    assert blobs
    for blob in blobs:
        for needle in needles:
            assert needle not in blob


def test_under_18_gets_the_offer_but_no_data_collection(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    # Referred in 1992, aged 16: the clock goes back so the synthetic (pre-1980) number fits.
    clock.set(clock.now().replace(year=1992))
    today = clock.now().date()
    pid = register(client, nav, synthetic_cpr(date(1976, 2, 29)), name="Ung Borger")
    refer(client, nav, pid, today)
    page = client.get(f"/borgere/{pid}").text
    assert "under 18 år" in page
    assert "Udskriv samtykkeerklæring" not in page
    r = client.post(f"/borgere/{pid}/samtykke/journal/udskriv", data={"csrf_token": nav})
    assert r.status_code == 409
    # A signed form posted all the same comes back on the citizen's page: there is no
    # consent card, so the form's summary stands under the reason.
    r = record(client, nav, pid, "journal", "0" * 32, today)
    page = assert_on_citizen_page(r, "journal-record-", name="Ung Borger")
    assert page.index('id="no-data-collection"') < page.index('id="journal-record-error-summary"')
    assert "state-given" not in client.get(f"/borgere/{pid}").text


def test_refusal_never_blocks_the_course(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    pid = register(client, nav, synthetic_cpr(BIRTH, 1))
    refer(client, nav, pid, today)
    r = client.post(
        f"/borgere/{pid}/samtykke/journal/afslag",
        data={"decided_on": today.isoformat(), "csrf_token": nav},
    )
    assert r.status_code == 303
    page = client.get(f"/borgere/{pid}").text
    assert "state-refused" in page
    refer(client, nav, pid, today, date(2026, 12, 1))  # the course goes on
    assert client.get(f"/borgere/{pid}").text.count("Lægehuset Grenaa</td>") == 2


def test_bad_input_changes_nothing(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    bad = client.post(
        "/borgere/ny",
        data={
            "cpr": "320190-1234",
            "name": "X",
            "municipality": "Norddjurs",
            "gp_clinic": "Y",
            "csrf_token": nav,
        },
    )
    assert bad.status_code == 400
    # The typed CPR comes back only as the field's value (the form pattern keeps what was
    # typed, so a typo can be fixed), never in the message, and the page is not cached.
    assert bad.text.count("320190") == 1
    assert 'value="320190-1234"' in bad.text
    assert bad.headers["cache-control"] == "no-store"
    assert "Datoen i CPR-nummeret findes ikke." in bad.text
    cpr = synthetic_cpr(BIRTH, 2)
    pid = register(client, nav, cpr)
    dup = client.post(
        "/borgere/ny",
        data={
            "cpr": cpr.replace("-", ""),
            "name": "Dublet",
            "municipality": "Norddjurs",
            "gp_clinic": "Y",
            "csrf_token": nav,
        },
    )
    assert dup.status_code == 400
    assert "allerede registreret" in dup.text
    assert f'href="/borgere/{pid}" id="existing-citizen-link"' in dup.text
    refer(client, nav, pid, today)
    form_id = print_form(client, nav, pid, "journal")
    future = record(client, nav, pid, "journal", form_id, today + timedelta(days=1))
    tomorrow = (today + timedelta(days=1)).isoformat()
    page = assert_on_citizen_page(future, "journal-record-", "signed_on", tomorrow)
    assert "Vælg filen igen" in page  # a page cannot give the scan back
    assert "Nina" in page.split('id="journal-record-form"')[1]  # the witness typed is kept
    before = record(client, nav, pid, "journal", form_id, today - timedelta(days=1))
    assert before.status_code == 400
    not_image = record(
        client,
        nav,
        pid,
        "journal",
        form_id,
        today,
        scan=b"MZ\x90\x00 this is an executable renamed to png",
    )
    assert not_image.status_code == 400
    assert "PDF-, PNG- eller JPEG" in not_image.text
    page = client.get(f"/borgere/{pid}").text
    assert "state-given" not in page
    assert record(client, nav, pid, "journal", form_id, today).status_code == 303
    again = record(client, nav, pid, "journal", form_id, today)
    assert again.status_code == 400


def test_search_by_cpr_and_isolation_between_organisations(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    cpr = synthetic_cpr(BIRTH, 3)
    pid = register(client, nav, cpr)
    found = client.post("/borgere/soeg", data={"cpr": cpr.replace("-", ""), "csrf_token": nav})
    assert found.headers["location"] == f"/borgere/{pid}"
    with ctx.sessions() as s:
        search = s.scalars(select(AuditEvent).where(AuditEvent.action == "citizen.searched")).all()[
            -1
        ]
    assert search.resource_id == pid
    details = json.loads(search.details)
    assert details == {
        "criterion": "cpr",
        "criterion_hash": details["criterion_hash"],
        "found": True,
    }
    assert len(details["criterion_hash"]) == 64

    other = TestClient(client.app, follow_redirects=False)
    token = log_in(other, enrolled_person(ctx, "navigator", org_name="Anden Region"), clock)
    # Another organisation's citizen is not found, as an unknown one (tests/api/test_probes.py).
    assert other.get(f"/borgere/{pid}").status_code == 404
    miss = other.post("/borgere/soeg", data={"cpr": cpr, "csrf_token": token})
    assert miss.status_code == 404
    assert (
        other.post(
            f"/borgere/{pid}/samtykke/journal/udskriv", data={"csrf_token": token}
        ).status_code
        == 404
    )


def test_administrator_cannot_read_citizens(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    pid = register(client, nav, synthetic_cpr(BIRTH, 4))
    admin = TestClient(client.app, follow_redirects=False)
    log_in(admin, enrolled_person(ctx, "administrator"), clock)
    assert admin.get(f"/borgere/{pid}").status_code == 403
    assert admin.get("/borgere").status_code == 403


def test_list_page_is_audited_per_citizen(ctx: AppContext, client: TestClient, nav: str) -> None:
    pids = {
        register(client, nav, synthetic_cpr(BIRTH, 5 + i), name=f"Borger {i}") for i in range(3)
    }
    r = client.get("/borgere")
    assert all(f"Borger {i}" in r.text for i in range(3))
    with ctx.sessions() as s:
        listed = {
            e.resource_id
            for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "citizen.listed"))
        }
    assert pids <= listed


def test_csrf_token_from_page(client: TestClient, nav: str) -> None:
    assert csrf_from(client.get("/borgere").text) == nav


def test_journal_consent_covers_364_days_later_and_not_366(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    person = enrolled_person(ctx, "navigator")
    nav = log_in(client, person, clock)
    signed = clock.now().date()
    pid = register(client, nav, synthetic_cpr(BIRTH, 2))
    refer(client, nav, pid, signed)
    form_id = print_form(client, nav, pid, "journal")
    assert record(client, nav, pid, "journal", form_id, signed).status_code == 303
    consent_id = _consent_id(ctx, "journal")
    client.post(
        f"/samtykker/{consent_id}/journal",
        data={"entered_on": signed.isoformat(), "csrf_token": nav},
    )

    def state_after(days: int) -> str:
        clock.set(clock.now().replace(year=signed.year, month=signed.month, day=signed.day))
        clock.advance(timedelta(days=days))
        fresh = TestClient(client.app, follow_redirects=False)
        log_in(fresh, person, clock)
        return fresh.get(f"/api/v1/consents/{consent_id}/fhir").json()["status"]

    assert state_after(364) == "active"
    assert state_after(366) == "inactive"
    clock.advance(timedelta(minutes=5))
    fresh = TestClient(client.app, follow_redirects=False)
    log_in(fresh, person, clock)
    page = fresh.get(f"/borgere/{pid}").text
    assert "state-expired" in page
    assert "Udløbet" in page


def test_a_wrong_record_is_invalidated_not_edited(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    from consent_service.consents.models import Consent, ConsentEvent

    today = clock.now().date()
    pid = register(client, nav, synthetic_cpr(BIRTH, 3))
    refer(client, nav, pid, today)
    record(client, nav, pid, "wellbeing", print_form(client, nav, pid, "wellbeing"), today)
    consent_id = _consent_id(ctx, "wellbeing")

    bad = client.post(
        f"/samtykker/{consent_id}/ugyldiggoer", data={"reason": "because", "csrf_token": nav}
    )
    assert_on_citizen_page(
        bad, f"invalidate-{consent_id}-", "reason", opened="Ret en forkert registrering"
    )
    asked = client.post(
        f"/samtykker/{consent_id}/ugyldiggoer",
        data={"reason": "scan_mismatch", "csrf_token": nav},
    )
    assert asked.status_code == 200
    assert "Bekræft, at registreringen er forkert" in asked.text
    r = client.post(
        f"/samtykker/{consent_id}/ugyldiggoer",
        data={"reason": "scan_mismatch", "csrf_token": nav, "confirmed": "ja"},
    )
    assert r.status_code == 303
    page = client.get(f"/borgere/{pid}").text
    assert "state-invalidated" in page
    assert "Scanningen svarer ikke til erklæringen" in page
    again = client.post(
        f"/samtykker/{consent_id}/ugyldiggoer",
        data={"reason": "scan_mismatch", "csrf_token": nav, "confirmed": "ja"},
    )
    assert_on_citizen_page(again, f"invalidate-{consent_id}-", status=409)
    assert "allerede ugyldiggjort" in again.text
    withdraw = client.post(
        f"/samtykker/{consent_id}/tilbagekald",
        data={
            "withdrawn_on": today.isoformat(),
            "channel": "phone",
            "csrf_token": nav,
            "confirmed": "ja",
        },
    )
    assert_on_citizen_page(withdraw, f"withdraw-{consent_id}-", status=409)

    # The database itself refuses to edit a recorded consent or its history: the
    # application login has no UPDATE on them (PostgreSQL), and a trigger refuses even the
    # owner.
    owner = owner_engine(ctx)
    postgres = ctx.engine.dialect.name == "postgresql"
    for statement in (
        "UPDATE consent SET decision = 'refused'",
        "UPDATE consent_event SET note = 'wrong_citizen'",
    ):
        refusal = "permission denied" if postgres else "never updated"
        with pytest.raises(DBAPIError, match=refusal), ctx.engine.begin() as conn:
            conn.execute(text(statement))
        with pytest.raises(DBAPIError, match="never updated"), owner.begin() as conn:
            conn.execute(text(statement))
    owner.dispose()

    # The original record is untouched; the correction is one appended event.
    with ctx.sessions() as s:
        consent = s.scalars(select(Consent).where(Consent.public_id == consent_id)).one()
        assert consent.decision == "given"
        events = s.scalars(select(ConsentEvent).where(ConsentEvent.consent_id == consent.id))
        assert [e.event_type for e in events] == ["invalidated"]
        audited = s.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "consent.invalidated")
        ).all()
    assert audited == ["consent.invalidated"]

    # A newly printed form records the right consent.
    record(client, nav, pid, "wellbeing", print_form(client, nav, pid, "wellbeing"), today)
    page = client.get(f"/borgere/{pid}").text
    assert "state-given" in page

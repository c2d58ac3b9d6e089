"""Printed forms find themselves: the short form code on the PDF, the printed PDF again
byte for byte, and a scan whose QR code picks the form (and is refused when it is another
citizen's, another kind's, another organisation's, already recorded, or not a form)."""

from __future__ import annotations

import hashlib
import io
import json
import re
from datetime import date, timedelta

import pypdfium2
import pytest
import segno
from fastapi.testclient import TestClient
from pypdf import PdfReader, PdfWriter
from sqlalchemy import select

from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import Actor
from consent_service.citizens.models import Citizen
from consent_service.citizens.vault import CitizenVault
from consent_service.clock import FixedClock
from consent_service.consents import printed, shortcode
from consent_service.consents.models import Consent, ConsentForm
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.deletion.service import delete_citizen
from tests.api.test_citizens_consents import BIRTH, assert_on_citizen_page, refer, register
from tests.api.test_scan_uploads import _bomb
from tests.conftest import enrolled_person, log_in
from tests.factories import synthetic_cpr, tiny_png


@pytest.fixture
def nav(ctx: AppContext, client: TestClient, clock: FixedClock) -> str:
    return log_in(client, enrolled_person(ctx, "navigator"), clock)


def _citizen(client: TestClient, token: str, today: date, n: int, name: str = "Åse Ørum") -> str:
    pid = register(client, token, synthetic_cpr(BIRTH, n), name)
    refer(client, token, pid, today)
    return pid


def _print(client: TestClient, token: str, pid: str, kind: str) -> tuple[str, bytes]:
    r = client.post(f"/borgere/{pid}/samtykke/{kind}/udskriv", data={"csrf_token": token})
    assert r.status_code == 200, r.text
    form_id = r.headers["content-disposition"].split("-")[-1].removesuffix('.pdf"')
    return form_id, r.content


def rendered_scan(pdf: bytes) -> bytes:
    """The printed PDF's first page as a PNG, as a scanner would deliver it."""
    document = pypdfium2.PdfDocument(pdf)
    image = document[0].render(scale=150 / 72, grayscale=True).to_pil()
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _qr_png(text: str) -> bytes:
    out = io.BytesIO()
    segno.make(text, error="l").save(out, kind="png", scale=4, border=4)
    return out.getvalue()


def _record(
    client: TestClient,
    token: str,
    pid: str,
    kind: str,
    scan: bytes,
    *,
    form_id: str = "",
    short_code: str = "",
    signed_on: str = "",
    name: str = "scan.png",
    content_type: str = "image/png",
):  # type: ignore[no-untyped-def]
    return client.post(
        f"/borgere/{pid}/samtykke/{kind}/registrer",
        data={
            "form_id": form_id,
            "short_code": short_code,
            "signed_on": signed_on,
            "witness": "Nina Navigatør",
            "csrf_token": token,
        },
        files={"scan": (name, scan, content_type)},
    )


def _recorded_form(ctx: AppContext, pid: str, kind: str) -> str | None:
    with ctx.sessions() as s:
        return s.scalar(
            select(Consent.form_id)
            .join(Citizen, Citizen.id == Consent.citizen_id)
            .where(Citizen.public_id == pid, Consent.kind == kind)
        )


def _form(ctx: AppContext, form_id: str) -> ConsentForm:
    with ctx.sessions() as s:
        form = s.scalar(select(ConsentForm).where(ConsentForm.form_id == form_id))
        assert form is not None
        return form


def test_the_pdf_carries_the_short_code_and_downloads_again_byte_for_byte(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    pid = _citizen(client, nav, clock.now().date(), 1)
    form_id, pdf = _print(client, nav, pid, "journal")
    form = _form(ctx, form_id)
    assert form.short_code is not None
    assert shortcode.is_valid(form.short_code)
    assert form.pdf_sha256 == hashlib.sha256(pdf).hexdigest()
    assert form.pdf_sealed is not None
    assert pdf not in form.pdf_sealed  # sealed, not in clear
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert f"Blanketkode:\n{form.code_shown}" in text or f"Blanketkode: {form.code_shown}" in text

    page = client.get(f"/borgere/{pid}").text
    assert f"Blanketkode {form.code_shown}" in page
    again = client.get(f"/borgere/{pid}/blanketter/{form_id}")
    assert again.status_code == 200
    assert again.headers["content-type"] == "application/pdf"
    assert again.content == pdf
    assert hashlib.sha256(again.content).hexdigest() == form.pdf_sha256
    with ctx.sessions() as s:
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "consent.form_downloaded")
        ).one()
    details = json.loads(event.details)
    assert {k: details[k] for k in ("kind", "form_id")} == {"kind": "journal", "form_id": form_id}
    assert len(details["text_sha256"]) == 64  # the log names the exact text (issue 17)
    assert event.resource_id == pid


def test_a_stored_pdf_that_does_not_match_its_hash_is_not_served(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    pid = _citizen(client, nav, clock.now().date(), 2)
    form_id, _ = _print(client, nav, pid, "journal")
    with session_scope(ctx.sessions) as s:
        form = s.scalar(select(ConsentForm).where(ConsentForm.form_id == form_id))
        citizen = s.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert form is not None
        assert citizen is not None
        vault = CitizenVault(ctx.crypto)
        key = vault.unwrap(pid, citizen.wrapped_key)
        form.pdf_sealed = vault.seal_bytes(key, pid, f"form-pdf:{form_id}", b"%PDF-1.4 other")
    r = client.get(f"/borgere/{pid}/blanketter/{form_id}")
    assert r.status_code == 409
    assert "stemmer ikke med den registrerede kontrolsum" in r.text
    assert b"%PDF" not in r.content


def test_a_form_printed_before_pdfs_were_kept_says_so(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    pid = _citizen(client, nav, clock.now().date(), 3)
    form_id, _ = _print(client, nav, pid, "wellbeing")
    with session_scope(ctx.sessions) as s:
        form = s.scalar(select(ConsentForm).where(ConsentForm.form_id == form_id))
        assert form is not None
        form.pdf_sealed = None
        form.short_code = None
    page = client.get(f"/borgere/{pid}").text
    assert "Uden blanketkode" in page
    assert "kan ikke hentes igen" in page
    r = client.get(f"/borgere/{pid}/blanketter/{form_id}")
    assert r.status_code == 409
    assert "kan ikke hentes igen" in r.text


def test_another_organisation_cannot_download_a_form(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    pid = _citizen(client, nav, clock.now().date(), 4)
    form_id, _ = _print(client, nav, pid, "journal")
    other = TestClient(client.app, follow_redirects=False)
    log_in(other, enrolled_person(ctx, "navigator", org_name="Anden Region"), clock)
    assert other.get(f"/borgere/{pid}/blanketter/{form_id}").status_code == 404
    # Its own citizen with this organisation's form id: also unknown.
    assert client.get(f"/borgere/{pid}/blanketter/{'0' * 32}").status_code == 404
    assert client.get(f"/borgere/{pid}/blanketter/..%2F..%2Fetc").status_code == 404


def test_the_scans_qr_code_picks_the_form_without_choosing_an_id(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    pid = _citizen(client, nav, today, 5)
    first_id, first_pdf = _print(client, nav, pid, "journal")
    newest_id, _ = _print(client, nav, pid, "journal")  # preselected on the page
    page = client.get(f"/borgere/{pid}").text
    chosen = page.split('id="journal-record-form_id"')[1].split("</select>")[0]
    assert re.search(rf'<option value="{newest_id}"\s+selected>', chosen), chosen
    r = _record(client, nav, pid, "journal", rendered_scan(first_pdf), form_id=newest_id,
                signed_on=today.isoformat())  # fmt: skip
    assert r.status_code == 303, r.text
    assert r.headers["location"].endswith("?besked=consent-recorded")
    assert _recorded_form(ctx, pid, "journal") == first_id
    assert "Samtykket er registreret" in client.get(r.headers["location"]).text


def test_the_printed_pdf_itself_is_read_as_a_scan(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    pid = _citizen(client, nav, today, 6)
    form_id, pdf = _print(client, nav, pid, "wellbeing")
    r = _record(client, nav, pid, "wellbeing", pdf, signed_on=today.isoformat(),
                name="scan.pdf", content_type="application/pdf")  # fmt: skip
    assert r.status_code == 303, r.text
    assert _recorded_form(ctx, pid, "wellbeing") == form_id


def test_the_scans_qr_code_must_belong_to_the_citizen_and_kind(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    pid = _citizen(client, nav, today, 7)
    other = _citizen(client, nav, today, 8, name="Bo Berg")
    own_id, _ = _print(client, nav, pid, "journal")
    _, others_pdf = _print(client, nav, other, "journal")
    r = _record(client, nav, pid, "journal", rendered_scan(others_pdf), form_id=own_id,
                signed_on=today.isoformat())  # fmt: skip
    assert r.status_code == 400
    assert "Scanningens QR-kode skal tilhøre borgeren" in r.text
    assert "Bo Berg" not in r.text
    assert re.search(r'id="journal-record-scan"[^>]*aria-invalid="true"', r.text)
    assert _recorded_form(ctx, pid, "journal") is None

    _, wellbeing_pdf = _print(client, nav, pid, "wellbeing")
    r = _record(client, nav, pid, "journal", rendered_scan(wellbeing_pdf), form_id=own_id,
                signed_on=today.isoformat())  # fmt: skip
    assert r.status_code == 400
    assert "Erklæringen er et trivselssamtykke, ikke et journalsamtykke" in r.text
    assert _recorded_form(ctx, pid, "journal") is None


def test_a_qr_of_a_form_already_recorded_is_refused(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    pid = _citizen(client, nav, today, 9)
    _, pdf = _print(client, nav, pid, "wellbeing")
    scan = rendered_scan(pdf)
    assert (
        _record(client, nav, pid, "wellbeing", scan, signed_on=today.isoformat()).status_code == 303
    )
    # A new consent is due only after a withdrawal; then the old paper comes back.
    consent = client.get(f"/borgere/{pid}").text.split('id="consent-')[1].split('"')[0]
    client.post(f"/samtykker/{consent}/tilbagekald", data={
        "withdrawn_on": today.isoformat(), "channel": "letter", "confirmed": "ja",
        "csrf_token": nav})  # fmt: skip
    new_id, _ = _print(client, nav, pid, "wellbeing")
    again = _record(client, nav, pid, "wellbeing", scan, form_id=new_id,
                    signed_on=today.isoformat())  # fmt: skip
    assert again.status_code == 400
    assert printed.ALREADY_RECORDED in again.text


def test_a_foreign_or_garbage_qr_gets_the_unknown_form_message(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    pid = _citizen(client, nav, today, 10)
    own_id, _ = _print(client, nav, pid, "journal")

    other = TestClient(client.app, follow_redirects=False)
    token = log_in(other, enrolled_person(ctx, "navigator", org_name="Anden Region"), clock)
    foreign_pid = _citizen(other, token, today, 11, name="Fremmed Borger")
    _, foreign_pdf = _print(other, token, foreign_pid, "journal")

    answers = []
    for scan in (
        rendered_scan(foreign_pdf),
        _qr_png("0123456789abcdef0123456789abcdef"),  # a well-formed id that names nothing
        _qr_png("<script>alert(1)</script>"),
        _qr_png("x" * 2000),  # oversized payload
    ):
        r = _record(client, nav, pid, "journal", scan, form_id=own_id,
                    signed_on=today.isoformat())  # fmt: skip
        assert r.status_code == 400
        assert "Fremmed Borger" not in r.text
        assert "<script>alert" not in r.text
        answers.append(r.text.split('id="journal-record-error-summary"')[1].split("</ul>")[0])
    assert all(a == answers[0] for a in answers)
    assert "kendes ikke som en samtykkeerklæring" in answers[0]
    assert _recorded_form(ctx, pid, "journal") is None


def test_hostile_scans_are_refused_and_the_form_is_kept(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    pid = _citizen(client, nav, today, 12)
    own_id, _ = _print(client, nav, pid, "journal")
    writer = PdfWriter()
    for _ in range(500):
        writer.add_blank_page(width=595, height=842)
    many = io.BytesIO()
    writer.write(many)
    for scan, name, content_type, says in (
        (_bomb(), "bomb.png", "image/png", "for stort"),
        (many.getvalue(), "many.pdf", "application/pdf", "for mange sider"),
        (b"MZ\x90\x00 not a scan", "scan.png", "image/png", "PDF-, PNG- eller JPEG"),
    ):
        r = _record(client, nav, pid, "journal", scan, form_id=own_id, short_code="k7qm 4xp2",
                    signed_on=today.isoformat(), name=name, content_type=content_type)  # fmt: skip
        assert r.status_code == 400
        assert says in r.text
        assert 'value="k7qm 4xp2"' in r.text  # what was typed is kept
        assert 'aria-invalid="true"' in r.text
    assert _recorded_form(ctx, pid, "journal") is None


def test_the_typed_short_code_is_the_fallback_and_forgiving(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    pid = _citizen(client, nav, today, 13)
    first_id, _ = _print(client, nav, pid, "journal")
    newest_id, _ = _print(client, nav, pid, "journal")
    code = _form(ctx, first_id).short_code
    assert code is not None
    typed = f" {code[:4].lower()} - {code[4:]} ".replace("0", "o").replace("1", "l")

    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    r = _record(client, nav, pid, "journal", tiny_png(), form_id=newest_id, short_code=wrong,
                signed_on=today.isoformat())  # fmt: skip
    assert r.status_code == 400
    assert "Blanketkoden er ikke gyldig" in r.text
    assert f'value="{wrong}"' in r.text

    r = _record(client, nav, pid, "journal", tiny_png(), form_id=newest_id, short_code=typed,
                signed_on=today.isoformat())  # fmt: skip
    assert r.status_code == 303, r.text
    assert _recorded_form(ctx, pid, "journal") == first_id


def test_without_qr_or_code_the_chosen_form_is_recorded_and_mistakes_keep_the_form(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    pid = _citizen(client, nav, today, 14)
    form_id, _ = _print(client, nav, pid, "wellbeing")
    for signed_on, says in (
        ("31-02-2026", "Datoen findes ikke"),
        ("i går", "Skriv datoen som dd-mm-åååå"),
        ((today + timedelta(days=1)).isoformat(), "kan ikke ligge i fremtiden"),
        ((today - timedelta(days=1)).isoformat(), "før blanketten blev udskrevet"),
    ):
        r = _record(client, nav, pid, "wellbeing", tiny_png(), form_id=form_id,
                    signed_on=signed_on)  # fmt: skip
        page = assert_on_citizen_page(
            r, "wellbeing-record-", "signed_on", signed_on, name="Åse Ørum"
        )
        assert says in page
        assert "Vælg filen igen" in page.split('id="wellbeing-record-form"')[1]
        assert re.search(r'id="wellbeing-record-scan"[^>]*aria-invalid="true"', page)
    assert _record(client, nav, pid, "wellbeing", tiny_png(), form_id=form_id,
                   signed_on=today.isoformat()).status_code == 303  # fmt: skip


def test_deleting_a_citizen_drops_the_printed_pdfs(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    pid = _citizen(client, nav, clock.now().date(), 15)
    form_id, pdf = _print(client, nav, pid, "journal")
    person = enrolled_person(ctx, "data_controller")
    with session_scope(ctx.sessions) as s:
        citizen = s.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        actor = Actor(user_id=person.user_id, organisation_id=person.organisation_id)
        delete_citizen(s, ctx.deps, actor, citizen, rule="pilot_end")
    form = _form(ctx, form_id)
    assert form.pdf_sealed is None
    assert form.pdf_sha256 == hashlib.sha256(pdf).hexdigest()  # what was printed, by hash

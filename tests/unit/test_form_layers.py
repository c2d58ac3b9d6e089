"""The consent form's text laid out once per template and replayed (issue 18): a form looks
exactly as if it were laid out in one flow, is the same bytes whether its text came from the
cache or not, and its QR code is the exact matrix, readable by zxing-cpp and zbar."""

from __future__ import annotations

import io
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
import zxingcpp
from PIL import Image, ImageChops
from pypdf import PdfReader
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from consent_service.consents import form_pdf, pdf, qr
from consent_service.consents.pdf_layers import FontPrime, LayerCanvas, LayerError
from consent_service.consents.templates import cached_template, current_template
from consent_service.consents.views import ConsentFormInput

LONG_NAME = "Marie-Louise Østergaard Ågesen Bøgh-Kristensen Łukasiewicz Şahin Yılmaz " * 2


def _form(kind: str = "journal", **changes: Any) -> ConsentFormInput:
    template = cached_template(kind, "da", current_template(kind, "da").version)
    form = ConsentFormInput(
        form_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        kind=kind,
        version=template.version,
        language="da",
        title=template.title,
        body_markdown=template.body,
        text_sha256=template.sha256,
        citizen_name="Åse Ørum",
        citizen_cpr="010190-1234",
        organisation_name="Region Midtjylland",
        printed_on=date(2027, 3, 1),
        short_code="K7QM-4XP2",
    )
    return replace(form, **changes)


def _in_one_flow(form: ConsentFormInput) -> bytes:
    """The same form built as it was before the cache: head, text and closing as one story."""
    st = pdf._styles()
    story = [
        *form_pdf._form_head(form, st),
        *pdf._markdown(form.body_markdown, st),
        form_pdf._closing(st),
    ]
    footer = (
        f"Formular-id {form.form_id} · samtykke: {form.kind} · tekstversion {form.version}",
        f"Tekst SHA-256: {form.text_sha256[:16]}…",
    )
    buffer = io.BytesIO()
    doc = pdf._document(buffer, title=form.title, subject="")
    doc.build(story, canvasmaker=pdf._footer_canvas(footer))
    return buffer.getvalue()


def _pages(document: bytes, dpi: int = 100) -> list[Image.Image]:
    pages = pypdfium2.PdfDocument(document)
    return [page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L") for page in pages]


def _text(document: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


# --- the replayed text is the text laid out in one flow ---------------------------------------


@pytest.mark.parametrize(
    ("kind", "changes"),
    [
        ("journal", {}),
        ("wellbeing", {}),
        ("journal", {"citizen_name": LONG_NAME}),  # a head of three name lines
        ("wellbeing", {"citizen_name": LONG_NAME[:90], "short_code": ""}),
        ("journal", {"organisation_name": "Region Midtjylland, Sundhed og Omsorg " * 4}),
        ("journal", {"body_markdown": "\n\n".join([_form().body_markdown] * 3)}),  # 4+ pages
    ],
)
def test_a_form_looks_exactly_as_laid_out_in_one_flow(kind: str, changes: dict[str, str]) -> None:
    form = _form(kind, **changes)
    replayed, reference = _pages(form_pdf.render_form(form)), _pages(_in_one_flow(form))
    assert len(replayed) == len(reference)
    for ours, theirs in zip(replayed, reference, strict=True):
        assert ImageChops.difference(ours, theirs).getbbox() is None


def test_the_text_is_in_the_text_layer_in_reading_order() -> None:
    text = _text(form_pdf.render_form(_form(citizen_name=LONG_NAME)))
    name = text.find("Borgerens navn")
    body = text.find("Formål")
    signature = text.find("Underskrift")
    assert 0 <= name < body < signature
    assert "".join(LONG_NAME.split()) in "".join(text.split())


def test_each_template_text_is_its_own_layer() -> None:
    journal = _text(form_pdf.render_form(_form("journal")))
    wellbeing = _text(form_pdf.render_form(_form("wellbeing")))
    only_journal = "patientjournal"
    assert only_journal in journal
    assert only_journal not in wellbeing
    changed = _form(body_markdown=_form().body_markdown.replace("patientjournal", "lægejournal"))
    text = _text(form_pdf.render_form(changed))
    assert "lægejournal" in text
    assert only_journal not in text


# --- the cache changes nothing ------------------------------------------------------------------


def test_same_bytes_whether_the_text_was_cached_or_laid_out_again() -> None:
    form = _form()
    form_pdf.clear_form_layers()
    first = form_pdf.render_form(form)
    for name in ("Bo", LONG_NAME, LONG_NAME[:90]):  # other heads, other layers in between
        form_pdf.render_form(_form("wellbeing", citizen_name=name))
        form_pdf.render_form(_form(citizen_name=name))
    assert form_pdf.render_form(form) == first
    form_pdf.clear_form_layers()
    assert form_pdf.render_form(form) == first


def test_forms_rendered_in_parallel_threads_are_the_same_bytes() -> None:
    """The service renders in a thread pool: layers drawn concurrently, fonts shared."""
    forms = [
        _form(kind, citizen_name=name, form_id=f"{kind}-{n:04d}")
        for n, name in enumerate(["Bo", LONG_NAME, "Åse Ørum", LONG_NAME[:90]])
        for kind in ("journal", "wellbeing")
    ]
    alone = [form_pdf.render_form(f) for f in forms]
    form_pdf.clear_form_layers()
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(form_pdf.render_form, forms * 2)) == alone * 2


def test_the_layer_cache_is_bounded() -> None:
    form_pdf.clear_form_layers()
    for n in range(form_pdf.LAYER_CACHE_SIZE + 5):
        form_pdf.render_form(
            _form(organisation_name="Organisation " * (n % 30), citizen_name="x" * n)
        )
    assert form_pdf._text_layer.cache_info().currsize <= form_pdf.LAYER_CACHE_SIZE
    assert form_pdf._text_prime.cache_info().currsize <= form_pdf.PRIME_CACHE_SIZE


def test_cached_font_subsets_are_the_bytes_reportlab_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pdf.register_fonts()
    plain = TTFont(pdf.FONT, str(Path(pdf.__file__).parent / "fonts" / "DejaVuSans.ttf"))
    # More than 256 characters: two subsets.
    text = "Åse Ørum łş § " + "".join(chr(c) for c in range(0x100, 0x250))

    def drawn(line: str) -> bytes:
        buffer = io.BytesIO()
        canvas = Canvas(buffer, invariant=1)
        canvas.setFont(pdf.FONT, 12)
        canvas.drawString(10, 10, line)
        canvas.save()
        return buffer.getvalue()

    cached = [drawn(line) for line in (text, "abc", text)]
    monkeypatch.setitem(pdfmetrics._fonts, pdf.FONT, plain)
    assert [drawn(line) for line in (text, "abc", text)] == cached


# --- a layer that cannot be replayed faithfully is refused --------------------------------------


def _canvas(prime: FontPrime | None = None) -> LayerCanvas:
    pdf.register_fonts()
    canvas = LayerCanvas(io.BytesIO(), pagesize=A4, invariant=1, initialFontName=pdf.FONT)
    if prime is not None:
        prime.seed(canvas)
    return canvas


def test_a_layer_drawing_letters_outside_its_prime_is_refused() -> None:
    first = _canvas()
    first.setFont(pdf.FONT, 10)
    first.drawString(10, 10, "Æble og ål")
    prime = FontPrime.of(first)
    same = _canvas(prime)
    same.setFont(pdf.FONT, 10)
    same.drawString(10, 20, "ål og Æble")
    same.showPage()
    assert same.layer(prime).pages
    other = _canvas(prime)
    other.setFont(pdf.FONT, 10)
    other.drawString(10, 10, "Æble og øl")  # ø: a letter the prime has not numbered
    other.showPage()
    with pytest.raises(LayerError):
        other.layer(prime)


def test_a_layer_page_with_resources_a_replay_does_not_carry_is_refused() -> None:
    canvas = _canvas()
    canvas.setFillAlpha(0.5)
    canvas.rect(10, 10, 10, 10, fill=1)
    with pytest.raises(LayerError):
        canvas.showPage()


def test_a_prime_is_seeded_only_into_a_fresh_canvas() -> None:
    canvas = _canvas()
    canvas.setFont(pdf.FONT, 10)
    canvas.drawString(10, 10, "abc")
    with pytest.raises(LayerError):
        FontPrime.of(canvas).seed(canvas)


def test_long_values_are_wrapped_inside_their_column() -> None:
    width = 100.0
    word = "Ø" * 40  # one word wider than the column
    lines = form_pdf._wrapped(f"Åse {word} Bøgh", pdf.FONT, 11, width)
    assert len(lines) > 2
    assert all(pdfmetrics.stringWidth(line, pdf.FONT, 11) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == f"Åse{word}Bøgh"
    # White space and control characters as a paragraph sets them: one space between words.
    assert form_pdf._wrapped(" Åse\tØrum\n\x07Bøgh  ", pdf.FONT, 11, 500) == ["Åse Ørum Bøgh"]


# --- the QR code --------------------------------------------------------------------------------


def test_the_qr_path_is_the_code_matrix_module_for_module() -> None:
    value = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    matrix = form_pdf.qr_matrix(value)
    modules = len(matrix) + 2 * form_pdf.QR_QUIET_ZONE
    size, margin, scale = 185.0, 5.0, 4
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(size + 2 * margin, size + 2 * margin))
    form_pdf.QrPath(value, size).drawOn(canvas, margin, margin)
    canvas.save()
    image = pypdfium2.PdfDocument(buffer.getvalue())[0].render(scale=scale, grayscale=True)
    image = image.to_pil().convert("L")
    module = size * scale / modules
    for row in range(modules):
        for column in range(modules):
            inside = form_pdf.QR_QUIET_ZONE <= min(row, column) and max(row, column) < modules - 4
            dark = inside and matrix[row - 4][column - 4]
            x = margin * scale + (column + 0.5) * module
            y = margin * scale + (row + 0.5) * module  # image rows run downwards
            assert (image.getpixel((int(x), int(y))) < 128) == bool(dark), (row, column)
    decoded = zxingcpp.read_barcodes(image)
    assert [d.text for d in decoded] == [value]


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbar-tools is not installed")
def test_the_printed_qr_reads_back_with_zbar(tmp_path: Path) -> None:
    for kind in ("journal", "wellbeing"):
        form = _form(kind, form_id=f"{kind}-3c4b5a69788796a5b4c3d2e1f0")
        printed = form_pdf.render_form(form)
        scan = tmp_path / f"{kind}.png"
        _pages(printed, dpi=150)[0].save(scan)
        result = subprocess.run(
            ["zbarimg", "--quiet", "--raw", str(scan)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert result.stdout.strip() == form.form_id
        assert qr.qr_texts(printed, "application/pdf") == [form.form_id]

"""The printed consent form: an A4 Danish form, pre-filled for one citizen, to be signed
on paper (deterministic, as every PDF of `consent_service.consents.pdf`, whose fonts,
styles, Markdown subset, footer and page build it uses).

A form is the citizen's head (title, controller, the box with name, CPR, form id and QR),
then the template's text and the signature block, with a footer naming the form on every
page. The text and the signature block are the same for every form of a template, so they
are laid out and drawn once per (text, height of the head above it) into a `PageLayer`,
which each form replays under its own head and footers (`pdf_layers`); a form costs the
drawing of its head and the saving of the document (issue 18: about 2x a one-paragraph
PDF, where laying out the text for every form cost 5-9x).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator, Sequence
from typing import Any

import zxingcpp
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import Flowable, Frame, KeepTogether, Paragraph, Spacer, Table, TableStyle

from consent_service.consents.pdf import (
    _BOTTOM_MARGIN,
    _CONTENT_WIDTH,
    _CONTROL,
    _MARGIN,
    _TABLE_FONT,
    _TOP_MARGIN,
    AUTHOR,
    FONT,
    FONT_BOLD,
    _danish_date,
    _document,
    _draw_footer,
    _formatted_cpr,
    _kind_text,
    _markdown,
    _Styles,
    _styles,
    _text,
)
from consent_service.consents.pdf_layers import FontPrime, LayerCanvas, PageLayer
from consent_service.consents.views import ConsentFormInput

__all__ = ["QR_QUIET_ZONE", "QrPath", "clear_form_layers", "qr_matrix", "render_form"]


def _frame() -> Frame:
    """The frame SimpleDocTemplate lays the story into, on every page of `_document`."""
    return Frame(
        _MARGIN,
        _BOTTOM_MARGIN,
        A4[0] - 2 * _MARGIN,
        A4[1] - _TOP_MARGIN - _BOTTOM_MARGIN,
        id="normal",
    )


QR_QUIET_ZONE = 4  # modules of white around the code (ISO/IEC 18004)


class QrPath(Flowable):  # type: ignore[misc]  # reportlab is untyped
    """A QR code (error correction level M) drawn from its module matrix as one filled
    path: one rectangle per horizontal run of dark modules, each exactly on the module
    grid, with a quiet zone of ``QR_QUIET_ZONE`` modules.

    The matrix comes from zxing-cpp's encoder (the library that reads the QR back from
    scans; it chooses the mask by the standard's penalty rules, in C++): segno's
    pure-Python mask search took about 3 ms a form, more than the rest of the form."""

    def __init__(self, value: str, size: float) -> None:
        super().__init__()
        matrix = qr_matrix(value)
        self._runs = list(_dark_runs(matrix))
        self._modules = len(matrix) + 2 * QR_QUIET_ZONE
        self.width = self.height = size

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        # In module units, the origin at the symbol's top left corner and y downwards, so
        # every rectangle is written in whole numbers.
        module = self.width / self._modules
        canvas = self.canv
        canvas.saveState()
        canvas.transform(module, 0, 0, -module, 0, self.height)
        canvas.setFillColor(colors.black)
        q = QR_QUIET_ZONE
        rects = " ".join(
            f"{q + start} {q + row} {length} 1 re" for row, start, length in self._runs
        )
        canvas.addLiteral(f"{rects} f")
        canvas.restoreState()


def qr_matrix(value: str) -> list[bytes]:
    """The QR code (model 2, error correction level M) of `value`, one row of modules per
    item, 1 for a dark module; without the quiet zone."""
    code = zxingcpp.create_barcode(value, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = code.to_image(scale=1, add_quiet_zones=False)  # one pixel a module, 0 is dark
    height, width = image.shape
    if height != width or (width - 17) % 4 or not 21 <= width <= 177:
        raise ValueError(f"not a QR code symbol: {width}x{height} modules")
    pixels = bytes(memoryview(image))  # type: ignore[arg-type]  # a buffer; the stub omits it
    return [
        bytes(pixel < 128 for pixel in pixels[row * width : (row + 1) * width])
        for row in range(height)
    ]


def _dark_runs(matrix: Sequence[Sequence[int]]) -> Iterator[tuple[int, int, int]]:
    """(row, first column, length) of every horizontal run of dark modules."""
    for row, modules in enumerate(matrix):
        start = None
        for column, dark in enumerate((*modules, 0)):
            if dark and start is None:
                start = column
            elif not dark and start is not None:
                yield row, start, column - start
                start = None


_QR_COLUMN = 44 * mm  # the QR and, beneath it, the form code


# --- Consent form ---------------------------------------------------------------------------------

LAYER_CACHE_SIZE = 64  # layers (a few per template: heads of one to three name lines)
PRIME_CACHE_SIZE = 16  # font numberings, one per template text


def _wrapped(text: str, font: str, size: float, width: float) -> list[str]:
    """`text` broken into lines no wider than `width` (between words; a word wider than the
    line is broken between letters)."""
    lines: list[str] = []
    words = " ".join(_CONTROL.sub(" ", text).split())  # white space as a paragraph sets it
    for line in simpleSplit(words, font, size, width) or [""]:
        while pdfmetrics.stringWidth(line, font, size) > width and len(line) > 1:
            cut = len(line) - 1
            while cut > 1 and pdfmetrics.stringWidth(line[:cut], font, size) > width:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
        lines.append(line)
    return lines


class _FormBox(Flowable):  # type: ignore[misc]  # reportlab is untyped
    """The framed box at the head of a form: the citizen's fields (a small grey label over
    each value) on the left; the QR code and, beneath it, the short form code on the right.

    Drawn with plain strings, each value wrapped to its column: a table of paragraphs here
    cost more than all the rest of a form whose text is replayed."""

    _PAD_X = 6
    _PAD_Y = 5
    _LABEL = (FONT, 8, 10)  # font, size, leading
    _VALUE = (FONT, 11, 14)
    _GAP = 3 * mm  # between fields

    def __init__(self, fields: Sequence[tuple[str, str]], form_id: str, short_code: str) -> None:
        super().__init__()
        self._fields = fields
        self._qr = QrPath(form_id, _QR_COLUMN - 2 * self._PAD_X)
        self._short_code = _CONTROL.sub(" ", short_code)
        self._lines: list[tuple[str, list[str]]] = []

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        font, size, leading = self._VALUE
        column = available_width - _QR_COLUMN - 2 * self._PAD_X
        self._lines = [(label, _wrapped(v, font, size, column)) for label, v in self._fields]
        person = sum(self._LABEL[2] + leading * len(lines) for _, lines in self._lines)
        person += self._GAP * (len(self._lines) - 1)
        beside = self._qr.height + (2 * leading if self._short_code else 0)
        self.width = available_width
        self.height = max(person, beside) + 2 * self._PAD_Y
        return self.width, self.height

    def draw(self) -> None:
        canvas = self.canv
        canvas.saveState()
        canvas.setLineWidth(0.8)
        canvas.setStrokeColor(colors.black)
        canvas.rect(0, 0, self.width, self.height, stroke=1, fill=0)
        top = self.height - self._PAD_Y
        y = top
        for label, lines in self._lines:
            y = self._text(y, [label], self._LABEL, colors.grey)
            y = self._text(y, lines, self._VALUE, colors.black) - self._GAP
        x = self.width - _QR_COLUMN + self._PAD_X
        self._qr.drawOn(canvas, x, top - self._qr.height)
        if self._short_code:
            font, size, leading = self._VALUE
            y = top - self._qr.height - size
            canvas.setFillColor(colors.black)
            canvas.setFont(font, size)
            canvas.drawString(x, y, "Blanketkode:")
            canvas.setFont(FONT_BOLD, size)
            canvas.drawString(x, y - leading, self._short_code)
        canvas.restoreState()

    def _text(
        self, y: float, lines: Sequence[str], style: tuple[str, float, float], color: Any
    ) -> float:
        """Lines from `y` down, as a paragraph sets them (the first baseline one font size
        below the top); returns the y below them."""
        font, size, leading = style
        self.canv.setFillColor(color)
        self.canv.setFont(font, size)
        for line in lines:
            self.canv.drawString(self._PAD_X, y - size, line)
            y -= leading
        return y


def _form_head(form: ConsentFormInput, st: _Styles) -> list[Flowable]:
    """Everything above the template's text: what differs from one form to the next."""
    fields = [
        ("Borgerens navn", form.citizen_name),
        ("CPR-nr.", _formatted_cpr(form.citizen_cpr)),
        ("Samtykke", _kind_text(form.kind)),
        ("Formular-id", form.form_id),
    ]
    return [
        Paragraph(_text(form.title), st.title),
        Paragraph(
            f"Dataansvarlig: <b>{_text(form.organisation_name)}</b><br/>"
            f"{_text(AUTHOR)} · udskrevet {_danish_date(form.printed_on)}",
            st.subtitle,
        ),
        Spacer(1, 5 * mm),
        _FormBox(fields, form.form_id, form.short_code),
        Spacer(1, 6 * mm),
    ]


def _closing(st: _Styles) -> Flowable:
    """The tick boxes and the lines for signature and date, kept on one page."""
    width = _CONTENT_WIDTH
    decision = Table(
        [
            [
                Paragraph("☐ Jeg giver samtykke", st.value),
                Paragraph("☐ Jeg giver ikke samtykke", st.value),
            ]
        ],
        colWidths=[width / 2, width / 2],
        style=TableStyle([_TABLE_FONT, ("LEFTPADDING", (0, 0), (-1, -1), 0)]),
    )
    gap = 12 * mm
    signature = Table(
        [
            ["", "", ""],
            [Paragraph("Underskrift", st.label), "", Paragraph("Dato", st.label)],
        ],
        colWidths=[width * 0.6, gap, width * 0.4 - gap],
        rowHeights=[16 * mm, None],
        style=TableStyle(
            [
                _TABLE_FONT,
                ("LINEBELOW", (0, 0), (0, 0), 0.8, colors.black),
                ("LINEBELOW", (2, 0), (2, 0), 0.8, colors.black),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        ),
    )
    return KeepTogether(
        [
            Spacer(1, 6 * mm),
            Paragraph("Sæt ét kryds:", st.body),
            decision,
            Spacer(1, 4 * mm),
            signature,
        ]
    )


def _drawn_text(body_markdown: str, space_above: float, prime: FontPrime | None) -> LayerCanvas:
    """The template's text and the closing block, laid out below `space_above` points of
    the first page as `_document` would, drawn on a canvas that keeps the pages."""
    st = _styles()
    canvases: list[LayerCanvas] = []

    def make(*args: Any, **kwargs: Any) -> LayerCanvas:
        canvas = LayerCanvas(*args, **kwargs)
        if prime is not None:
            prime.seed(canvas)
        canvases.append(canvas)
        return canvas

    story = [Spacer(1, space_above), *_markdown(body_markdown, st), _closing(st)]
    _document(io.BytesIO(), title="", subject="").build(story, canvasmaker=make)
    (canvas,) = canvases
    return canvas


@functools.lru_cache(maxsize=PRIME_CACHE_SIZE)
def _text_prime(body_markdown: str) -> FontPrime:
    """The font numbering of a template's text: as drawing it on fresh pages numbers its
    characters. The same text draws the same characters in the same order wherever its
    page breaks fall, so one numbering serves its layers under heads of every height."""
    return FontPrime.of(_drawn_text(body_markdown, 0, None))


@functools.lru_cache(maxsize=LAYER_CACHE_SIZE)
def _text_layer(body_markdown: str, space_above: float) -> PageLayer:
    prime = _text_prime(body_markdown)
    return _drawn_text(body_markdown, space_above, prime).layer(prime)


def clear_form_layers() -> None:
    """Forget every laid-out template text (a form is the same bytes either way)."""
    _text_layer.cache_clear()
    _text_prime.cache_clear()


def render_form(form: ConsentFormInput) -> bytes:
    """An A4 Danish consent form, pre-filled for one citizen, to be signed on paper.

    The form id is printed as text and as a QR code, the short form code beside the QR
    ("Blanketkode: K7QM-4XP2") for typing when a scan cannot be read; the footer of every
    page names the form id, consent kind, template version and the template's SHA-256, so
    a signed, scanned page can be matched to the exact text the citizen read."""
    st = _styles()
    prime = _text_prime(form.body_markdown)
    buffer = io.BytesIO()
    doc = _document(buffer, title=form.title, subject=f"Samtykkeerklæring, formular {form.form_id}")
    # The canvas the document would build on (same metadata), numbered as the text's layer
    # before the head draws anything; the head's own letters are numbered after those.
    canvas = doc._makeCanvas(filename=buffer)
    prime.seed(canvas)

    head = _form_head(form, st)
    frame = _frame()
    top = frame._y
    frame.addFromList(head, canvas)  # as the document's first frame would place it
    if head:
        raise ValueError("the form's head does not fit on its first page")
    layer = _text_layer(form.body_markdown, top - frame._y)

    footer = (
        f"Formular-id {form.form_id} · samtykke: {form.kind} · tekstversion {form.version}",
        f"Tekst SHA-256: {form.text_sha256[:16]}…",
    )
    total = len(layer.pages)
    for number in range(1, total + 1):
        layer.replay(canvas, number - 1)
        _draw_footer(canvas, footer, number, total)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()

"""Deterministic PDF rendering of consent receipts, and what the consent form shares with
them: fonts, styles, the Markdown subset of the templates, the footer and the page build.
The form itself is `consent_service.consents.form_pdf`.

Pure functions of the views in `consent_service.consents.views`: no database, no clock, no
logging. The same view always gives the same bytes (reportlab `invariant=1`, fixed metadata),
so the SHA-256 of a printed document identifies it.

All text is set in DejaVu Sans, shipped in `consents/fonts/` and embedded as a TrueType subset:
Helvetica is not embedded and lacks letters such as ł, ş and ı found in citizens' names.

Longer than 450 lines because the receipt and the base the form is built on (fonts, styles,
Markdown subset, footer, page build) are one layout; only the form's own parts are apart.
"""

from __future__ import annotations

import functools
import io
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from consent_service import labels
from consent_service.consents.pdf_layers import SubsetCachingTTFont
from consent_service.consents.views import ConsentRecordView

__all__ = ["AUTHOR", "FONT", "FONT_BOLD", "register_fonts", "render_receipt"]

AUTHOR = "Sociale henvisninger Norddjurs"
FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
_FONT_DIR = Path(__file__).parent / "fonts"
_CREATOR = "consent-service"

_fonts_lock = threading.Lock()
_fonts_registered = False


def register_fonts() -> None:
    """Register the bundled DejaVu Sans TTFs with reportlab, once per process."""
    global _fonts_registered
    with _fonts_lock:
        if _fonts_registered:
            return
        pdfmetrics.registerFont(SubsetCachingTTFont(FONT, str(_FONT_DIR / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(
            SubsetCachingTTFont(FONT_BOLD, str(_FONT_DIR / "DejaVuSans-Bold.ttf"))
        )
        # Maps <b> in Paragraph markup to the bold face; there is no italic face.
        pdfmetrics.registerFontFamily(
            FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD
        )
        _fonts_registered = True


# --- Danish wording --------------------------------------------------------------------------

_MONTHS = (
    "januar", "februar", "marts", "april", "maj", "juni",
    "juli", "august", "september", "oktober", "november", "december",
)  # fmt: skip

_KINDS = {
    "journal": "Journaldata (Sundhedsloven § 42 d, stk. 1, og § 43, stk. 1)",
    "wellbeing": "Trivselsdata (databeskyttelsesforordningen art. 6 og 9)",
}

# W3C DPV consent status -> Danish.
_STATES = {
    "requested": "Anmodet (afventer svar)",
    "given": "Givet",
    "refused": "Afslået",
    "withdrawn": "Tilbagekaldt",
    "expired": "Udløbet",
    "invalidated": "Ugyldig",
}


def _danish_date(d: date) -> str:
    return f"{d.day}. {_MONTHS[d.month - 1]} {d.year}"


def _kind_text(kind: str) -> str:
    return _KINDS.get(kind, kind)


def _formatted_cpr(cpr: str) -> str:
    """DDMMYY-SSSS from either 10 digits or an already formatted number."""
    digits = "".join(ch for ch in cpr if ch.isdigit())
    if len(digits) == 10:
        return f"{digits[:6]}-{digits[6:]}"
    return cpr


# --- Markup ------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _text(value: str) -> str:
    """Plain text as Paragraph markup: every &, < and > is escaped."""
    return escape(_CONTROL.sub(" ", value))


def _inline(value: str) -> str:
    """Markdown inline text as Paragraph markup: only **bold** is interpreted."""
    return _BOLD.sub(r"<b>\1</b>", _text(value))


@dataclass(frozen=True)
class _Styles:
    title: ParagraphStyle
    subtitle: ParagraphStyle
    h1: ParagraphStyle
    h2: ParagraphStyle
    body: ParagraphStyle
    bullet: ParagraphStyle
    label: ParagraphStyle
    value: ParagraphStyle
    digest: ParagraphStyle
    code: ParagraphStyle


@functools.cache
def _styles() -> _Styles:
    """The styles, made once per process (they are never changed after)."""
    register_fonts()  # Paragraph resolves font names (and <b>) when it is constructed.
    body = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=14, spaceAfter=6)
    return _Styles(
        title=ParagraphStyle(
            "title", parent=body, fontName=FONT_BOLD, fontSize=17, leading=21, spaceAfter=2
        ),
        subtitle=ParagraphStyle(
            "subtitle", parent=body, fontSize=10, leading=13, textColor=colors.HexColor("#333333")
        ),
        h1=ParagraphStyle(
            "h1",
            parent=body,
            fontName=FONT_BOLD,
            fontSize=13,
            leading=17,
            spaceBefore=8,
            spaceAfter=4,
            keepWithNext=1,
        ),
        h2=ParagraphStyle(
            "h2",
            parent=body,
            fontName=FONT_BOLD,
            fontSize=11,
            leading=15,
            spaceBefore=6,
            spaceAfter=3,
            keepWithNext=1,
        ),
        body=body,
        bullet=ParagraphStyle("bullet", parent=body, spaceAfter=2),
        label=ParagraphStyle(
            "label", parent=body, fontSize=8, leading=10, spaceAfter=0, textColor=colors.grey
        ),
        value=ParagraphStyle("value", parent=body, fontSize=11, leading=14, spaceAfter=0),
        digest=ParagraphStyle("digest", parent=body, fontSize=8, leading=14, spaceAfter=0),
        code=ParagraphStyle("code", parent=body, fontSize=11, leading=14, spaceAfter=0),
    )


_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_ITEM = re.compile(r"^\s*[-*]\s+(.*)$")


def _markdown(body: str, st: _Styles) -> list[Flowable]:
    """The template's Markdown as flowables: headings, paragraphs, bullet lists and **bold**.

    Anything else is printed as literal text."""
    out: list[Flowable] = []
    para: list[str] = []
    items: list[list[str]] = []

    def flush_para() -> None:
        if para:
            out.append(Paragraph(_inline(" ".join(para)), st.body))
            para.clear()

    def flush_items() -> None:
        if items:
            out.append(
                ListFlowable(
                    [ListItem(Paragraph(_inline(" ".join(i)), st.bullet)) for i in items],
                    bulletType="bullet",
                    start="•",
                    bulletFontName=FONT,
                    bulletFontSize=10,
                    leftIndent=14,
                    spaceAfter=6,
                )
            )
            items.clear()

    for raw in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        if not line:
            flush_para()
            flush_items()
            continue
        heading = _HEADING.match(line)
        item = _ITEM.match(raw)
        if heading:
            flush_para()
            flush_items()
            style = st.h1 if len(heading.group(1)) == 1 else st.h2
            out.append(Paragraph(_inline(heading.group(2).rstrip("#").strip()), style))
        elif item:
            flush_para()
            items.append([item.group(1).strip()])
        elif items and raw[:1].isspace():
            items[-1].append(line)  # continuation of a list item
        else:
            flush_items()
            para.append(line)
    flush_para()
    flush_items()
    return out


# --- Page furniture ----------------------------------------------------------------------------

_MARGIN = 20 * mm
_TOP_MARGIN = 18 * mm
_FRAME_PADDING = 6  # SimpleDocTemplate's frame pads its content by 6 pt on every side
_CONTENT_LEFT = _MARGIN + _FRAME_PADDING
_CONTENT_WIDTH = A4[0] - 2 * _CONTENT_LEFT
_FOOTER_TOP = 14 * mm
_BOTTOM_MARGIN = _FOOTER_TOP + 10 * mm


def _draw_footer(canvas: Canvas, lines: Sequence[str], number: int, total: int) -> None:
    """`lines` and "Side X af Y" at the foot of the canvas's current page."""
    width, _ = canvas._pagesize
    canvas.saveState()
    canvas.setStrokeColor(colors.grey)
    canvas.setLineWidth(0.5)
    right = width - _CONTENT_LEFT
    canvas.line(_CONTENT_LEFT, _FOOTER_TOP + 2 * mm, right, _FOOTER_TOP + 2 * mm)
    canvas.setFillColor(colors.HexColor("#333333"))
    canvas.setFont(FONT, 7.5)
    y = _FOOTER_TOP - 1.5 * mm
    for line in lines:
        canvas.drawString(_CONTENT_LEFT, y, line)
        y -= 3.5 * mm
    canvas.setFont(FONT_BOLD, 8)
    canvas.drawRightString(right, _FOOTER_TOP - 1.5 * mm, f"Side {number} af {total}")
    canvas.restoreState()


def _footer_canvas(lines: Sequence[str]) -> Callable[..., Canvas]:
    """A canvas maker that draws `lines` and "Side X af Y" at the foot of every page.

    The page count is known only at the end, so pages are held until `save()`."""

    class _FooterCanvas(Canvas):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                _draw_footer(self, lines, number, total)
                Canvas.showPage(self)
            Canvas.save(self)

    def make(*args: Any, **kwargs: Any) -> Canvas:
        return _FooterCanvas(*args, **kwargs)

    return make


def _document(buffer: io.BytesIO, *, title: str, subject: str) -> SimpleDocTemplate:
    register_fonts()
    return SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_TOP_MARGIN,
        bottomMargin=_BOTTOM_MARGIN,
        title=title,
        author=AUTHOR,
        subject=subject,
        creator=_CREATOR,
        producer=_CREATOR,
        keywords="",
        lang="da",
        invariant=1,
        initialFontName=FONT,
        initialFontSize=10,
        initialLeading=12,
    )


def _build(story: list[Flowable], *, title: str, subject: str, footer: Sequence[str]) -> bytes:
    buffer = io.BytesIO()
    doc = _document(buffer, title=title, subject=subject)
    doc.build(story, canvasmaker=_footer_canvas(footer))
    return buffer.getvalue()


# Table draws string cells, even empty ones, in its default Helvetica unless told otherwise.
_TABLE_FONT = ("FONTNAME", (0, 0), (-1, -1), FONT)

_BOX = TableStyle(
    [
        _TABLE_FONT,
        ("BOX", (0, 0), (-1, -1), 0.8, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 6),
        ("RIGHTPADDING", (0, 0), (-1, -1), 6),
        ("TOPPADDING", (0, 0), (-1, -1), 5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
    ]
)


# --- Receipt ------------------------------------------------------------------------------------


def _information_category(code: str) -> str:
    """The Danish name of an information category (``policies/labels.yaml``); a category
    already written in words is shown as it is."""
    return labels.group("information_categories").get(code, code)


def _controller(view: ConsentRecordView) -> str:
    """The controller's name and contact, the name once (the contact line often starts
    with it)."""
    name, contact = view.controller_name, view.controller_contact
    if not name or contact.startswith(name):
        return _text(contact)
    return f"{_text(name)}<br/>{_text(contact)}"


def render_receipt(view: ConsentRecordView, body_markdown: str) -> bytes:
    """A receipt the citizen can be handed: what was consented to, its state and validity,
    who the controller and DPO are, how to withdraw, and the consent text itself.

    GDPR art. 7(1): the controller must be able to demonstrate the consent; art. 7(3): the
    data subject is informed of the right to withdraw and how."""
    st = _styles()
    width = _CONTENT_WIDTH

    def row(
        label: str, value: str, *, markup: bool = False, style: ParagraphStyle | None = None
    ) -> list[Paragraph]:
        # Labels are our own constant text and may carry markup; values never do.
        return [
            Paragraph(label, st.body),
            Paragraph(value if markup else _text(value), style or st.body),
        ]

    valid_until = (
        f"til og med {_danish_date(view.valid_until)}"
        if view.valid_until is not None
        else "indtil tilbagekaldelse"
    )
    rows = [
        row("Borger", view.subject_name),
        row("CPR-nr.", _formatted_cpr(view.subject_cpr)),
        row("Samtykke-id", view.consent_id),
        row("Samtykke", _kind_text(view.kind)),
        row("Status", _STATES.get(view.state, view.state)),
        row(
            "Underskrevet",
            _danish_date(view.signed_on) if view.signed_on is not None else "ikke underskrevet",
        ),
        row("Gyldigt", valid_until),
    ]
    if view.withdrawn_on is not None:
        rows.append(row("Tilbagekaldt", _danish_date(view.withdrawn_on)))
    if view.form_id is not None:
        rows.append(row("Formular-id", view.form_id))
    rows += [
        row("Formål", view.purpose),
        row("Oplysninger", ", ".join(_information_category(c) for c in view.data_categories)),
        row("Retsgrundlag", "; ".join(b.text for b in view.legal_bases)),
        row("Tekstversion", view.template_version),
        row("Tekst SHA-256", view.text_sha256, style=st.digest),
    ]
    if view.scan_sha256 is not None:
        rows.append(row("Scanning SHA-256", view.scan_sha256, style=st.digest))
    rows += [
        row("Dataansvarlig", _controller(view), markup=True),
        row("Databeskyttelses-<br/>rådgiver (DPO)", _text(view.dpo_contact), markup=True),
    ]
    facts = Table(
        rows,
        colWidths=[42 * mm, width - 42 * mm],
        style=TableStyle(
            [
                _TABLE_FONT,
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            ]
        ),
    )
    withdrawal = Table(
        [
            [
                [
                    Paragraph("Sådan tilbagekalder du dit samtykke", st.h2),
                    Paragraph(_text(view.withdrawal_method), st.body),
                    Paragraph(
                        "Tilbagekaldelsen gælder fremover. Tilbuddet om en social navigatør "
                        "afhænger ikke af dit samtykke.",
                        st.body,
                    ),
                ]
            ]
        ],
        colWidths=[width],
        style=_BOX,
    )

    story: list[Flowable] = [
        Paragraph("Kvittering for samtykke", st.title),
        Paragraph(f"{_text(AUTHOR)} · {_text(view.controller_name)}", st.subtitle),
        Spacer(1, 5 * mm),
        facts,
        Spacer(1, 5 * mm),
        withdrawal,
        Spacer(1, 6 * mm),
        Paragraph("Samtykketeksten", st.h1),
        *_markdown(body_markdown, st),
    ]
    footer = (
        f"Kvittering for samtykke {view.consent_id} · samtykke: {view.kind} · "
        f"tekstversion {view.template_version}",
        f"Tekst SHA-256: {view.text_sha256[:16]}…",
    )
    return _build(
        story,
        title="Kvittering for samtykke",
        subject=f"Kvittering for samtykke {view.consent_id}",
        footer=footer,
    )

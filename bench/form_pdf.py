"""Consent form PDF benchmark: ``pdf.render_form`` for the real journal and wellbeing texts,
next to a baseline measured in the same run.

    python bench/form_pdf.py [--forms N] [--rounds R]

1. **Forms per second**: N forms (alternating journal and wellbeing, each with its own form
   id, name, CPR and short code, so nothing is cached between them) rendered with the
   service's own ``render_form``. Baseline: N one-page PDFs of one paragraph in the same
   embedded DejaVu font, built the same way (``SimpleDocTemplate``, invariant). The two
   alternate, R rounds (default 5; which goes first alternates too); printed: each side's
   median, and the min/median/max of the per-round ratio. A second baseline (a note): the
   same consent texts as plain paragraphs (about two pages, no QR, table or footer), which
   is what the form costs beyond its text.
2. **The QR code alone** (a note): drawing the form id's QR onto an empty page, as the form
   does (``pdf.QrPath``: segno's matrix as one path), next to reportlab's QR widget (what
   the form drew before), same rounds.

Every rendered form is checked: its QR must decode (zxing-cpp, ``qr.qr_texts``) to the
form id, or the run stops. Figures depend on the machine; compare the ratios.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from datetime import date
from xml.sax.saxutils import escape

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate

from consent_service.consents import pdf, qr
from consent_service.consents.templates import cached_template, current_template
from consent_service.consents.views import ConsentFormInput

PARAGRAPH = (
    "Jeg giver hermed samtykke til, at Sociale henvisninger Norddjurs må indhente "
    "oplysninger om mig til brug for måling af projektets resultater. "
) * 6


def _forms(n: int) -> list[ConsentFormInput]:
    out = []
    for i in range(n):
        kind = ("journal", "wellbeing")[i % 2]
        version = current_template(kind, "da").version
        template = cached_template(kind, "da", version)
        out.append(
            ConsentFormInput(
                form_id=f"F{i:07d}-BENCH-{kind}", kind=kind, version=version, language="da",
                title=template.title, body_markdown=template.body,
                text_sha256=template.sha256, citizen_name=f"Åse Ørum Nr. {i}",
                citizen_cpr=f"0101{i % 100:02d}-{1000 + i % 9000:04d}",
                organisation_name="Region Midtjylland", printed_on=date(2027, 3, 1),
                short_code="K7QM-4XP2",
            )
        )  # fmt: skip
    return out


def _paragraph_pdf(text: str) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, invariant=1, initialFontName=pdf.FONT)
    doc.build([Paragraph(text, ParagraphStyle("p", fontName=pdf.FONT, fontSize=10))])
    return buffer.getvalue()


def _paragraphs_pdf(paragraphs: list[str]) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, invariant=1, initialFontName=pdf.FONT)
    style = ParagraphStyle("p", fontName=pdf.FONT, fontSize=10)
    doc.build([Paragraph(escape(p), style) for p in paragraphs])
    return buffer.getvalue()


def _qr_path(value: str) -> None:
    canvas = Canvas(io.BytesIO(), pagesize=A4, invariant=1)
    pdf.QrPath(value, 90).drawOn(canvas, 100, 100)
    canvas.save()


def _qr_widget(value: str) -> None:
    canvas = Canvas(io.BytesIO(), pagesize=A4, invariant=1)
    widget = QrCodeWidget(value, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(90, 90, transform=[90 / (x1 - x0), 0, 0, 90 / (y1 - y0), -x0, -y0])
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, 100, 100)
    canvas.save()


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _alternate(
    rounds: int, measured: Callable[[], object], baseline: Callable[[], object]
) -> tuple[list[float], list[float]]:
    ours: list[float] = []
    base: list[float] = []
    for r in range(rounds):
        if r % 2:
            base.append(_timed(baseline))
            ours.append(_timed(measured))
        else:
            ours.append(_timed(measured))
            base.append(_timed(baseline))
    return ours, base


def _spread(ours: list[float], base: list[float]) -> str:
    ratios = sorted(o / b for o, b in zip(ours, base, strict=True))
    return f"{ratios[0]:.1f}x / {statistics.median(ratios):.1f}x / {ratios[-1]:.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forms", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    pdf.register_fonts()
    forms = _forms(args.forms)
    for form in forms[:2]:
        if qr.qr_texts(pdf.render_form(form), "application/pdf") != [form.form_id]:
            raise SystemExit(f"the QR of {form.form_id} does not read back")
    texts = [f"{PARAGRAPH} ({i})" for i in range(args.forms)]

    ours, base = _alternate(
        args.rounds,
        lambda: [pdf.render_form(f) for f in forms],
        lambda: [_paragraph_pdf(t) for t in texts],
    )
    n = args.forms
    print(f"{n} forms, {args.rounds} alternating rounds; ratio min / median / max")
    print("| measure | result (median) | baseline (median) | ratio min / median / max |")
    print("|---|---|---|---|")
    print(
        f"| consent forms/s | {n / statistics.median(ours):,.0f}/s "
        f"({1000 * statistics.median(ours) / n:.1f} ms each) | one-paragraph PDF "
        f"{n / statistics.median(base):,.0f}/s | {_spread(ours, base)} |"
    )
    bodies = [[p for p in f.body_markdown.split("\n\n") if p.strip()] for f in forms]
    _, plain = _alternate(args.rounds, lambda: None, lambda: [_paragraphs_pdf(b) for b in bodies])
    print(
        f"| same text as plain paragraphs (note) | | {n / statistics.median(plain):,.0f}/s | "
        f"form / this: {statistics.median(ours) / statistics.median(plain):.1f}x |"
    )
    ids = [f.form_id for f in forms]
    path, widget = _alternate(
        args.rounds, lambda: [_qr_path(i) for i in ids], lambda: [_qr_widget(i) for i in ids]
    )
    print(
        f"| QR on a page (note) | segno path {1000 * statistics.median(path) / n:.2f} ms | "
        f"reportlab widget {1000 * statistics.median(widget) / n:.2f} ms | "
        f"{_spread(path, widget)} |"
    )


if __name__ == "__main__":
    main()

"""A citizen's access report as PDF (GDPR art. 15): the uses of their data, when, what and
why. The citizen's version leaves out staff names, as Datatilsynet's practice after CJEU
C-579/21 allows (dates and purposes are what the data subject is entitled to); the DPO's
version keeps them."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from consent_service.clock import local_time
from consent_service.consents.pdf import FONT, FONT_BOLD, register_fonts
from consent_service.oversight.dpo import AccessItem


def render_access_report(
    items: Sequence[AccessItem],
    *,
    cpr_formatted: str,
    for_citizen: bool,
    organisation: str,
    made_on: date,
) -> bytes:
    register_fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13)
    title = ParagraphStyle("title", parent=body, fontName=FONT_BOLD, fontSize=15, leading=19)
    cell = ParagraphStyle("cell", parent=body, fontSize=8.5, leading=11)
    story = [
        Paragraph("Indsigt: anvendelse af dine oplysninger", title),
        Spacer(1, 3 * mm),
        Paragraph(
            escape(
                f"Projektet Sociale henvisninger Norddjurs. CPR-nummer {cpr_formatted}. "
                f"Udarbejdet {made_on:%d-%m-%Y} af {organisation} "
                "(databeskyttelsesforordningens artikel 15)."
            ),
            body,
        ),
        Spacer(1, 2 * mm),
        Paragraph(
            "Listen viser hver gang, dine oplysninger er blevet set eller ændret i "
            "samtykkeservicen: hvornår, hvad der skete og formålet."
            + ("" if for_citizen else " Denne version er til databeskyttelsesrådgiveren."),
            body,
        ),
        Spacer(1, 4 * mm),
    ]
    header = ["Tidspunkt", "Hvad", "Formål", "Organisation"]
    if not for_citizen:
        header.append("Medarbejder")
    rows: list[list[Paragraph]] = [[Paragraph(f"<b>{h}</b>", cell) for h in header]]
    for item in items:
        row = [local_time(item.occurred_at), item.what_da, item.why_da, item.organisation or ""]
        if not for_citizen:
            row.append(item.staff_name or "System")
        rows.append([Paragraph(escape(value), cell) for value in row])
    widths = [28 * mm, 50 * mm, 52 * mm, 40 * mm] if for_citizen else [26, 40, 42, 32, 30]
    if not for_citizen:
        widths = [w * mm for w in widths]
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story.append(table if items else Paragraph("Ingen registrerede anvendelser.", body))
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        title="Indsigt i logning",
        author=organisation,
        invariant=1,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
    )
    doc.build(story)
    return out.getvalue()

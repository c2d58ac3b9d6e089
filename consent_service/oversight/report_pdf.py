"""A citizen's access report as PDF (GDPR art. 15): the disclosures of their data by
register extracts (date, purpose, recipient, legal basis and consent, registers, extract
id; art. 15(1)(c)) and the uses of their data (when,
what, why, by which role and organisation). The citizen's version leaves out staff names,
as Datatilsynet's practice after CJEU C-579/21 allows (dates and purposes are what the
data subject is entitled to); the DPO's version keeps them, with the request ids."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from consent_service.clock import local_time
from consent_service.consents.pdf import FONT, FONT_BOLD, register_fonts
from consent_service.oversight.dpo import AccessItem, ExtractItem

WIDTH = 174  # mm between the margins


def _table(rows: list[list[str]], widths: Sequence[float], cell: ParagraphStyle) -> Table:
    head, *body = rows
    data = [[Paragraph(f"<b>{escape(h)}</b>", cell) for h in head]]
    data += [[Paragraph(escape(value), cell) for value in row] for row in body]
    table = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _who(item: AccessItem, for_citizen: bool, role_names: Mapping[str, str]) -> str:
    parts = []
    if not for_citizen:
        parts.append(item.staff_name or "Tjenesten selv")
    if item.staff_role:
        parts.append(role_names.get(item.staff_role, item.staff_role))
    elif for_citizen:
        parts.append("Tjenesten selv")
    if item.organisation:
        parts.append(item.organisation)
    return ", ".join(parts)


def render_access_report(
    items: Sequence[AccessItem],
    extracts: Sequence[ExtractItem],
    *,
    cpr_formatted: str,
    for_citizen: bool,
    organisation: str,
    made_on: date,
    role_names: Mapping[str, str],
) -> bytes:
    register_fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13)
    title = ParagraphStyle("title", parent=body, fontName=FONT_BOLD, fontSize=15, leading=19)
    heading = ParagraphStyle("heading", parent=body, fontName=FONT_BOLD, fontSize=11.5)
    cell = ParagraphStyle("cell", parent=body, fontSize=8.5, leading=11)
    story: list[Flowable] = [
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
            "Oversigten viser hvert registerudtræk, du har været med i, og hver gang dine "
            "oplysninger er blevet set eller ændret i samtykkeservicen: hvornår, hvad der "
            "skete, formålet og hvem (rolle og organisation)."
            + ("" if for_citizen else " Denne version er til databeskyttelsesrådgiveren."),
            body,
        ),
        Spacer(1, 4 * mm),
        Paragraph("Registerudtræk", heading),
        Spacer(1, 1 * mm),
        Paragraph(
            "Ved et registerudtræk sendes dit CPR-nummer til registrets ejer, som sender "
            "oplysningerne om dig tilbage til måling af projektets resultater; ved "
            "trivselsmålingen videregives dine svar uden navn og CPR-nummer. Det sker kun "
            "med dit samtykke. Hver række er en videregivelse: hvornår, til hvem, hvorfor og "
            "efter hvilken lov.",
            body,
        ),
        Spacer(1, 2 * mm),
    ]
    if extracts:
        header = ["Dato", "Formål", "Modtager", "Retsgrundlag og samtykke", "Registre", "Udtræk"]
        rows = [header] + [
            [
                f"{x.obtained_on:%d-%m-%Y}",
                x.purpose_da,
                x.recipient,
                f"{x.legal_basis}. Samtykke: {x.consent_da}"
                + ("" if for_citizen else f" (tekstens SHA-256 {x.text_sha256})"),
                x.registers_da,
                x.extract_id,
            ]
            for x in extracts
        ]
        story.append(_table(rows, [18, 30, 22, 54, 28, 22], cell))
    else:
        story.append(Paragraph("Du har ikke været med i et registerudtræk.", body))
    story += [Spacer(1, 4 * mm), Paragraph("Læst og ændret", heading), Spacer(1, 2 * mm)]
    header = ["Tidspunkt", "Hvad", "Formål", "Hvem"]
    widths: list[float] = [28, 50, 50, 46]
    if not for_citizen:
        header.append("Anmodning")
        widths = [26, 40, 40, 44, 24]
    rows = [header]
    for item in items:
        row = [
            local_time(item.occurred_at),
            item.what_da,
            item.why_da,
            _who(item, for_citizen, role_names),
        ]
        if not for_citizen:
            row.append((item.request_id or "")[:12])
        rows.append(row)
    story.append(
        _table(rows, widths, cell) if items else Paragraph("Ingen registrerede anvendelser.", body)
    )
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

"""The consent-form and receipt PDFs: deterministic, embedded fonts, every Latin-script name."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from consent_service.consents.form_pdf import render_form
from consent_service.consents.pdf import AUTHOR, render_receipt
from consent_service.consents.views import ConsentFormInput, ConsentRecordView, LegalBasis
from tests.factories import synthetic_cpr

CPR = synthetic_cpr(date(1951, 4, 17))
FORM_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
TEXT_SHA = "9c" * 32

BODY = """# Samtykke til indhentning og videregivelse af journaldata

Formålet er **opfølgning på resultater** i Sociale henvisninger Norddjurs,
jf. Sundhedsloven § 42 d, stk. 1, og § 43, stk. 1.

## Hvilke oplysninger
- Kontakter til egen læge, vagtlæge & psykolog
- Akutte kontakter og kortere besøg (< 6 timer)

## Tilbagekaldelse
Du kan tilbagekalde samtykket, indtil oplysningerne er indhentet.
Æble, Østergade, Århus; æble, østers, å.
"""


def _form(**changes: Any) -> ConsentFormInput:
    form = ConsentFormInput(
        form_id=FORM_ID,
        kind="journal",
        version="v1",
        language="da",
        title="Samtykkeerklæring – journaldata",
        body_markdown=BODY,
        text_sha256=TEXT_SHA,
        citizen_name="Łukasz Śliwiński",
        citizen_cpr=CPR,
        organisation_name="Region Midtjylland",
        printed_on=date(2026, 3, 5),
    )
    return replace(form, **changes)


def _view(**changes: Any) -> ConsentRecordView:
    view = ConsentRecordView(
        consent_id="cns_4kq8ZP",
        kind="journal",
        state="given",
        subject_id="ctz_9Ha2Lm",
        subject_cpr=CPR.replace("-", ""),
        subject_name="Ayşe Yılmaz",
        controller_name="Region Midtjylland",
        controller_contact="dataansvar@example.invalid",
        dpo_contact="dpo@example.invalid",
        purpose="Opfølgning på resultater (betalingsmåling)",
        data_categories=("kontakter til sundhedsvæsenet", "kommunale ydelser"),
        legal_bases=(
            LegalBasis("SUL-42d-1", "Sundhedsloven § 42 d, stk. 1"),
            LegalBasis("SUL-43-1", "Sundhedsloven § 43, stk. 1"),
        ),
        template_version="v1",
        language="da",
        text_sha256=TEXT_SHA,
        form_id=FORM_ID,
        signed_on=date(2026, 3, 6),
        recorded_at=None,
        valid_from=date(2026, 3, 6),
        valid_until=date(2027, 3, 5),
        withdrawn_on=None,
        withdrawal_method="Kontakt din sociale navigatør på Grenaa Sundhedshus.",
        scan_sha256="e7" * 32,
        scan_content_type="application/pdf",
    )
    return replace(view, **changes)


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def _squash(text: str) -> str:
    """Without any whitespace: line breaks and collapsed spaces do not matter."""
    return re.sub(r"\s+", "", text)


# --- determinism --------------------------------------------------------------------------------


def test_same_form_gives_identical_bytes() -> None:
    first = render_form(_form())
    render_receipt(_view(), BODY)  # other documents in between must not leak state
    assert render_form(_form()) == first


def test_same_receipt_gives_identical_bytes() -> None:
    first = render_receipt(_view(), BODY)
    render_form(_form())
    assert render_receipt(_view(), BODY) == first


def test_different_form_ids_give_different_bytes() -> None:
    assert render_form(_form()) != render_form(_form(form_id="1" * 32))


def test_metadata_is_fixed() -> None:
    meta = PdfReader(io.BytesIO(render_form(_form()))).metadata
    assert meta is not None
    assert meta.author == AUTHOR
    assert meta.title == "Samtykkeerklæring – journaldata"
    assert meta["/CreationDate"] == meta["/ModDate"] == "D:20000101000000+00'00'"
    assert "Śliwiński" not in str(dict(meta))  # no personal data in metadata
    assert CPR not in str(dict(meta))


# --- content ------------------------------------------------------------------------------------


def test_form_text_has_danish_letters_names_cpr_and_form_id() -> None:
    text = _text(render_form(_form(citizen_name="Łukasz Śliwiński O'Brien & <Søn>")))
    for letters in ("æ", "ø", "å", "Æ", "Ø", "Å", "§"):
        assert letters in text
    assert "Łukasz Śliwiński O'Brien & <Søn>" in text
    assert CPR in text
    # The QR code cannot be decoded here; the form id it encodes is in the text layer.
    assert FORM_ID in text
    for words in ("Jeg giver samtykke", "Jeg giver ikke samtykke", "Underskrift", "Dato"):
        assert words in text


def test_form_cpr_is_formatted_from_plain_digits() -> None:
    text = _text(render_form(_form(citizen_cpr=CPR.replace("-", ""))))
    assert CPR in text


def test_form_markdown_is_rendered_not_printed() -> None:
    text = _text(render_form(_form()))
    assert "**" not in text
    assert "# " not in text
    assert "opfølgning på resultater" in text
    assert "< 6 timer" in text  # escaped, not swallowed as markup


def test_form_footer_on_every_page() -> None:
    long_body = "\n\n".join([BODY] * 6)
    reader = PdfReader(io.BytesIO(render_form(_form(body_markdown=long_body))))
    total = len(reader.pages)
    assert total > 1
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert f"Side {number} af {total}" in text
        assert FORM_ID in text
        assert "journal" in text
        assert "v1" in text
        assert TEXT_SHA[:16] in text


def test_receipt_text() -> None:
    text = _text(render_receipt(_view(), BODY))
    for words in (
        "Kvittering for samtykke",
        "cns_4kq8ZP",
        "Givet",
        "6. marts 2026",
        "5. marts 2027",
        "v1",
        TEXT_SHA,
        "e7" * 32,
        "dataansvar@example.invalid",
        "dpo@example.invalid",
        "Kontakt din sociale navigatør på Grenaa Sundhedshus.",
        "Ayşe Yılmaz",
        "opfølgning på resultater",
    ):
        assert words in text, words


def test_receipt_without_end_date_or_scan() -> None:
    text = _text(
        render_receipt(
            _view(state="withdrawn", valid_until=None, scan_sha256=None, scan_content_type=None),
            BODY,
        )
    )
    assert "indtil tilbagekaldelse" in text
    assert "Tilbagekaldt" in text
    assert "Scanning" not in text


# --- fonts --------------------------------------------------------------------------------------


def _fonts(pdf: bytes) -> list[DictionaryObject]:
    fonts: list[DictionaryObject] = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        resources = page["/Resources"].get_object()
        for ref in resources["/Font"].get_object().values():
            fonts.append(ref.get_object())
    return fonts


def _embedded(font: DictionaryObject) -> bool:
    if font["/Subtype"] == "/Type0":
        return all(_embedded(d.get_object()) for d in font["/DescendantFonts"])
    descriptor = font.get("/FontDescriptor")
    return descriptor is not None and "/FontFile2" in descriptor.get_object()


@pytest.mark.parametrize("kind", ["form", "receipt"])
def test_fonts_are_embedded_truetype_never_helvetica(kind: str) -> None:
    pdf = render_form(_form()) if kind == "form" else render_receipt(_view(), BODY)
    fonts = _fonts(pdf)
    assert fonts
    for font in fonts:
        assert "Helvetica" not in str(font["/BaseFont"])
        assert "DejaVuSans" in str(font["/BaseFont"])
        assert _embedded(font), font["/BaseFont"]


# --- property -----------------------------------------------------------------------------------

LATIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZæøåÆØÅłŁśŚşŞıİéÉüÜöÖäÄçñńźżčšžő '&<>-"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(alphabet=LATIN, min_size=1, max_size=40))
def test_any_latin_name_renders_and_is_extractable(name: str) -> None:
    text = _text(render_form(_form(citizen_name=name)))
    assert _squash(name) in _squash(text)

"""The short form code (Crockford base32, Luhn mod 32 check) and the bounded QR reader."""

from __future__ import annotations

import io
import random
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from consent_service.consents import qr, shortcode
from consent_service.consents.form_pdf import render_form
from consent_service.consents.views import ConsentFormInput

FORM_ID = "0123456789abcdef0123456789abcdef"


def _printed(code: str = "K7QM-4XP2") -> bytes:
    return render_form(
        ConsentFormInput(
            form_id=FORM_ID, kind="journal", version="v1", language="da", title="Samtykke",
            body_markdown="Tekst.", text_sha256="a" * 64, citizen_name="Åse Ørum",
            citizen_cpr="010190-1234", organisation_name="Region", printed_on=date(2026, 3, 1),
            short_code=code,
        )
    )  # fmt: skip


codes = st.text(alphabet=shortcode.ALPHABET, min_size=7, max_size=7).map(
    lambda body: body + shortcode.check_character(body)
)


@given(codes)
def test_every_new_style_code_is_valid_and_typed_forgivingly(code: str) -> None:
    assert shortcode.is_valid(code)
    shown = shortcode.formatted(code)
    assert shown[4] == "-"
    messy = f"  {shown.lower()} ".replace("0", "o").replace("1", "l")
    assert shortcode.normalise(messy) == code


@given(codes, st.integers(0, 7), st.sampled_from(shortcode.ALPHABET))
def test_one_mistyped_character_is_caught(code: str, at: int, ch: str) -> None:
    typo = code[:at] + ch + code[at + 1 :]
    if typo != code:
        assert not shortcode.is_valid(typo)


def test_most_swaps_of_neighbours_are_caught() -> None:
    rng = random.Random(15)
    caught = total = 0
    for _ in range(2000):
        code = shortcode.new_code(rng.randrange)
        for at in range(7):
            swapped = code[:at] + code[at + 1] + code[at] + code[at + 2 :]
            if swapped != code:
                total += 1
                caught += not shortcode.is_valid(swapped)
    assert caught / total > 0.95


@pytest.mark.parametrize("typed", ["", "K7QM", "K7QM-4XP2-X", "K7QU-4XP2", "K7QM*4XP2"])
def test_what_cannot_be_a_code_is_refused(typed: str) -> None:
    assert shortcode.normalise(typed) is None


def test_the_printed_form_shows_its_code_and_its_qr_reads_back() -> None:
    pdf = _printed()
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Blanketkode:" in text
    assert "K7QM-4XP2" in text
    assert qr.qr_texts(pdf, "application/pdf") == [FORM_ID]
    assert _printed() == pdf  # still deterministic


def test_only_the_first_pages_of_a_pdf_are_read() -> None:
    writer = PdfWriter()
    for _ in range(qr.MAX_PAGES):
        writer.add_blank_page(width=595, height=842)
    writer.append(PdfReader(io.BytesIO(_printed())))
    late = io.BytesIO()
    writer.write(late)
    assert qr.qr_texts(late.getvalue(), "application/pdf") == []


def test_a_page_claiming_a_huge_size_is_rendered_small() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=14_400, height=14_400)  # 200 inches square
    huge = io.BytesIO()
    writer.write(huge)
    pages = list(qr._pdf_pages(huge.getvalue()))
    assert max(pages[0].size) <= qr.MAX_SIDE


def test_unreadable_input_gives_no_text_never_an_exception() -> None:
    assert qr.qr_texts(b"%PDF-1.4 broken", "application/pdf") == []
    assert qr.qr_texts(b"\x89PNG\r\n\x1a\nbroken", "image/png") == []

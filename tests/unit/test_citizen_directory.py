"""The citizen list's pure parts: folding names for search, telling a CPR number from a
name, sorting and paging. The search itself is tested through the pages
(tests/api/test_citizen_list.py)."""

from __future__ import annotations

from datetime import date

import pytest

from consent_service.citizens.directory import (
    Criterion,
    Listed,
    Sort,
    criterion_of,
    fold,
    matching,
    page_of,
    sorted_rows,
)


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("aaberg", "Åse Åberg"),
        ("ÅBERG", "Åse Aaberg"),
        ("ostergaard", "Søren Østergård"),
        ("muller", "Hans Müller"),
        ("müller", "Hans Muller"),
        ("MÜLLER", "Hans Müller"),
        ("aerø", "Jens Ærø"),
        ("jose", "José Núñez"),
        ("nunez", "José Núñez"),
        ("ayse yilmaz", "Ayşe Yılmaz"),
        ("lukasz sliwinski", "Łukasz Śliwiński"),
        ("ilse-marie", "Ilse Marie Bøgh"),
        ("straße", "Anna Strasse"),
    ],
)
def test_a_name_is_found_whatever_the_case_and_accents(typed: str, name: str) -> None:
    assert fold(typed) in fold(name)


def test_folding_keeps_different_names_apart() -> None:
    assert fold("hansen") not in fold("Søren Østergård")
    assert fold("berg") in fold("Åberg")  # a part of a name is enough


@pytest.mark.parametrize(
    ("term", "criterion"),
    [
        ("010190-1234", Criterion.CPR),
        ("0101901234", Criterion.CPR),
        (" 010190 1234 ", Criterion.CPR),
        ("010190", Criterion.CPR_PREFIX),
        ("0101", Criterion.CPR_PREFIX),
        ("010190-12", Criterion.CPR_PREFIX),
        ("Åberg", Criterion.NAME),
        ("01019012345", Criterion.NAME),  # no CPR number has eleven digits
        ("Jens 2", Criterion.NAME),
    ],
)
def test_a_term_is_a_cpr_number_its_start_or_a_name(term: str, criterion: Criterion) -> None:
    assert criterion_of(term) is criterion


def _row(cid: int, name: str, birth: date, cpr: str = "0101901234") -> Listed:
    return Listed(cid, f"p{cid}", name, birth, fold(name), cpr)


ROWS = [
    _row(1, "Østergård, Søren", date(1950, 3, 1), "0103501111"),
    _row(2, "Aaberg, Åse", date(1990, 1, 1), "0101902222"),
    _row(3, "Bo Hansen", date(1970, 6, 6), "0606703333"),
]


def test_matching_by_name_needs_every_word() -> None:
    assert [r.public_id for r in matching(ROWS, "søren østergård")] == ["p1"]
    assert [r.public_id for r in matching(ROWS, "hansen bo")] == ["p3"]
    assert matching(ROWS, "hansen søren") == []


def test_matching_by_date_of_birth_prefix() -> None:
    assert [r.public_id for r in matching(ROWS, "010190")] == ["p2"]
    assert [r.public_id for r in matching(ROWS, "01")] == ["p1", "p2"]


def test_the_rows_sort_by_name_birth_date_or_next_task() -> None:
    assert [r.public_id for r in sorted_rows(ROWS, Sort.NAME)] == ["p2", "p3", "p1"]
    assert [r.public_id for r in sorted_rows(ROWS, Sort.BIRTH_DATE)] == ["p1", "p3", "p2"]
    due = {3: date(2027, 1, 1), 1: date(2026, 12, 1)}
    assert [r.public_id for r in sorted_rows(ROWS, Sort.NEXT_TASK, due)] == ["p1", "p3", "p2"]


def test_pages_hold_25_and_a_page_out_of_range_is_the_nearest() -> None:
    rows = [_row(i, f"Borger {i:02d}", date(1970, 1, 1)) for i in range(1, 52)]
    first, last = page_of(rows, 1), page_of(rows, 3)
    assert (len(first.rows), first.pages, first.total) == (25, 3, 51)
    assert [r.public_id for r in last.rows] == ["p51"]
    assert page_of(rows, 99).number == 3
    assert page_of(rows, 0).number == 1
    assert page_of([], 1).pages == 1


def test_a_listed_citizen_shows_no_cpr_in_its_repr() -> None:
    assert "0101902222" not in repr(ROWS[1])

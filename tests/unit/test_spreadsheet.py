"""Every downloaded CSV is written by ``consent_service.spreadsheet``: a Danish
spreadsheet reads it back cell for cell, and no cell runs as a formula."""

from __future__ import annotations

import csv
import io

import pytest

from consent_service import spreadsheet

HOSTILE = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\r=1"]


def _read(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline=""), delimiter=";"))


def test_cells_come_back_as_written_with_separators_quotes_and_line_breaks() -> None:
    values = ["Hold 2:2", 'sagde "nej"', "a;b", "to\nlinjer", "Ærø Å", None, 7]
    text = spreadsheet.csv_text(["Måling", "B", "C", "D", "E", "F", "G"], [values])
    header, row = _read(text)
    assert header == ["Måling", "B", "C", "D", "E", "F", "G"]
    assert row == ["Hold 2:2", 'sagde "nej"', "a;b", "to\nlinjer", "Ærø Å", "", "7"]
    assert text.endswith("\r\n")


@pytest.mark.parametrize("value", HOSTILE)
def test_a_would_be_formula_is_defused(value: str) -> None:
    (_, row) = _read(spreadsheet.csv_text(["x"], [[value]]))
    assert row == ["'" + value]


def test_a_formula_in_the_header_is_defused_too() -> None:
    (header,) = _read(spreadsheet.csv_text(["=1+1"], []))
    assert header == ["'=1+1"]

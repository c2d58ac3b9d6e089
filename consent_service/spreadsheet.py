"""CSV for a spreadsheet in Denmark: the one writer of every CSV a person downloads.

``;`` between cells (a Danish locale's list separator), CRLF line ends, UTF-8 with a BOM so
Excel reads the Danish letters, and no cell a spreadsheet would run as a formula (CSV
injection, OWASP): a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return gets a leading apostrophe. Quoting is the standard library's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

SEPARATOR = ";"
BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """One value as a cell: ``None`` is empty, a would-be formula is defused."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The header and rows as CSV text for a Danish spreadsheet, BOM first."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=SEPARATOR, lineterminator="\r\n")
    writer.writerow([cell(h) for h in header])
    writer.writerows([cell(v) for v in row] for row in rows)
    return BOM + out.getvalue()

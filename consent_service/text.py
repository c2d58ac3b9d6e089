"""The one rule for text that people and programs send us.

Every form field, query parameter, path segment and JSON string passes ``check_text``
(at the edge, ``web/textguard.py``; in API schemas through ``SafeText``). It refuses:

- NUL and every other control character (Unicode category Cc: C0, DEL, C1). Tab, line
  feed and carriage return only in fields declared multi-line. PostgreSQL cannot store
  NUL at all, and control characters in a name or note corrupt pages, PDFs and logs.
- Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): they
  make a name or a file name read differently from what is stored ("Trojan Source",
  CVE-2021-42574). The marks U+200E/U+200F/U+061C stay allowed: names in Arabic or Hebrew
  script need them, and they cannot reorder text beyond themselves.
- Unpaired surrogates (U+D800-U+DFFF), which no UTF-8 encoder can write.

Refusals carry a Danish reason and never the refused value. Accepted text is normalised
to NFC, so the same name typed on two keyboards is stored the same way.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

MULTILINE_WHITESPACE = frozenset("\t\n\r")
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e"  # LRE, RLE, PDF, LRO, RLO
    "\u2066\u2067\u2068\u2069"  # LRI, RLI, FSI, PDI
)
# The same rule as a JSON Schema (ECMA-262) pattern, for the API description only (the
# check itself is ``check_text``, which also refuses unpaired surrogates).
REFUSED_IN_LINE = r"\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069"  # a character class
SINGLE_LINE_PATTERN = rf"^[^{REFUSED_IN_LINE}]*$"
MULTILINE_PATTERN = (
    r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]*$"
)


class TextRefused(ValueError):
    """Text refused by the rule above; ``reason`` is Danish and names no character value
    beyond its kind."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` is refused (Danish), or None if it is acceptable."""
    for ch in value:
        if ch == "\x00":
            return "indeholder et nul-tegn"
        if ch in BIDI_CONTROLS:
            return "indeholder et tegn, der vender skriveretningen"
        category = unicodedata.category(ch)
        if category == "Cs":
            return "indeholder et ugyldigt tegn (halvt surrogatpar)"
        if category == "Cc" and not (multiline and ch in MULTILINE_WHITESPACE):
            if ch in MULTILINE_WHITESPACE:
                return "må kun være én linje (ingen tabulator eller linjeskift)"
            return "indeholder et kontroltegn"
    return None


def check_text(value: str, *, multiline: bool = False) -> str:
    """``value`` normalised to NFC, or ``TextRefused`` with a Danish reason."""
    problem = text_problem(value, multiline=multiline)
    if problem is not None:
        raise TextRefused(problem)
    return unicodedata.normalize("NFC", value)


def _single_line(value: str) -> str:
    return check_text(value)


def _multi_line(value: str) -> str:
    return check_text(value, multiline=True)


SafeText = Annotated[
    str,
    AfterValidator(_single_line),
    Field(json_schema_extra={"pattern": SINGLE_LINE_PATTERN}),
]
"""One line of text under the rule above, normalised to NFC (for API schemas)."""

SafeMultilineText = Annotated[
    str,
    AfterValidator(_multi_line),
    Field(json_schema_extra={"pattern": MULTILINE_PATTERN}),
]
"""Like ``SafeText``, but tab, line feed and carriage return are allowed."""


def ascii_number(raw: str, max_digits: int) -> int | None:
    """The whole number ``raw`` names (surrounding spaces allowed), or ``None`` unless it
    is 1 to ``max_digits`` ASCII digits: ``"²".isdigit()`` is true but ``int()`` refuses it,
    and a number past the database's integer must not reach a query."""
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > max_digits:
        return None
    return int(raw)

"""The text rule on its own (consent_service/text.py), and the safe exception formatter."""

from __future__ import annotations

import unicodedata

import psycopg.errors
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from consent_service.logging import safe_exception_text
from consent_service.text import BIDI_CONTROLS, SafeMultilineText, SafeText, check_text
from consent_service.web.failsafe import database_busy

FORBIDDEN_ALWAYS = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + [
    chr(c) for c in range(0x7F, 0xA0)
]


@pytest.mark.parametrize("ch", FORBIDDEN_ALWAYS + sorted(BIDI_CONTROLS))
def test_control_and_bidi_characters_are_refused(ch: str) -> None:
    with pytest.raises(ValueError, match="indeholder"):
        check_text(f"Jens{ch}Hansen")
    with pytest.raises(ValueError, match="indeholder"):
        check_text(f"Jens{ch}Hansen", multiline=True)


@pytest.mark.parametrize("ch", ["\t", "\n", "\r"])
def test_line_breaks_only_in_multiline_fields(ch: str) -> None:
    with pytest.raises(ValueError, match="én linje"):
        check_text(f"a{ch}b")
    assert check_text(f"a{ch}b", multiline=True) == f"a{ch}b"


def test_unpaired_surrogates_are_refused() -> None:
    with pytest.raises(ValueError, match="surrogat"):
        check_text("a\ud800b")


def test_names_in_every_script_pass_and_are_nfc() -> None:
    for name in ("Łukasz Śliwiński", "Ayşe Yılmaz", "محمد\u200f علي", "שרה\u200e כהן", "Søren Ærø"):
        assert check_text(name) == unicodedata.normalize("NFC", name)
    assert check_text("Jo\u0301n") == "J\u00f3n"


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet=st.characters(codec=None)))
def test_accepted_text_is_safe_and_normalised(value: str) -> None:
    try:
        out = check_text(value)
    except ValueError:
        return
    assert unicodedata.is_normalized("NFC", out)
    assert not any(unicodedata.category(ch) in ("Cc", "Cs") or ch in BIDI_CONTROLS for ch in out)
    out.encode("utf-8")  # storable and renderable


class _Body(BaseModel):
    one: SafeText
    many: SafeMultilineText = ""


def test_schema_type_refuses_and_documents() -> None:
    with pytest.raises(ValidationError, match="nul-tegn"):
        _Body(one="a\x00")
    with pytest.raises(ValidationError, match="skriveretningen"):
        _Body(one="a\u202eb")
    assert _Body(one="x", many="a\nb").many == "a\nb"
    assert "pattern" in _Body.model_json_schema()["properties"]["one"]


def test_database_errors_are_logged_without_parameters_or_message() -> None:
    engine = create_engine("sqlite://", hide_parameters=True)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE person (name TEXT UNIQUE)"))
        conn.execute(text("INSERT INTO person VALUES (:name)"), {"name": "Jens Hansen"})
        with pytest.raises(DBAPIError) as caught:
            conn.execute(text("INSERT INTO person VALUES (:name)"), {"name": "Jens Hansen"})
    out = safe_exception_text(caught.value)
    assert "Jens" not in out
    assert "IntegrityError" in out
    assert "statement=INSERT INTO person VALUES (?)" in out
    assert "Jens" not in str(caught.value)  # hide_parameters


def test_busy_database_errors_are_told_apart() -> None:
    import sqlite3

    locked = OperationalError("INSERT", None, sqlite3.OperationalError("database is locked"))
    assert database_busy(locked)
    lock_pg = OperationalError("UPDATE", None, psycopg.errors.LockNotAvailable())
    assert database_busy(lock_pg)
    other = OperationalError("INSERT", None, sqlite3.OperationalError("disk I/O error"))
    assert not database_busy(other)
    assert not database_busy(ValueError("x"))

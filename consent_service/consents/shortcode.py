"""The short form code printed beside a form's QR code, for a person to type.

Eight characters from Crockford's base32 alphabet (digits and letters without I, L, O and
U, so nothing is read as another character), shown in two groups (``K7QM-4XP2``). The
first seven are random (35 bits); the eighth is a Luhn mod 32 check character over them,
which catches every single mistyped character and almost every swap of two neighbours.
Typing is forgiving: case, spaces and dashes are ignored, O is read as 0, I and L as 1.

Pure functions: no database, no clock. Uniqueness is the printer's job (it retries).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8
_BASE = len(ALPHABET)
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# Crockford's decoding of look-alikes.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_IGNORED = str.maketrans("", "", " -\t")


def check_character(body: str) -> str:
    """The Luhn mod 32 check character over ``body`` (characters of ``ALPHABET``)."""
    factor = 2
    total = 0
    for ch in reversed(body):
        addend = factor * _VALUE[ch]
        total += addend // _BASE + addend % _BASE
        factor = 1 if factor == 2 else 2
    return ALPHABET[(_BASE - total % _BASE) % _BASE]


def is_valid(code: str) -> bool:
    """Whether ``code`` (normalised, no dash) has the right length, alphabet and check."""
    return (
        len(code) == LENGTH
        and all(ch in _VALUE for ch in code)
        and check_character(code[:-1]) == code[-1]
    )


def new_code(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """A fresh random code (normalised, without the dash)."""
    body = "".join(ALPHABET[randbelow(_BASE)] for _ in range(LENGTH - 1))
    return body + check_character(body)


def normalise(typed: str) -> str | None:
    """The code a person typed, normalised (``k7qm 4xp2`` -> ``K7QM4XP2``); ``None`` if it
    cannot be a form code (wrong length, a character outside the alphabet, a wrong check
    character)."""
    code = typed.upper().translate(_IGNORED).translate(_LOOKALIKES)
    return code if is_valid(code) else None


def formatted(code: str) -> str:
    """The code as printed and shown: two groups of four (``K7QM-4XP2``)."""
    half = LENGTH // 2
    return f"{code[:half]}-{code[half:]}" if len(code) == LENGTH else code

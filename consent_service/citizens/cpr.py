"""Danish CPR numbers (personnummer): parsing, birth date, century, sex, and age.

Rules (CPR-kontoret, see DOMAIN.md "CPR numbers"):

- Format DDMMYY-SSSS or DDMMYYSSSS; spaces are ignored.
- The century follows from the 7th digit and the two-digit year.
- Substitute numbers ("erstatningspersonnumre") add 6 to the first digit of the day
  (days 61-91); they are accepted and flagged, and the birth date is the day minus 60.
- The last digit is odd for men and even for women.
- No modulus-11 check: numbers issued since 1 October 2007 need not pass it.

A CPR number never appears in a ``repr``, a ``str`` or an error message of this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

ADULT_AGE = 18
SUBSTITUTE_DAY_OFFSET = 60
_SHAPE = re.compile(r"^([0-9]{6})-?([0-9]{4})$")  # ASCII digits only
_DIGITS_AND_DASHES = re.compile(r"^[0-9-]*$")

# What a person is told for each refusal (Danish): what is wrong, never the number.
# "Skriv det som DDMMÅÅ-XXXX" only where the format itself is wrong.
MESSAGES_DA: dict[str, str] = {
    "length": "CPR-nummeret skal have 10 cifre.",
    "format": "CPR-nummeret er ikke skrevet rigtigt. Skriv det som DDMMÅÅ-XXXX.",
    "day": "Datoen i CPR-nummeret findes ikke.",
    "month": "Datoen i CPR-nummeret findes ikke.",
    "date": "Datoen i CPR-nummeret findes ikke.",
    "future": "Fødselsdatoen i CPR-nummeret ligger i fremtiden.",
}


class InvalidCpr(ValueError):
    """A value that is not a valid CPR number. ``code`` is machine-readable (``length``,
    ``format``, ``day``, ``month``, ``date``, ``future``), ``message_da`` says what is wrong
    in Danish; none of them ever contains the value that was given."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason

    @property
    def message_da(self) -> str:
        return MESSAGES_DA.get(self.code, MESSAGES_DA["format"])


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


@dataclass(frozen=True, repr=False)
class Cpr:
    """A parsed, valid CPR number. Build it with :func:`parse_cpr`."""

    value: str
    birth_date: date
    is_substitute: bool
    sex: Sex

    def __post_init__(self) -> None:
        if len(self.value) != 10 or not self.value.isdigit():
            raise InvalidCpr("format", "a CPR number has exactly 10 digits")

    @property
    def formatted(self) -> str:
        """The number as DDMMYY-SSSS."""
        return f"{self.value[:6]}-{self.value[6:]}"

    def __repr__(self) -> str:
        return "Cpr(<redacted>)"

    __str__ = __repr__


def century_of(seventh_digit: int, two_digit_year: int) -> int:
    """The century (1800, 1900 or 2000) of a CPR birth year, per the CPR office's table:

    ============  ==========  ==========  ==========
    7th digit     year 00-36  year 37-57  year 58-99
    ============  ==========  ==========  ==========
    0-3           1900        1900        1900
    4, 9          2000        1900        1900
    5-8           2000        2000        1800
    ============  ==========  ==========  ==========
    """
    if not (0 <= seventh_digit <= 9 and 0 <= two_digit_year <= 99):
        raise ValueError("7th digit must be 0-9 and year 0-99")
    if seventh_digit <= 3:
        return 1900
    if seventh_digit in (4, 9):
        return 2000 if two_digit_year <= 36 else 1900
    return 2000 if two_digit_year <= 57 else 1800


def parse_cpr(value: str, *, today: date) -> Cpr:
    """Parse and validate a CPR number given as "DDMMYY-SSSS" or "DDMMYYSSSS".

    Rejects (``InvalidCpr``) a value that is not ten digits (``length``: too few or too
    many digits, or something else than digits and a dash), ten digits in a wrong shape
    (``format``: a dash elsewhere than after the sixth digit, or several), a day or month
    out of range, a date that does not exist in the calendar, and a birth date after
    ``today``.
    """
    compact = "".join(value.split())
    match = _SHAPE.fullmatch(compact)
    if match is None:
        digit_count = sum(c in "0123456789" for c in compact)
        if digit_count != 10 or not _DIGITS_AND_DASHES.fullmatch(compact):
            raise InvalidCpr("length", "a CPR number has exactly ten digits")
        raise InvalidCpr("format", "expected DDMMYY-SSSS or DDMMYYSSSS")
    digits = match.group(1) + match.group(2)
    day, month, yy = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    is_substitute = day > SUBSTITUTE_DAY_OFFSET
    if is_substitute:
        day -= SUBSTITUTE_DAY_OFFSET
    if not 1 <= day <= 31:
        raise InvalidCpr("day", "day of month out of range")
    if not 1 <= month <= 12:
        raise InvalidCpr("month", "month out of range")
    year = century_of(int(digits[6]), yy) + yy
    try:
        birth_date = date(year, month, day)
    except ValueError:
        raise InvalidCpr("date", "the birth date does not exist in the calendar") from None
    if birth_date > today:
        raise InvalidCpr("future", "the birth date lies in the future")
    sex = Sex.MALE if int(digits[9]) % 2 == 1 else Sex.FEMALE
    return Cpr(value=digits, birth_date=birth_date, is_substitute=is_substitute, sex=sex)


def age_on(birth_date: date, on: date) -> int:
    """Age in full years on the date ``on``.

    A year of age is reached at the start of the birthday. Someone born on 29 February
    reaches the new age on 1 March in a year without 29 February (the anniversary falls
    on the day after 28 February). Of the two conventions in use (28 February or
    1 March) this is the later one, so nobody is counted as 18 before either convention
    would count them so.
    """
    if on < birth_date:
        raise ValueError("the date is before the birth date")
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - int(before_birthday)


def is_adult_on(cpr: Cpr, on: date) -> bool:
    """Whether the holder of ``cpr`` is 18 or older on ``on`` (see :func:`age_on`)."""
    return age_on(cpr.birth_date, on) >= ADULT_AGE

"""CPR parsing: the century table, substitute numbers, rejection, and redaction.

Every number here is generated; none is written down."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from consent_service.citizens.cpr import (
    Cpr,
    InvalidCpr,
    Sex,
    age_on,
    century_of,
    is_adult_on,
    parse_cpr,
)

FAR_FUTURE = date(2100, 1, 1)
MOD11_WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)


def fails_mod11(digits: str) -> bool:
    return sum(int(c) * w for c, w in zip(digits, MOD11_WEIGHTS, strict=True)) % 11 != 0


def generated(head: str, seventh: int) -> str:
    """A CPR-shaped number from a date part DDMMYY and a 7th digit, with a serial that
    fails the modulus-11 check (so it is no number issued before October 2007)."""
    return next(d for n in range(1000) if fails_mod11(d := f"{head}{seventh}{n:03d}"))


# The CPR office's table, restated independently of the code under test:
# (7th digits, first year, last year, century)
CENTURY_TABLE = [
    ((0, 1, 2, 3), 0, 99, 1900),
    ((4, 9), 0, 36, 2000),
    ((4, 9), 37, 99, 1900),
    ((5, 6, 7, 8), 0, 57, 2000),
    ((5, 6, 7, 8), 58, 99, 1800),
]


def expected_century(seventh: int, yy: int) -> int:
    for digits, first, last, century in CENTURY_TABLE:
        if seventh in digits and first <= yy <= last:
            return century
    raise AssertionError("table incomplete")


@st.composite
def cpr_parts(draw: st.DrawFn) -> tuple[str, date, bool, int]:
    """A valid CPR number, its birth date, whether it is a substitute, and the last digit."""
    seventh = draw(st.integers(0, 9))
    yy = draw(st.integers(0, 99))
    year = expected_century(seventh, yy) + yy
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, calendar.monthrange(year, month)[1]))
    substitute = draw(st.booleans())
    serial_rest = draw(st.integers(0, 999))
    shown_day = day + 60 if substitute else day
    digits = f"{shown_day:02d}{month:02d}{yy:02d}{seventh}{serial_rest:03d}"
    return digits, date(year, month, day), substitute, serial_rest % 10


def dashed(digits: str) -> str:
    return f"{digits[:6]}-{digits[6:]}"


@given(cpr_parts(), st.sampled_from(["plain", "dash", "spaces"]))
def test_every_valid_number_parses_with_the_tables_birth_date(
    parts: tuple[str, date, bool, int], shape: str
) -> None:
    digits, birth, substitute, last = parts
    text = {"plain": digits, "dash": dashed(digits), "spaces": f" {digits[:6]} {digits[6:]} "}
    cpr = parse_cpr(text[shape], today=FAR_FUTURE)
    assert cpr.value == digits
    assert cpr.formatted == dashed(digits)
    assert cpr.birth_date == birth
    assert cpr.is_substitute is substitute
    assert cpr.sex is (Sex.MALE if last % 2 else Sex.FEMALE)


@given(st.integers(0, 9), st.integers(0, 99))
def test_century_follows_the_table(seventh: int, yy: int) -> None:
    assert century_of(seventh, yy) == expected_century(seventh, yy)


@pytest.mark.parametrize(
    ("seventh", "yy", "century"),
    [(0, 0, 1900), (3, 99, 1900), (4, 36, 2000), (4, 37, 1900), (9, 36, 2000),
     (9, 37, 1900), (5, 57, 2000), (5, 58, 1800), (8, 0, 2000), (8, 99, 1800)],
)  # fmt: skip
def test_century_table_boundaries(seventh: int, yy: int, century: int) -> None:
    assert century_of(seventh, yy) == century


@given(cpr_parts())
def test_birth_date_after_today_is_rejected(parts: tuple[str, date, bool, int]) -> None:
    digits, birth, _, _ = parts
    assert parse_cpr(digits, today=birth).birth_date == birth
    with pytest.raises(InvalidCpr) as caught:
        parse_cpr(digits, today=birth - timedelta(days=1))
    assert caught.value.code == "future"


def test_a_2000s_birth_in_the_future_is_rejected_not_moved_to_the_1800s() -> None:
    # 7th digit 5-8 and year 37-57 mean 2037-2057: rejected today, never read as 1800s.
    with pytest.raises(InvalidCpr) as caught:
        parse_cpr(generated("010145", 5), today=date(2026, 12, 1))
    assert caught.value.code == "future"


@given(cpr_parts())
def test_substitute_number_is_day_plus_sixty(parts: tuple[str, date, bool, int]) -> None:
    digits, birth, substitute, _ = parts
    assume(not substitute)
    shifted = f"{int(digits[:2]) + 60:02d}{digits[2:]}"
    cpr = parse_cpr(shifted, today=FAR_FUTURE)
    assert cpr.is_substitute
    assert cpr.birth_date == birth


def _replace(digits: str, at: int, text: str) -> str:
    return digits[:at] + text + digits[at + len(text) :]


@given(cpr_parts(), st.sampled_from(["00", "32", "45", "60", "92", "99"]))
def test_day_out_of_range_is_rejected(parts: tuple[str, date, bool, int], day: str) -> None:
    with pytest.raises(InvalidCpr):
        parse_cpr(_replace(parts[0], 0, day), today=FAR_FUTURE)


@given(cpr_parts(), st.sampled_from(["00", "13", "20", "99"]))
def test_month_out_of_range_is_rejected(parts: tuple[str, date, bool, int], month: str) -> None:
    with pytest.raises(InvalidCpr) as caught:
        parse_cpr(_replace(parts[0], 2, month), today=FAR_FUTURE)
    assert caught.value.code == "month"


@pytest.mark.parametrize("head", ["3002", "3102", "3104", "2902", "9002"])
def test_dates_not_in_the_calendar_are_rejected(head: str) -> None:
    # 29 February 1975 (7th digit 1: 1900s) does not exist; 90 = substitute for 30.
    with pytest.raises(InvalidCpr) as caught:
        parse_cpr(generated(f"{head}75", 1), today=FAR_FUTURE)
    assert caught.value.code == "date"


def test_29_february_in_a_leap_year_is_accepted() -> None:
    assert parse_cpr(generated("290276", 1), today=FAR_FUTURE).birth_date == date(1976, 2, 29)


@given(
    st.one_of(
        st.text(max_size=14),
        st.from_regex(r"\A[0-9]{5,11}\Z"),
        st.from_regex(r"\A[0-9]{6}[-/.][0-9]{3,5}\Z"),
        st.from_regex(r"\A[0-9]{6}-[0-9]{4}[0-9a-z]\Z"),
    )
)
def test_malformed_input_is_rejected_without_revealing_it(value: str) -> None:
    try:
        parse_cpr(value, today=FAR_FUTURE)
    except InvalidCpr as exc:
        _assert_not_revealed(exc, value)


@given(cpr_parts(), st.integers(0, 3))
def test_error_messages_never_contain_the_number(
    parts: tuple[str, date, bool, int], breakage: int
) -> None:
    digits, birth, _, _ = parts
    broken = [
        _replace(digits, 0, "00"),  # day
        _replace(digits, 2, "13"),  # month
        digits + "1",  # length
        digits,  # future, with today before the birth date
    ][breakage]
    with pytest.raises(InvalidCpr) as caught:
        parse_cpr(dashed(broken) if breakage != 2 else broken, today=birth - timedelta(days=1))
    _assert_not_revealed(caught.value, broken)


def _assert_not_revealed(exc: InvalidCpr, value: str) -> None:
    # Stronger than "the number is not in it": an error about a CPR number has no digits.
    shown = f"{exc} {exc!r} {exc.args} {exc.code} {exc.reason}"
    assert not any(ch.isdigit() for ch in shown), "error message reveals digits"
    digits = "".join(ch for ch in value if ch.isdigit())
    assert not digits or digits not in shown


@given(cpr_parts())
def test_repr_and_str_never_reveal_the_number(parts: tuple[str, date, bool, int]) -> None:
    cpr = parse_cpr(parts[0], today=FAR_FUTURE)
    for shown in (repr(cpr), str(cpr), f"{cpr}", f"{[cpr]}", f"{ {'c': cpr} }"):
        assert parts[0] not in shown
        assert cpr.formatted not in shown
        assert parts[0][:6] not in shown
    assert repr(cpr) == "Cpr(<redacted>)"


def test_cpr_is_frozen_and_needs_ten_digits() -> None:
    cpr = parse_cpr(generated("010175", 2), today=FAR_FUTURE)
    with pytest.raises(AttributeError):
        cpr.value = "0"  # type: ignore[misc]
    with pytest.raises(InvalidCpr):
        Cpr(value="12345", birth_date=date(1975, 1, 1), is_substitute=False, sex=Sex.MALE)


def test_modulus_11_is_not_checked() -> None:
    failing = generated("150675", 1)
    assert fails_mod11(failing)
    assert parse_cpr(failing, today=FAR_FUTURE).birth_date == date(1975, 6, 15)


# --- age ----------------------------------------------------------------------------------


@given(st.dates(date(1900, 1, 1), date(2080, 12, 31)), st.integers(0, 110))
def test_age_is_reached_on_the_birthday(birth: date, years: int) -> None:
    target = birth.year + years
    assume(target <= 9999)
    if (birth.month, birth.day) == (2, 29) and not calendar.isleap(target):
        birthday = date(target, 3, 1)
    else:
        birthday = birth.replace(year=target)
    assert age_on(birth, birthday) == years
    if birthday > birth:
        assert age_on(birth, birthday - timedelta(days=1)) == years - 1


@given(st.dates(date(1900, 1, 1), date(2080, 12, 31)), st.integers(0, 40000), st.integers(0, 400))
def test_age_never_decreases(birth: date, a: int, b: int) -> None:
    first = birth + timedelta(days=a)
    assert age_on(birth, first) <= age_on(birth, first + timedelta(days=b))


def test_born_29_february_turns_a_year_older_on_1_march_in_common_years() -> None:
    birth = date(2008, 2, 29)
    assert age_on(birth, date(2026, 2, 28)) == 17
    assert age_on(birth, date(2026, 3, 1)) == 18
    assert age_on(birth, date(2028, 2, 29)) == 20


def test_age_before_birth_is_an_error() -> None:
    with pytest.raises(ValueError, match="before the birth date"):
        age_on(date(2000, 5, 5), date(2000, 5, 4))


def test_adult_from_the_18th_birthday() -> None:
    cpr = parse_cpr(generated("100308", 4), today=FAR_FUTURE)  # 7th digit 4, year 08: 2008
    assert cpr.birth_date == date(2008, 3, 10)
    assert not is_adult_on(cpr, date(2026, 3, 9))
    assert is_adult_on(cpr, date(2026, 3, 10))


# --- What a person is told (Danish), per refusal --------------------------------------------


@pytest.mark.parametrize(
    ("typed", "code", "message"),
    [
        ("12345", "length", "CPR-nummeret skal have 10 cifre."),
        ("150675-12345", "length", "CPR-nummeret skal have 10 cifre."),
        ("15O675-1234", "length", "CPR-nummeret skal have 10 cifre."),  # a letter O
        ("", "length", "CPR-nummeret skal have 10 cifre."),
        (
            "1506-751234",
            "format",
            "CPR-nummeret er ikke skrevet rigtigt. Skriv det som DDMMÅÅ-XXXX.",
        ),
        (
            "150675--1234",
            "format",
            "CPR-nummeret er ikke skrevet rigtigt. Skriv det som DDMMÅÅ-XXXX.",
        ),
        ("300275-1234", "date", "Datoen i CPR-nummeret findes ikke."),  # 30 February
        ("320175-1234", "day", "Datoen i CPR-nummeret findes ikke."),
        ("011375-1234", "month", "Datoen i CPR-nummeret findes ikke."),
        ("010130-5234", "future", "Fødselsdatoen i CPR-nummeret ligger i fremtiden."),
    ],
)
def test_each_refusal_says_what_is_wrong(typed: str, code: str, message: str) -> None:
    with pytest.raises(InvalidCpr) as caught:
        parse_cpr(typed, today=date(2026, 12, 1))
    assert (caught.value.code, caught.value.message_da) == (code, message)
    assert "DDMMÅÅ" not in message or code == "format"

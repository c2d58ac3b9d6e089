"""Steps about CPR numbers. Numbers are made by the test from a date part and a 7th digit,
with a serial that fails the modulus-11 check: no real person's number is written down."""

from __future__ import annotations

from datetime import date

from pytest_bdd import given, parsers, then, when

from consent_service.citizens.cpr import InvalidCpr, Sex, parse_cpr
from tests.bdd.steps.common import DATE, World, danish_date

MOD11_WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)


def passes_mod11(digits: str) -> bool:
    return sum(int(c) * w for c, w in zip(digits, MOD11_WEIGHTS, strict=True)) % 11 == 0


def generated_cpr(head: str, seventh: int, *, odd: bool | None = None) -> str:
    """Ten digits: ``head`` (DDMMYY), ``seventh``, and the first serial that fails
    modulus 11 (with an odd or even last digit if asked)."""
    for serial in range(1000):
        digits = f"{head}{seventh}{serial:03d}"
        if odd is not None and int(digits[-1]) % 2 != int(odd):
            continue
        if not passes_mod11(digits):
            return digits
    raise AssertionError("no serial fails modulus 11")


@given(parsers.re(rf"dagen i dag er (?P<day>{DATE})"), converters={"day": danish_date})
def today_is(world: World, day: date) -> None:
    world.today = day


@given(
    parsers.re(
        r'et dannet CPR-nummer med datodelen "(?P<head>\d{6})" og (?P<seventh>\d) som 7\. '
        r"ciffer(?P<rest>.*)"
    ),
    converters={"seventh": int},
)
def generated_number(world: World, head: str, seventh: int, rest: str) -> None:
    odd = {", der slutter med et ulige ciffer": True, ", der slutter med et lige ciffer": False}
    digits = generated_cpr(head, seventh, odd=odd.get(rest))
    if rest == ", skrevet uden bindestreg og med mellemrum":
        world.cpr_text = f" {digits[:6]} {digits[6:]} "
    elif rest == ", uden det sidste ciffer":
        world.cpr_text = f"{digits[:6]}-{digits[6:9]}"
    elif rest == ", skrevet med bindestregen et forkert sted":
        world.cpr_text = f"{digits[:4]}-{digits[4:]}"
    elif rest in ("", *odd):
        world.cpr_text = f"{digits[:6]}-{digits[6:]}"
    else:
        raise AssertionError(f"unknown step ending: {rest!r}")


@when("nummeret kontrolleres")
def check_number(world: World) -> None:
    assert world.cpr_text is not None
    assert world.today is not None
    try:
        world.cpr = parse_cpr(world.cpr_text, today=world.today)
    except InvalidCpr as exc:
        world.cpr_error = exc


@then("er nummeret gyldigt")
def is_valid(world: World) -> None:
    assert world.cpr_error is None, world.cpr_error
    assert world.cpr is not None


@then(parsers.re(rf"fødselsdatoen er (?P<day>{DATE})"), converters={"day": danish_date})
def birth_date_is(world: World, day: date) -> None:
    assert world.cpr is not None
    assert world.cpr.birth_date == day


@then(parsers.re(r"afvises nummeret(?P<why>, fordi fødselsdatoen ligger i fremtiden)?"))
def is_rejected(world: World, why: str | None) -> None:
    assert world.cpr is None
    assert world.cpr_error is not None
    if why:
        assert world.cpr_error.code == "future"


@then(parsers.re(r'afvises nummeret med beskeden "(?P<message>.+)"'))
def is_rejected_saying(world: World, message: str) -> None:
    """The Danish message a person sees (``citizens.service.parse_cpr_input`` shows it)."""
    assert world.cpr is None
    assert world.cpr_error is not None
    assert world.cpr_error.message_da == message


@then("fejlbeskeden indeholder ikke nummeret")
def error_hides_number(world: World) -> None:
    assert world.cpr_error is not None
    assert world.cpr_text is not None
    shown = f"{world.cpr_error} {world.cpr_error!r}"
    digits = "".join(ch for ch in world.cpr_text if ch.isdigit())
    assert digits not in shown
    assert digits[:6] not in shown
    assert not any(ch.isdigit() for ch in shown)


@then(
    parsers.re(r"(?:er nummeret|nummeret er) (?P<neg>ikke )?markeret som erstatningspersonnummer")
)
def is_substitute(world: World, neg: str | None) -> None:
    assert world.cpr is not None
    assert world.cpr.is_substitute is (not neg)


@then("nummeret består ikke modulus 11-kontrollen")
def fails_mod11(world: World) -> None:
    assert world.cpr is not None
    assert not passes_mod11(world.cpr.value)


@then(parsers.re(r"nummeret tilhører en (?P<sex>mand|kvinde)"))
def sex_is(world: World, sex: str) -> None:
    assert world.cpr is not None
    assert world.cpr.sex is (Sex.MALE if sex == "mand" else Sex.FEMALE)

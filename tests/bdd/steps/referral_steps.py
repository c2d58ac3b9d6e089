"""Steps of features/henvisning_maalgruppe.feature: the warnings of the referral form,
asked of the pure rule (``citizens.referrals.criteria_warnings``)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pytest_bdd import given, parsers, then

from consent_service.citizens.cpr import parse_cpr
from consent_service.citizens.referrals import CRITERIA, criteria_warnings
from tests.bdd.steps.common import DATE, danish_date
from tests.factories import synthetic_cpr

# What each warning the feature names is recognised by in its Danish text.
WARNING_WORDS = {"bopæl": "Norddjurs", "kontakt": "kontaktes", "alder": "under 18 år"}


@pytest.fixture
def referral_form() -> dict[str, Any]:
    return {}


def _cpr_born(birth: date) -> str:
    """A CPR-shaped number for ``birth``: 7th digit 4 for 2000-2036, else the factory's."""
    if 2000 <= birth.year <= 2036:
        return f"{birth:%d%m%y}-4007"
    return synthetic_cpr(birth)


@given(
    parsers.re(rf"en henvisning den (?P<referred>{DATE}) af en borger født den (?P<born>{DATE})"),
    converters={"referred": danish_date, "born": danish_date},
)
def a_referral(referral_form: dict[str, Any], referred: date, born: date) -> None:
    referral_form["referred_on"] = referred
    referral_form["cpr"] = parse_cpr(_cpr_born(born), today=referred)


@given(parsers.re(r'"(?P<label>[^"]+)" er (?P<ticked>krydset af|ikke krydset af)'))
def criterion(referral_form: dict[str, Any], label: str, ticked: str) -> None:
    [name] = [n for n, text in CRITERIA.items() if text == label]
    referral_form[name] = ticked == "krydset af"


@then(parsers.re(r"advares henviseren om (?P<expected>.+)"))
def warned_about(referral_form: dict[str, Any], expected: str) -> None:
    warnings = criteria_warnings(
        referral_form["cpr"],
        referral_form["referred_on"],
        referral_form["norddjurs_link"],
        referral_form["reachable"],
    )
    named = [] if expected == "intet" else [w.strip() for w in expected.split(",")]
    assert len(warnings) == len(named), warnings
    for name, warning in zip(named, warnings, strict=True):
        assert WARNING_WORDS[name] in warning, (name, warning)

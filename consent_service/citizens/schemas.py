from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from consent_service.text import REFUSED_IN_LINE, check_text

# The request schema carries the rules a client can check before sending, as patterns
# (ECMA-262 and Rust regex alike: explicit classes, no \s or \d, whose meaning differs
# between engines). What needs a calendar, today's date or another field is checked by
# the service and answered 422 with the field named (see the operation's description).

# Control characters (C0, DEL, C1) and bidirectional overrides/isolates: never in a line.
# The shared text rule's class (consent_service/text.py); ``Line`` applies the rule itself
# (which also refuses unpaired surrogates and normalises to NFC).
_REFUSED = REFUSED_IN_LINE
# Whitespace as any of Python, Rust and ECMA-262 count it (the service strips it).
_SPACE = r" \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
LINE = rf"^[^{_REFUSED}]*$"
REQUIRED_LINE = rf"^[^{_REFUSED}]*[^{_REFUSED}{_SPACE}][^{_REFUSED}]*$"
# DDMMYY-SSSS or DDMMYYSSSS; days 61-91 are substitute numbers (erstatningspersonnumre).
# No modulus-11 check: numbers issued since 1 October 2007 need not pass it.
CPR = r"^(0[1-9]|[12][0-9]|3[01]|6[1-9]|[78][0-9]|9[01])(0[1-9]|1[0-2])[0-9]{2}-?[0-9]{4}$"
PHONE = r"^(\+?[0-9][0-9 ]{6,18}[0-9])?$"
_NOT_IN_EMAIL = rf"@{_REFUSED}{_SPACE}"
EMAIL = rf"^([^{_NOT_IN_EMAIL}]{{1,64}}@[^{_NOT_IN_EMAIL}]+\.[^{_NOT_IN_EMAIL}]{{2,}})?$"

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date(value: Any) -> Any:
    """A date is a JSON string YYYY-MM-DD, as the schema says: not a number (a timestamp)
    nor a date and time."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("expected a date as YYYY-MM-DD")
    return date.fromisoformat(value)


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Line = Annotated[str, AfterValidator(check_text)]


class ReferralSubmission(BaseModel):
    """A referral from a practice system. The CPR number goes in the body, never a URL."""

    # Strict: JSON's types as the schema says them ("true" is no boolean, 0 no date).
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # A clinic is named unless the citizen referred themself.
            "if": {"properties": {"referrer_kind": {"const": "self"}}},
            "else": {"required": ["clinic"], "properties": {"clinic": {"pattern": REQUIRED_LINE}}},
        },
    )

    cpr: str = Field(
        max_length=11,
        pattern=CPR,
        description=(
            "DDMMYY-SSSS or DDMMYYSSSS (days 61-91: substitute number). No modulus-11 "
            "check. A birth date that does not exist in the calendar or lies in the future "
            "is refused with 422 (field `cpr`)."
        ),
    )
    name: Line = Field(min_length=1, max_length=200, pattern=REQUIRED_LINE)
    # Their patterns hold the text rule already (digits; no refused character).
    phone: str | None = Field(default=None, max_length=20, pattern=PHONE)
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL)
    municipality: Line = Field(min_length=1, max_length=100, pattern=REQUIRED_LINE)
    gp_clinic: Line = Field(min_length=1, max_length=200, pattern=REQUIRED_LINE)
    referrer_kind: Literal["gp", "nurse", "midwife", "practice_staff", "self"]
    clinic: Line = Field(
        default="",
        max_length=200,
        pattern=LINE,
        description="The referring clinic; required (not blank) unless referrer_kind is self.",
    )
    referred_on: IsoDate = Field(
        description=(
            "Not in the future and not before the citizen's birth date (else 422, field "
            "`referred_on`)."
        )
    )
    course_start_on: IsoDate | None = Field(
        default=None,
        description="Not before referred_on (else 422, field `course_start_on`).",
    )
    norddjurs_link: bool = Field(strict=True, description="resides or has a GP in Norddjurs")
    reachable: bool = Field(strict=True, description="reachable by phone or e-mail")


class ReferralAccepted(BaseModel):
    """The referral was received. The same answer whether the citizen is new to the pilot
    or already taking part: no citizen id, no "new citizen" flag, nothing derived from
    what the service already held, so the API is no way to learn who takes part. The
    referral counts as the submitting token's practice's (its referrer account); a token
    can add referrals only, and read none."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    referral_id: str = Field(
        description="The referral's own public id: quote it when asking about this referral."
    )
    status: Literal["received"] = Field(
        default="received", description="Always 'received': the navigator takes it from here."
    )

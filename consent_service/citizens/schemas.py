from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ReferralSubmission(BaseModel):
    """A referral from a practice system. The CPR number goes in the body, never a URL."""

    model_config = ConfigDict(extra="forbid")

    cpr: str = Field(max_length=11, description="DDMMYY-SSSS or 10 digits")
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=254)
    municipality: str = Field(min_length=1, max_length=100)
    gp_clinic: str = Field(min_length=1, max_length=200)
    referrer_kind: str = Field(description="gp, nurse, midwife, practice_staff or self")
    clinic: str = Field(default="", max_length=200)
    referred_on: date
    course_start_on: date | None = None
    norddjurs_link: bool = Field(description="resides or has a GP in Norddjurs")
    reachable: bool = Field(description="reachable by phone or e-mail")


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

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from consent_service.text import SafeText


class ReferralSubmission(BaseModel):
    """A referral from a practice system. The CPR number goes in the body, never a URL."""

    model_config = ConfigDict(extra="forbid")

    cpr: str = Field(max_length=11, description="DDMMYY-SSSS or 10 digits")
    name: SafeText = Field(min_length=1, max_length=200)
    phone: SafeText | None = Field(default=None, max_length=20)
    email: SafeText | None = Field(default=None, max_length=254)
    municipality: SafeText = Field(min_length=1, max_length=100)
    gp_clinic: SafeText = Field(min_length=1, max_length=200)
    referrer_kind: SafeText = Field(description="gp, nurse, midwife, practice_staff or self")
    clinic: SafeText = Field(default="", max_length=200)
    referred_on: date
    course_start_on: date | None = None
    norddjurs_link: bool = Field(description="resides or has a GP in Norddjurs")
    reachable: bool = Field(description="reachable by phone or e-mail")


class ReferralAccepted(BaseModel):
    referral_id: str
    citizen_id: str
    cohort: str | None
    data_collection: bool = Field(description="18+ at referral: consents may be collected")
    new_citizen: bool

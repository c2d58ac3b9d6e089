"""The rule file of data-subject requests, ``policies/requests.yaml``: the kinds of
request with their articles, the channels, the statuses, and the deadline rule (one
month, extendable by at most two further months: GDPR art. 12(3))."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from consent_service.rulefile import load_yaml_model

RULE_FILE = Path(__file__).resolve().parents[2] / "policies" / "requests.yaml"

# The codes the service stores; the rule file must name each exactly once.
KINDS = ("access", "rectification", "erasure", "withdrawal", "objection")
CHANNELS = ("letter", "email", "phone", "in_person", "digital_post")
RECEIVED, EXTENDED, ANSWERED, REFUSED = "received", "extended", "answered", "refused"
STATUSES = (RECEIVED, EXTENDED, ANSWERED, REFUSED)
OPEN_STATUSES = (RECEIVED, EXTENDED)
CLOSING = (ANSWERED, REFUSED)


class RequestRuleError(ValueError):
    """policies/requests.yaml is missing or invalid."""


class Kind(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    article: str = Field(min_length=1)
    name_da: str = Field(min_length=1)


class RequestRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    deadline_months: int = Field(ge=1, le=1)  # GDPR art. 12(3): one month, not more
    max_extension_months: int = Field(ge=0, le=2)  # art. 12(3): two further months at most
    warn_within_days: int = Field(ge=0, le=31)
    kinds: dict[str, Kind]
    channels: dict[str, str]
    statuses: dict[str, str]

    @model_validator(mode="after")
    def _codes_are_the_services(self) -> RequestRules:
        for what, given, known in (
            ("kinds", self.kinds, KINDS),
            ("channels", self.channels, CHANNELS),
            ("statuses", self.statuses, STATUSES),
        ):
            if set(given) != set(known):
                raise ValueError(f"{what} must be exactly {', '.join(known)}")
        if any(not name.strip() for name in (*self.channels.values(), *self.statuses.values())):
            raise ValueError("every channel and status needs a Danish name")
        return self

    def kind_name(self, code: str) -> str:
        return self.kinds[code].name_da


@cache
def request_rules() -> RequestRules:
    return load_yaml_model(RULE_FILE, RequestRules, "data-subject request rules", RequestRuleError)

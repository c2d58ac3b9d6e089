"""The consent kinds as data (``policies/consents.yaml``), validated when loaded.

Loading is strict: unknown keys are errors, numbers and flags must have their type (no
"yes" for true), and every error names the file and the field.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from consent_service.rulefile import load_yaml_model

DEFAULT_CONSENTS_FILE = Path(__file__).resolve().parents[2] / "policies" / "consents.yaml"

DataCategory = Literal["ordinary", "confidential", "sensitive"]
WithdrawableUntil = Literal["data_obtained", "any_time"]
# "day_before_anniversary": signed 10 March 2026, 1 year -> last covered day 9 March 2027.
# "anniversary": the anniversary itself is still covered.
LastCoveredDay = Literal["day_before_anniversary", "anniversary"]


class ConsentKindsError(ValueError):
    """The consent-kinds file is missing, not YAML, or invalid; names file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LegalBasis(_Strict):
    code: StrictStr = Field(pattern=r"^[A-Za-z0-9-]+$", description="e.g. SUL-42d-1, GDPR-6-1-a")
    text_da: StrictStr = Field(min_length=1, description="as cited to a citizen")
    covers: StrictStr = Field(min_length=1, description="what this basis covers (English)")


class Validity(_Strict):
    period_years: StrictInt | None = Field(
        ge=1, description="validity from the signing day; null = no fixed expiry"
    )
    last_covered_day: LastCoveredDay | None = Field(
        description="which day is the last one covered, counted from the signing day's "
        "anniversary; required with a period, absent without one"
    )
    rule: StrictStr = Field(min_length=1, description="the calendar rule, with its source")
    rule_da: StrictStr = Field(min_length=1)

    @model_validator(mode="after")
    def _end_rule_with_period(self) -> Validity:
        if (self.period_years is None) != (self.last_covered_day is None):
            raise ValueError("last_covered_day is required with period_years, and only then")
        return self


class Withdrawal(_Strict):
    until: WithdrawableUntil
    rule: StrictStr = Field(min_length=1)
    method_da: StrictStr = Field(min_length=1, description="how a citizen withdraws")


class ConsentKind(_Strict):
    id: StrictStr
    name_da: StrictStr = Field(min_length=1)
    short_name_da: StrictStr = Field(min_length=1)
    legal_bases: tuple[LegalBasis, ...] = Field(min_length=1)
    purpose_da: StrictStr = Field(min_length=1)
    information_da: tuple[StrictStr, ...] = Field(min_length=1)
    data_categories: tuple[DataCategory, ...] = Field(min_length=1)
    recipients_da: StrictStr = Field(min_length=1)
    validity: Validity
    withdrawal: Withdrawal
    requires_written_form: StrictBool
    requires_journal_entry: StrictBool
    minimum_age: StrictInt = Field(ge=0)
    voluntary: StrictBool

    @model_validator(mode="after")
    def _voluntary(self) -> ConsentKind:
        # A consent that is not voluntary is no consent (GDPR art. 4(11); seed 002: the
        # navigator offer must never depend on the journal consent).
        if not self.voluntary:
            raise ValueError("a consent kind must be voluntary")
        return self


class Controller(_Strict):
    name: StrictStr = Field(min_length=1)
    role_da: StrictStr = Field(min_length=1)
    address: StrictStr = Field(min_length=1)
    contact_da: StrictStr = Field(min_length=1)


class Dpo(_Strict):
    name_da: StrictStr = Field(min_length=1)
    email: StrictStr = Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


class ConsentKinds(_Strict):
    controller: Controller
    dpo: Dpo
    kinds: dict[str, ConsentKind] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _ids_from_keys(cls, data: Any) -> Any:
        # The key is the id; a kind may repeat it but not contradict it.
        if isinstance(data, dict) and isinstance(data.get("kinds"), dict):
            kinds = {}
            for key, body in data["kinds"].items():
                if isinstance(body, dict):
                    if "id" in body and body["id"] != key:
                        raise ValueError(f"kinds.{key}.id must equal its key '{key}'")
                    body = {"id": key, **body}
                kinds[key] = body
            data = {**data, "kinds": kinds}
        return data

    def __getitem__(self, kind_id: str) -> ConsentKind:
        return self.kinds[kind_id]

    @property
    def dpo_contact_da(self) -> str:
        return f"{self.dpo.name_da}, {self.dpo.email}"


def load_consent_kinds(path: Path = DEFAULT_CONSENTS_FILE) -> ConsentKinds:
    """Read and validate the consent kinds. Raises :class:`ConsentKindsError` naming the
    file and every field in error."""
    return load_yaml_model(path, ConsentKinds, "consent kinds", ConsentKindsError)


@cache
def default_consent_kinds() -> ConsentKinds:
    """The kinds of ``policies/consents.yaml``, loaded once per process."""
    return load_consent_kinds()

"""The extract policy, ``policies/extracts.yaml``: purposes, their sources and fields, the
consent each needs and the data period around the referral. Validated when loaded; the
checks of a request against it name the rule that refuses."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from consent_service.rulefile import load_yaml_model

DEFAULT_EXTRACTS_FILE = Path(__file__).resolve().parents[2] / "policies" / "extracts.yaml"
MEASUREMENTS = (1, 2)


class ExtractPolicyError(ValueError):
    """The extract policy file is missing, not YAML, or invalid; names file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    da: StrictStr
    fields: dict[StrictStr, StrictStr] = Field(min_length=1)


class Purpose(_Strict):
    da: StrictStr
    outcome_payer: StrictStr
    consent_kind: Literal["journal", "wellbeing"]
    period_years_before: StrictInt = Field(ge=0, le=2)
    period_years_after: StrictInt = Field(ge=1, le=2)
    sources: dict[StrictStr, Source] = Field(min_length=1)


class Downloads(_Strict):
    max_count: StrictInt = Field(ge=1, le=10)
    valid_days: StrictInt = Field(ge=1, le=90)


class ExtractPolicy(_Strict):
    version: StrictInt
    purposes: dict[StrictStr, Purpose] = Field(min_length=1)
    downloads: Downloads
    sha256: StrictStr = ""

    def refusal(
        self, purpose: str, sources: list[str], fields: list[str], measurement: int
    ) -> str | None:
        """Why a request breaks the policy (Danish, naming the rule), or None."""
        if purpose not in self.purposes:
            return "Formålet findes ikke i udtrækspolitikken (policies/extracts.yaml)."
        p = self.purposes[purpose]
        if not sources:
            return "Vælg mindst én kilde."
        for source in sources:
            if source not in p.sources:
                return (
                    f"Kilden '{source}' er ikke tilladt til formålet '{p.da}' "
                    f"(policies/extracts.yaml, purposes.{purpose}.sources)."
                )
        if not fields:
            return "Vælg mindst ét felt."
        allowed = {f for s in sources for f in p.sources[s].fields}
        for f in fields:
            if f not in allowed:
                return (
                    f"Feltet '{f}' er ikke tilladt til formålet '{p.da}' fra de valgte kilder "
                    f"(policies/extracts.yaml, purposes.{purpose}.sources.*.fields)."
                )
        if measurement not in MEASUREMENTS:
            return "Målingen er 1 eller 2 år efter henvisningen."
        if measurement > max(p.period_years_after, 1) or (
            p.consent_kind == "wellbeing" and measurement != 1
        ):
            return (
                f"Formålet '{p.da}' tillader data højst {p.period_years_after} år efter "
                f"henvisningen (policies/extracts.yaml, purposes.{purpose}.period_years_after)."
            )
        return None


def load_extract_policy(path: Path = DEFAULT_EXTRACTS_FILE) -> ExtractPolicy:
    """The extract policy from ``path``, validated; raises ExtractPolicyError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ExtractPolicyError(f"{path}: cannot read the extract policy: {exc}") from exc
    policy = load_yaml_model(path, ExtractPolicy, "extract policy", ExtractPolicyError, raw)
    # The hash of the reviewed bytes, recorded in every request and manifest.
    return policy.model_copy(update={"sha256": hashlib.sha256(raw).hexdigest()})


@cache
def default_extract_policy() -> ExtractPolicy:
    """The policy in ``policies/extracts.yaml`` (read once)."""
    return load_extract_policy()

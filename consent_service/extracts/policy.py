"""The extract policy, ``policies/extracts.yaml``: purposes, their sources and fields, the
consent each needs and the data period around the referral. Validated when loaded; the
checks of a request against it say, in the words of the page, what to choose instead."""

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
    # The law the data is obtained and disclosed under, in Danish for the citizen.
    legal_basis: StrictStr = Field(min_length=10)
    period_years_before: StrictInt = Field(ge=0, le=2)
    period_years_after: StrictInt = Field(ge=1, le=2)
    sources: dict[StrictStr, Source] = Field(min_length=1)

    @property
    def measurements(self) -> tuple[int, ...]:
        """The measurements (years after the referral) the purpose's data period allows:
        a questionnaire purpose is measured once, after a year."""
        return tuple(
            m
            for m in MEASUREMENTS
            if m <= max(self.period_years_after, 1) and (self.consent_kind != "wellbeing" or m == 1)
        )


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
        """Why a request breaks the policy, or None: in Danish, with the names a person
        sees on the page and what to choose instead (never the rule file's path or keys)."""
        found = self.problems(purpose, sources, fields, measurement)
        return found[0][1] if found else None

    def problems(
        self, purpose: str, sources: list[str], fields: list[str], measurement: int | None
    ) -> list[tuple[str, str]]:
        """Every way a request breaks the policy, as (form field, Danish message), in the
        order the page shows the fields; ``measurement`` None is checked elsewhere."""
        if purpose not in self.purposes:
            return [("purpose", "Vælg et formål. Formålet findes ikke i udtrækspolitikken.")]
        p = self.purposes[purpose]
        found: list[tuple[str, str]] = []
        if not sources:
            found.append(("sources", "Vælg mindst én kilde."))
        for source in sources:
            if source not in p.sources:
                found.append((
                    "sources",
                    f"Kilden {self._source_name(source)} hører ikke til formålet '{p.da}'. "
                    "Vælg en af formålets kilder.",
                ))  # fmt: skip
                break
        allowed = {f for s in sources if s in p.sources for f in p.sources[s].fields}
        if not fields:
            found.append(("fields", "Vælg mindst ét felt."))
        for f in fields:
            if f not in allowed:
                found.append((
                    "fields",
                    f"Feltet {self._field_name(f)} hører ikke til formålet '{p.da}' fra de "
                    "valgte kilder. Vælg kun felter fra de valgte kilder.",
                ))  # fmt: skip
                break
        if measurement is not None and measurement not in MEASUREMENTS:
            found.append(("measurement_years", "Målingen er 1 eller 2 år efter henvisningen."))
        elif measurement is not None and measurement not in p.measurements:
            found.append((
                "measurement_years",
                f"Formålet '{p.da}' tillader data højst {max(p.measurements)} år efter "
                "henvisningen. Vælg en kortere måling.",
            ))  # fmt: skip
        return found

    def _source_name(self, code: str) -> str:
        """A source's Danish name in quotes, as any purpose names it, or "du valgte"."""
        for p in self.purposes.values():
            if code in p.sources:
                return f"'{p.sources[code].da}'"
        return "du valgte"

    def _field_name(self, code: str) -> str:
        """A field's Danish name in quotes, as any source names it, or "du valgte"."""
        for p in self.purposes.values():
            for s in p.sources.values():
                if code in s.fields:
                    return f"'{s.fields[code]}'"
        return "du valgte"


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

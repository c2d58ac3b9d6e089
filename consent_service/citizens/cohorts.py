"""Cohorts ("hold") of the pilot, by course start date, as data in ``policies/cohorts.yaml``.

Each cohort is measured after 1 and after 2 years ("Hold 2:2" is the 2-year measurement
of cohort 2; seed 002, timeline appendix). The file is validated when loaded: unique ids,
each cohort's dates in order, cohorts in start order and not overlapping.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictInt,
    StrictStr,
    model_validator,
)

from consent_service.rulefile import load_yaml_model

# YAML gives dates as dates: accept nothing else (no strings, no timestamps).
StrictDate = Annotated[date, Strict()]
DEFAULT_COHORTS_FILE = Path(__file__).resolve().parents[2] / "policies" / "cohorts.yaml"


class CohortsFileError(ValueError):
    """The cohorts file is missing, is not YAML, or breaks a rule; names file and field."""


class Cohort(BaseModel):
    """A cohort: everyone whose course starts between ``starts_on`` and ``ends_on``, both
    included."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: StrictStr = Field(pattern=r"^[a-z0-9-]{1,32}$")
    name: StrictStr = Field(min_length=1, description="Danish display name, e.g. 'Hold 1'")
    starts_on: StrictDate
    ends_on: StrictDate
    measurement_offsets_years: tuple[StrictInt, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _dates_in_order(self) -> Cohort:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on lies before starts_on")
        offsets = self.measurement_offsets_years
        if any(o < 1 for o in offsets) or list(offsets) != sorted(set(offsets)):
            raise ValueError("measurement_offsets_years must be positive and increasing")
        return self

    def contains(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on

    def measurement_name(self, offset_years: int) -> str:
        """The measurement's name as the payment model writes it, e.g. "Hold 2:2"."""
        if offset_years not in self.measurement_offsets_years:
            raise ValueError(f"{self.name} has no {offset_years}-year measurement")
        return f"{self.name}:{offset_years}"


class Cohorts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cohorts: tuple[Cohort, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered_and_disjoint(self) -> Cohorts:
        ids = [c.id for c in self.cohorts]
        if len(ids) != len(set(ids)):
            raise ValueError("cohort ids must be unique")
        for earlier, later in pairwise(self.cohorts):
            if later.starts_on <= earlier.ends_on:
                raise ValueError(
                    f"cohort '{later.id}' must start after cohort '{earlier.id}' ends "
                    "(cohorts are listed in order and do not overlap)"
                )
        return self

    def cohort_for(self, start_date: date) -> Cohort | None:
        return next((c for c in self.cohorts if c.contains(start_date)), None)

    def by_id(self, cohort_id: str) -> Cohort:
        for cohort in self.cohorts:
            if cohort.id == cohort_id:
                return cohort
        raise KeyError(cohort_id)


def load_cohorts(path: Path = DEFAULT_COHORTS_FILE) -> Cohorts:
    """Read and validate the cohorts file. Raises :class:`CohortsFileError` naming the file
    and every field in error."""
    return load_yaml_model(path, Cohorts, "cohorts file", CohortsFileError)


@cache
def default_cohorts() -> Cohorts:
    """The cohorts of ``policies/cohorts.yaml``, loaded once per process."""
    return load_cohorts()


def cohort_for(start_date: date, cohorts: Sequence[Cohort] | None = None) -> Cohort | None:
    """The cohort whose period includes the course start date, or None if it falls outside
    every cohort (before 1 March 2026 or after 31 December 2027 in the current plan)."""
    if cohorts is None:
        return default_cohorts().cohort_for(start_date)
    return next((c for c in cohorts if c.contains(start_date)), None)

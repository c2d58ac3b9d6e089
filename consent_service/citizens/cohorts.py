"""Cohorts ("hold") of the pilot, by course start date, as data in ``policies/cohorts.yaml``.

Each cohort is measured after 1 and after 2 years ("Hold 2:2" is the 2-year measurement
of cohort 2; seed 002, timeline appendix). The file is validated when loaded: unique ids,
each cohort's dates in order, cohorts in start order and not overlapping.

The file also states the rule for a measurement's planned extract date
(``planned_measurement``): the day after the cohort's last start date plus the
measurement's offset in years, so every member has that many years of follow-up on the
day (``Cohorts.planned_on``). A data controller's override is stored elsewhere
(``extracts.measurements``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Literal

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


def add_years(day: date, years: int) -> date:
    """The same calendar date ``years`` later; 29 February becomes 1 March in a year
    without one (as ``consents.rules.anniversary``)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


class PlannedMeasurement(BaseModel):
    """The rule for a measurement's planned extract date: ``anchor`` (a cohort date) plus
    ``days_after_anchor`` days, plus the measurement's offset in years."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    anchor: Literal["ends_on", "starts_on"]
    days_after_anchor: StrictInt = Field(ge=0, le=366)
    plus_offset_years: Literal[True]

    def planned_on(self, cohort: Cohort, offset_years: int) -> date:
        cohort.measurement_name(offset_years)  # refuses a measurement the cohort has not
        base = cohort.ends_on if self.anchor == "ends_on" else cohort.starts_on
        return add_years(base + timedelta(days=self.days_after_anchor), offset_years)


class Measurement(BaseModel):
    """One cohort measurement ("Hold 2:2") with its planned extract date by the rule."""

    model_config = ConfigDict(frozen=True)

    cohort: Cohort
    offset_years: int
    planned_on: date

    @property
    def name(self) -> str:
        return self.cohort.measurement_name(self.offset_years)


class Cohorts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    planned_measurement: PlannedMeasurement
    cohorts: tuple[Cohort, ...] = Field(min_length=1)

    def planned_on(self, cohort_id: str, offset_years: int) -> date:
        """The planned extract date of a cohort's measurement by the file's rule."""
        return self.planned_measurement.planned_on(self.by_id(cohort_id), offset_years)

    def measurements(self) -> list[Measurement]:
        """Every cohort x measurement, in cohort order, each with its planned date."""
        return [
            Measurement(
                cohort=c, offset_years=n, planned_on=self.planned_measurement.planned_on(c, n)
            )
            for c in self.cohorts
            for n in c.measurement_offsets_years
        ]

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

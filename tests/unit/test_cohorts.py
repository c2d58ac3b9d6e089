"""Cohorts by course start date, from policies/cohorts.yaml."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent_service.citizens.cohorts import (
    CohortsFileError,
    Measurement,
    add_years,
    cohort_for,
    default_cohorts,
    load_cohorts,
)


@pytest.mark.parametrize(
    ("start", "cohort"),
    [
        (date(2026, 2, 28), None),
        (date(2026, 3, 1), "Hold 1"),
        (date(2026, 9, 30), "Hold 1"),
        (date(2026, 10, 1), "Hold 2"),
        (date(2027, 4, 30), "Hold 2"),
        (date(2027, 5, 1), "Hold 3"),
        (date(2027, 12, 31), "Hold 3"),
        (date(2028, 1, 1), None),
    ],
)
def test_cohort_by_start_date(start: date, cohort: str | None) -> None:
    found = cohort_for(start)
    assert (found.name if found else None) == cohort


def test_the_plan_of_the_payment_model() -> None:
    cohorts = default_cohorts().cohorts
    assert [(c.id, c.name, c.starts_on, c.ends_on) for c in cohorts] == [
        ("hold-1", "Hold 1", date(2026, 3, 1), date(2026, 9, 30)),
        ("hold-2", "Hold 2", date(2026, 10, 1), date(2027, 4, 30)),
        ("hold-3", "Hold 3", date(2027, 5, 1), date(2027, 12, 31)),
    ]
    assert all(c.measurement_offsets_years == (1, 2) for c in cohorts)
    assert cohorts[1].measurement_name(2) == "Hold 2:2"
    with pytest.raises(ValueError, match="no 3-year"):
        cohorts[1].measurement_name(3)


@given(st.dates(date(2026, 3, 1), date(2027, 12, 31)))
def test_every_day_of_the_pilot_is_in_exactly_one_cohort(day: date) -> None:
    assert sum(c.contains(day) for c in default_cohorts().cohorts) == 1


@given(st.dates(date(2020, 1, 1), date(2030, 12, 31)))
def test_explicit_cohorts_agree_with_the_default(day: date) -> None:
    assert cohort_for(day, default_cohorts().cohorts) == cohort_for(day)


def test_cohorts_are_contiguous() -> None:
    cohorts = default_cohorts().cohorts
    for earlier, later in pairwise(cohorts):
        assert later.starts_on == earlier.ends_on + timedelta(days=1)


# The planned extract dates of the six measurements, as the rule in the file gives them:
# the day after the cohort's last start date, plus 1 or 2 years.
PLANNED = {
    ("hold-1", 1): date(2027, 10, 1),
    ("hold-1", 2): date(2028, 10, 1),
    ("hold-2", 1): date(2028, 5, 1),
    ("hold-2", 2): date(2029, 5, 1),
    ("hold-3", 1): date(2029, 1, 1),
    ("hold-3", 2): date(2030, 1, 1),
}


def test_planned_extract_dates_follow_the_rule_file() -> None:
    cohorts = default_cohorts()
    found = {(m.cohort.id, m.offset_years): m.planned_on for m in cohorts.measurements()}
    assert found == PLANNED
    assert [m.name for m in cohorts.measurements()] == [
        "Hold 1:1", "Hold 1:2", "Hold 2:1", "Hold 2:2", "Hold 3:1", "Hold 3:2",
    ]  # fmt: skip
    assert cohorts.planned_on("hold-2", 2) == date(2029, 5, 1)
    with pytest.raises(ValueError, match="no 3-year"):
        cohorts.planned_on("hold-2", 3)


@given(st.sampled_from(default_cohorts().measurements()))
def test_every_member_has_the_full_follow_up_on_the_planned_day(m: Measurement) -> None:
    # The last member starts on ends_on; the planned day is after their N-year mark.
    assert m.planned_on > add_years(m.cohort.ends_on, m.offset_years)
    assert m.planned_on - add_years(m.cohort.ends_on, m.offset_years) == timedelta(days=1)


def test_add_years_of_29_february() -> None:
    assert add_years(date(2028, 2, 29), 1) == date(2029, 3, 1)
    assert add_years(date(2028, 2, 29), 4) == date(2032, 2, 29)


GOOD = """\
planned_measurement:
  anchor: ends_on
  days_after_anchor: 1
  plus_offset_years: true
cohorts:
  - id: hold-1
    name: Hold 1
    starts_on: 2026-03-01
    ends_on: 2026-09-30
    measurement_offsets_years: [1, 2]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cohorts.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_file_loads(tmp_path: Path) -> None:
    assert load_cohorts(write(tmp_path, GOOD)).cohorts[0].name == "Hold 1"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (GOOD.replace("ends_on: 2026-09-30", "ends_on: 2026-02-01"), "cohorts.0"),
        (GOOD + "    colour: blue\n", "cohorts.0.colour"),
        (GOOD.replace("[1, 2]", "[2, 1]"), "cohorts.0"),
        (GOOD.replace("[1, 2]", '["1", 2]'), "cohorts.0.measurement_offsets_years.0"),
        (GOOD.replace("2026-03-01", '"next spring"'), "cohorts.0.starts_on"),
        (GOOD + GOOD.split("cohorts:\n", 1)[1], "cohorts"),  # duplicate and overlapping
        (
            GOOD
            + GOOD.split("cohorts:\n", 1)[1].replace("hold-1", "hold-2").replace("2026", "2025"),
            "cohorts",
        ),  # out of order
        (GOOD.replace("anchor: ends_on", "anchor: referral"), "planned_measurement.anchor"),
        (
            GOOD.replace("days_after_anchor: 1", "days_after_anchor: -1"),
            "planned_measurement.days_after_anchor",
        ),
        (GOOD.replace("plus_offset_years: true\n", ""), "planned_measurement.plus_offset_years"),
    ],
)
def test_invalid_files_are_refused_naming_file_and_field(
    tmp_path: Path, text: str, field: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CohortsFileError) as caught:
        load_cohorts(path)
    assert str(path) in str(caught.value)
    assert field in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CohortsFileError, match="cannot read"):
        load_cohorts(tmp_path / "nowhere.yaml")

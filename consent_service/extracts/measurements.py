"""The planned extract date of each cohort measurement ("Hold 2:2"): by the rule in
``policies/cohorts.yaml`` (``citizens.cohorts``), unless a data controller of the
organisation moved it with a reason. Overrides are appended to ``measurement_plan``, never
changed; the newest per organisation, cohort and measurement wins, so the history stays.
Moving a date is audited (``extract.measurement_planned``) in the same transaction; the
reason is kept in the table, not in the log (it is free text)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.citizens.cohorts import Cohorts, default_cohorts
from consent_service.citizens.cohorts import Measurement as RuleMeasurement
from consent_service.errors import InvalidInput
from consent_service.extracts import coverage_query
from consent_service.extracts.models import MeasurementPlan
from consent_service.services import ServiceDeps
from consent_service.text import TextRefused, check_text

REASON_MAX = 500
# A moved date must lie within this many years after the rule's date (and not before the
# first member's N-year mark): a typo of a year is refused, not planned.
LATEST_YEARS_AFTER_RULE = 3
# Ten digits as a CPR number is written (DDMMYY-SSSS, with or without the dash or a space):
# the reason is shown on pages and in the CSV, so it must not carry one.
_CPR_LIKE = re.compile(r"(?<!\d)\d{6}[- ]?\d{4}(?!\d)")


@dataclass(frozen=True)
class PlannedMeasurement:
    """A cohort measurement with its planned extract date, and the override if any."""

    cohort_id: str
    cohort_name: str
    offset_years: int
    name: str  # "Hold 2:2"
    rule_on: date  # by policies/cohorts.yaml
    planned_on: date  # the override's date, else rule_on
    changed_by: str | None = None  # the display name of the data controller who moved it
    reason: str | None = None

    @property
    def overridden(self) -> bool:
        return self.changed_by is not None

    @property
    def key(self) -> str:
        """The measurement in an address: ``hold-2-2``."""
        return f"{self.cohort_id}-{self.offset_years}"

    @property
    def url(self) -> str:
        """The measurement's page."""
        return f"/udtraek/daekning/maaling?maaling={self.key}"


def _latest_overrides(
    session: Session, organisation_id: int
) -> dict[tuple[str, int], tuple[MeasurementPlan, str]]:
    """The newest override per (cohort, measurement): later rows replace earlier ones."""
    return {
        (plan.cohort, plan.measurement_years): (plan, name)
        for plan, name in coverage_query.measurement_plans(session, organisation_id)
    }


def _planned(
    m: RuleMeasurement, override: tuple[MeasurementPlan, str] | None
) -> PlannedMeasurement:
    plan, who = override if override is not None else (None, None)
    return PlannedMeasurement(
        cohort_id=m.cohort.id,
        cohort_name=m.cohort.name,
        offset_years=m.offset_years,
        name=m.name,
        rule_on=m.planned_on,
        planned_on=plan.planned_on if plan is not None else m.planned_on,
        changed_by=who,
        reason=plan.reason if plan is not None else None,
    )


def planned_measurements(
    session: Session, organisation_id: int, cohorts: Cohorts | None = None
) -> list[PlannedMeasurement]:
    """Every cohort x measurement in cohort order, with the organisation's planned date."""
    cohorts = cohorts or default_cohorts()
    overrides = _latest_overrides(session, organisation_id)
    return [
        _planned(m, overrides.get((m.cohort.id, m.offset_years))) for m in cohorts.measurements()
    ]


def planned_measurement(
    session: Session, organisation_id: int, cohort_id: str, offset_years: int
) -> PlannedMeasurement:
    """One measurement; ``InvalidInput`` for an unknown cohort or measurement."""
    for m in planned_measurements(session, organisation_id):
        if (m.cohort_id, m.offset_years) == (cohort_id, offset_years):
            return m
    raise InvalidInput("Ukendt hold eller måling.", field="maaling")


def by_key(session: Session, organisation_id: int, key: str) -> PlannedMeasurement | None:
    """The measurement named in an address (``hold-2-2``), or None."""
    return next((m for m in planned_measurements(session, organisation_id) if m.key == key), None)


def plan_measurement(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, user_id: int,
    cohort_id: str, offset_years: int, planned_on: date, reason: str,
) -> PlannedMeasurement:  # fmt: skip
    """Move a measurement's planned extract date, with a reason; audited in the same
    transaction. Refuses (``InvalidInput``, Danish, naming the field) an unknown
    measurement, a date before the cohort's first member has the follow-up or more than
    ``LATEST_YEARS_AFTER_RULE`` years after the rule's date, and an empty reason."""
    current = planned_measurement(session, organisation_id, cohort_id, offset_years)
    cohort = default_cohorts().by_id(cohort_id)
    earliest = date(cohort.starts_on.year + offset_years, cohort.starts_on.month, 1)
    latest = date(current.rule_on.year + LATEST_YEARS_AFTER_RULE, 12, 31)
    if planned_on < earliest:
        raise InvalidInput(
            f"Datoen ligger før holdets første borger har {offset_years} års opfølgning "
            f"({earliest:%d-%m-%Y}).",
            field="dato",
        )
    if planned_on > latest:
        raise InvalidInput(f"Datoen ligger for langt ude: senest {latest:%d-%m-%Y}.", field="dato")
    reason = reason.strip()
    try:
        reason = check_text(reason, multiline=True)
    except TextRefused as exc:
        raise InvalidInput(f"Begrundelsen {exc.reason}.", field="begrundelse") from None
    if not reason:
        raise InvalidInput("Skriv en begrundelse for den nye dato.", field="begrundelse")
    if _CPR_LIKE.search(reason):
        raise InvalidInput(
            "Skriv ikke CPR-numre i begrundelsen: den vises på siden og i CSV-filen.",
            field="begrundelse",
        )
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"Begrundelsen må højst være {REASON_MAX} tegn.", field="begrundelse")
    session.add(
        MeasurementPlan(
            organisation_id=organisation_id, cohort=cohort_id, measurement_years=offset_years,
            planned_on=planned_on, reason=reason, set_at=deps.clock.now(), set_by=user_id,
        )
    )  # fmt: skip
    session.flush()
    deps.audit.record(
        session, actor, action="extract.measurement_planned", outcome="success",
        resource_type="measurement", resource_id=current.key, organisation_id=organisation_id,
        details={"cohort": cohort_id, "measurement": offset_years,
                 "planned_on": planned_on.isoformat(),
                 "previous_on": current.planned_on.isoformat()},
    )  # fmt: skip
    return planned_measurement(session, organisation_id, cohort_id, offset_years)

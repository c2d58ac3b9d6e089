"""The coverage plan: how many of a cohort the consent gate would include on a planned
execution day, why the others are left out, and who needs a new consent before then."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.citizens.cohorts import default_cohorts
from consent_service.errors import InvalidInput
from consent_service.extracts import gate, gate_query
from consent_service.services import ServiceDeps


@dataclass(frozen=True)
class Coverage:
    cohort: str
    measurement: str
    planned_on: date
    in_cohort: int
    covered: int
    covered_now: int
    expire_before: int
    reasons: dict[str, int]
    # (pseudonymous citizen id, re-consent needed by) for those covered now but not then
    reconsent_by: list[tuple[str, date]]


def coverage_plan(
    session: Session, organisation_id: int, cohort: str, measurement: int, planned_on: date,
    today: date, kind: str = "journal",
) -> Coverage:  # fmt: skip
    """The gate on the planned day beside the gate today, per citizen of the cohort."""
    rows = gate_query.coverage_rows(session, organisation_id, cohort, kind, planned_on, today)
    reasons: dict[str, int] = {}
    reconsent: list[tuple[str, date]] = []
    for public_id, reason_then, reason_now, valid_until in rows:
        reasons[reason_then] = reasons.get(reason_then, 0) + 1
        if reason_now == gate.COVERED and reason_then == "expired" and valid_until is not None:
            reconsent.append((public_id, valid_until))
    covered = reasons.pop(gate.COVERED, 0)
    c = default_cohorts().by_id(cohort)
    return Coverage(
        cohort=cohort,
        measurement=c.measurement_name(measurement),
        planned_on=planned_on,
        in_cohort=len(rows),
        covered=covered,
        covered_now=sum(1 for r in rows if r[2] == gate.COVERED),
        expire_before=len(reconsent),
        reasons=reasons,
        reconsent_by=reconsent,
    )


def view_coverage(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, cohort: str,
    measurement: int, on: date, today: date,
) -> Coverage:  # fmt: skip
    """A data controller's look at the coverage plan, audited (``extract.coverage_viewed``);
    an unknown cohort is refused."""
    if cohort not in {c.id for c in default_cohorts().cohorts}:
        raise InvalidInput("Ukendt hold.", field="hold")
    plan = coverage_plan(session, organisation_id, cohort, measurement, on, today)
    deps.audit.record(
        session, actor, action="extract.coverage_viewed", outcome="success",
        details={"cohort": cohort, "measurement": measurement, "planned_on": on.isoformat()},
    )  # fmt: skip
    return plan

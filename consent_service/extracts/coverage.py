"""The coverage plan: how many of a cohort the consent gate would include on a
measurement's planned extract date, why the others are left out, and who needs a new
consent before then; for every cohort x measurement at once (the data controller's
overview), with a risk marker, and coverage over time per cohort (the chart).

Citizens appear only by a keyed pseudonym per measurement (``extracts.pseudonyms``), never
by the ``public_id`` of navigator URLs; the navigator's worklist has the names."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from consent_service import spreadsheet
from consent_service.audit.recorder import Actor
from consent_service.citizens.cohorts import default_cohorts
from consent_service.crypto import Crypto
from consent_service.errors import InvalidInput
from consent_service.extracts import coverage_query, gate, measurements
from consent_service.extracts.measurements import PlannedMeasurement
from consent_service.extracts.pseudonyms import Pseudonymiser
from consent_service.retention.schedule import default_schedule
from consent_service.services import ServiceDeps

# A measurement is at high risk when someone covered today must re-consent within this
# many days to be covered on its planned date.
RISK_SOON_DAYS = 90
RISK_DA = {
    "past": "Måledatoen er passeret",
    "after_end": "Høj: måledatoen ligger efter projektets afslutning, hvor data slettes",
    "empty": "Ingen borgere på holdet endnu",
    "high": "Høj: nyt samtykke skal indhentes inden for 90 dage",
    "medium": "Middel: nogle skal give nyt samtykke før måledatoen",
    "low": "Lav: alle dækkede i dag er også dækket på måledatoen",
}


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
    # (keyed pseudonym, last day the current consent covers) for those covered now but
    # not on the planned day: each must re-consent by that day; earliest first.
    reconsent_by: list[tuple[str, date]]
    today: date | None = None
    plan: PlannedMeasurement | None = None

    @property
    def after_pilot_end(self) -> bool:
        """The planned day lies after the pilot's end (``retention/schedule.yaml``): the
        pilot-end deletion removes the citizens before the extract could be taken."""
        return self.planned_on > default_schedule().pilot_end

    @property
    def risk(self) -> str:
        """``past``, ``after_end``, ``empty``, ``high``, ``medium`` or ``low`` (``RISK_DA``
        in Danish)."""
        today = self.today or self.planned_on
        if self.planned_on < today:
            return "past"
        if self.after_pilot_end:
            return "after_end"
        if self.in_cohort == 0:
            return "empty"
        if not self.reconsent_by:
            return "low"
        first = min(by for _, by in self.reconsent_by)
        return "high" if first <= today + timedelta(days=RISK_SOON_DAYS) else "medium"

    @property
    def risk_da(self) -> str:
        return RISK_DA[self.risk]

    @property
    def first_deadline(self) -> date | None:
        return min((by for _, by in self.reconsent_by), default=None)


def coverage_plan(
    session: Session, crypto: Crypto, organisation_id: int, cohort: str, measurement: int,
    planned_on: date, today: date, kind: str = "journal",
    plan: PlannedMeasurement | None = None,
) -> Coverage:  # fmt: skip
    """The gate on the planned day beside the gate today, per citizen of the cohort."""
    c = default_cohorts().by_id(cohort)
    name = c.measurement_name(measurement)
    pseudonym: Callable[[int], str] = Pseudonymiser(crypto, organisation_id, cohort, measurement)
    rows = coverage_query.gate_then_and_now(
        session, organisation_id, cohort, kind, planned_on, today
    )
    reasons: dict[str, int] = {}
    reconsent: list[tuple[str, date]] = []
    for citizen_id, reason_then, reason_now, valid_until in rows:
        reasons[reason_then] = reasons.get(reason_then, 0) + 1
        if reason_now == gate.COVERED and reason_then == "expired" and valid_until is not None:
            reconsent.append((pseudonym(citizen_id), valid_until))
    reconsent.sort(key=lambda r: (r[1], r[0]))
    covered = reasons.pop(gate.COVERED, 0)
    ordered = {r: reasons[r] for r in gate.REASONS_DA if r in reasons}
    ordered.update({r: n for r, n in reasons.items() if r not in ordered})
    return Coverage(
        cohort=cohort,
        measurement=name,
        planned_on=planned_on,
        in_cohort=len(rows),
        covered=covered,
        covered_now=sum(1 for r in rows if r[2] == gate.COVERED),
        expire_before=len(reconsent),
        reasons=ordered,
        reconsent_by=reconsent,
        today=today,
        plan=plan,
    )


def _known(cohort: str) -> None:
    if cohort not in {c.id for c in default_cohorts().cohorts}:
        raise InvalidInput("Ukendt hold.", field="hold")


def view_coverage(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, cohort: str,
    measurement: int, on: date | None, today: date,
) -> Coverage:  # fmt: skip
    """A data controller's look at one measurement's coverage plan on its planned date (or
    on ``on``), audited (``extract.coverage_viewed``); an unknown cohort is refused."""
    _known(cohort)
    plan = measurements.planned_measurement(session, organisation_id, cohort, measurement)
    day = on or plan.planned_on
    result = coverage_plan(
        session, deps.crypto, organisation_id, cohort, measurement, day, today, plan=plan
    )
    deps.audit.record(
        session, actor, action="extract.coverage_viewed", outcome="success",
        details={"view": "measurement", "cohort": cohort, "measurement": measurement,
                 "planned_on": day.isoformat()},
    )  # fmt: skip
    return result


@dataclass(frozen=True)
class Overview:
    today: date
    rows: list[Coverage]
    timeline: Timeline


@dataclass(frozen=True)
class Timeline:
    """Citizens covered by a journal consent per cohort on each day of ``days``."""

    days: list[date]
    covered: dict[str, list[int]] = field(default_factory=dict)  # cohort name -> counts
    in_cohort: dict[str, int] = field(default_factory=dict)


def timeline_days(today: date, last: date) -> list[date]:
    """The first day of every third month from the first cohort's start to ``last``
    (inclusive), and today."""
    first = default_cohorts().cohorts[0].starts_on
    days = []
    day = date(first.year, first.month, 1)
    while day <= last:
        days.append(day)
        month = day.month + 3
        day = date(day.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
    if today not in days and first <= today <= last:
        days.append(today)
    return sorted(days)


def coverage_timeline(
    session: Session, organisation_id: int, days: Iterable[date], kind: str = "journal"
) -> Timeline:
    """Counts only: one grouped gate query per cohort and day (no citizen leaves SQL)."""
    days = list(days)
    timeline = Timeline(days=days)
    for c in default_cohorts().cohorts:
        series: list[int] = []
        total = 0
        for day in days:
            counts = coverage_query.gate_counts(session, organisation_id, c.id, kind, day)
            total = sum(counts.values())
            series.append(int(counts.get(gate.COVERED, 0)))
        timeline.covered[c.name] = series
        timeline.in_cohort[c.name] = total
    return timeline


def overview(
    session: Session, crypto: Crypto, organisation_id: int, today: date,
    with_timeline: bool = True,
) -> Overview:  # fmt: skip
    """Every cohort x measurement on its planned date with counts, reasons, re-consents
    and risk; and (``with_timeline``) coverage over time per cohort. Not audited."""
    rows = [
        coverage_plan(session, crypto, organisation_id, m.cohort_id, m.offset_years,
                      m.planned_on, today, plan=m)
        for m in measurements.planned_measurements(session, organisation_id)
    ]  # fmt: skip
    last = max(r.planned_on for r in rows)
    timeline = (
        coverage_timeline(session, organisation_id, timeline_days(today, last))
        if with_timeline
        else Timeline(days=[])
    )
    return Overview(today=today, rows=rows, timeline=timeline)


def view_overview(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, today: date
) -> Overview:
    """The overview as a data controller sees it, audited once (``extract.coverage_viewed``)."""
    result = overview(session, deps.crypto, organisation_id, today)
    deps.audit.record(
        session, actor, action="extract.coverage_viewed", outcome="success",
        details={"view": "overview"},
    )  # fmt: skip
    return result


def view_timeline(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, today: date
) -> Timeline:
    """Coverage over time per cohort (the chart), counts only, audited
    (``extract.coverage_viewed``)."""
    last = max(m.planned_on for m in measurements.planned_measurements(session, organisation_id))
    result = coverage_timeline(session, organisation_id, timeline_days(today, last))
    deps.audit.record(
        session, actor, action="extract.coverage_viewed", outcome="success",
        details={"view": "chart"},
    )  # fmt: skip
    return result


def _d(day: date | None) -> str:
    return f"{day:%d-%m-%Y}" if day else ""


def export_overview(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, today: date
) -> str:
    """The overview as CSV: one line per cohort measurement, counts only. Audited
    (``extract.coverage_exported``)."""
    result = overview(session, deps.crypto, organisation_id, today, with_timeline=False)
    reasons = list(gate.REASONS_DA)
    header = ["Måling", "Planlagt udtræksdato", "Dato ændret af", "Begrundelse", "På holdet",
              "Dækket på datoen", "Dækket i dag", "Skal give nyt samtykke", "Første frist",
              "Risiko", *(f"Ikke dækket: {gate.REASONS_DA[r]}" for r in reasons)]  # fmt: skip
    lines = []
    for row in result.rows:
        plan = row.plan
        lines.append([
            row.measurement, _d(row.planned_on),
            (plan.changed_by or "") if plan else "", (plan.reason or "") if plan else "",
            str(row.in_cohort), str(row.covered), str(row.covered_now), str(row.expire_before),
            _d(row.first_deadline), row.risk_da, *(str(row.reasons.get(r, 0)) for r in reasons),
        ])  # fmt: skip
    record_export(session, deps, actor, "overview", len(result.rows))
    return spreadsheet.csv_text(header, lines)


def export_reconsent(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, cohort: str,
    measurement: int, today: date,
) -> tuple[Coverage, str]:  # fmt: skip
    """A measurement's re-consent list as CSV: pseudonym and the last day to re-consent,
    no CPR, name or service id. Audited (``extract.coverage_exported``)."""
    _known(cohort)
    plan = measurements.planned_measurement(session, organisation_id, cohort, measurement)
    result = coverage_plan(session, deps.crypto, organisation_id, cohort, measurement,
                           plan.planned_on, today, plan=plan)  # fmt: skip
    header = ["Måling", "Planlagt udtræksdato", "Borger (pseudonym for målingen)",
              "Nyt samtykke senest"]  # fmt: skip
    lines = [[result.measurement, _d(result.planned_on), pid, _d(by)]
             for pid, by in result.reconsent_by]  # fmt: skip
    record_export(session, deps, actor, "reconsent", len(result.reconsent_by), cohort, measurement)
    return result, spreadsheet.csv_text(header, lines)


def record_export(
    session: Session, deps: ServiceDeps, actor: Actor, export: str, rows: int,
    cohort: str | None = None, measurement: int | None = None,
) -> None:  # fmt: skip
    """Audit a CSV download (``extract.coverage_exported``) in the caller's transaction."""
    details: dict[str, Any] = {"export": export, "rows": rows}
    if cohort is not None:
        details.update(cohort=cohort, measurement=measurement)
    deps.audit.record(
        session, actor, action="extract.coverage_exported", outcome="success", details=details
    )

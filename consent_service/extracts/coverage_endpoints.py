"""The data controller's coverage overview: every cohort x measurement on its planned
extract date (no date to type), a measurement's re-consent list and the form to move its
date, the chart of coverage over time (an SVG at its own address), the CSV exports, and
the coverage API."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.citizens.cohorts import default_cohorts
from consent_service.clock import legal_today
from consent_service.errors import InvalidInput, NotFound
from consent_service.extracts import coverage, gate, measurements
from consent_service.extracts.chart import SVG_CSP, coverage_svg
from consent_service.extracts.coverage import RISK_DA, RISK_SOON_DAYS, Coverage
from consent_service.extracts.measurements import REASON_MAX, PlannedMeasurement
from consent_service.retention.schedule import default_schedule
from consent_service.web import notices
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import FormState, failed, parse_date
from consent_service.web.gate import GatedRoute
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)

CSV_TYPE = "text/csv; charset=utf-8"


def _csv(body: str, filename: str) -> Response:
    return Response(
        body.encode("utf-8"),
        media_type=CSV_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _common() -> dict[str, Any]:
    return {"reasons": gate.REASONS_DA, "risk_da": RISK_DA, "risk_soon_days": RISK_SOON_DAYS,
            "pilot_end": default_schedule().pilot_end}  # fmt: skip


def _measurement(session: DbSession, me: Principal, key: str) -> PlannedMeasurement:
    """The measurement named in the address (``hold-2-2``); an unknown one is 404."""
    found = measurements.by_key(session, me.organisation_id, key)
    if found is None:
        raise NotFound("measurement")
    return found


@router.get("/udtraek/daekning", response_class=HTMLResponse)
def overview_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:coverage")],
) -> Response:
    """All six cohort measurements on their planned dates, with risk, and the chart."""
    result = coverage.view_overview(
        session, ctx.deps, me.actor, me.organisation_id, legal_today(ctx.clock)
    )
    return page(request, "extract_coverage.html", me=me, overview=result, **_common())


@router.get("/udtraek/daekning/graf.svg")
def chart(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:coverage")],
) -> Response:
    """The chart of coverage over time per cohort (counts only), as an SVG image."""
    today = legal_today(ctx.clock)
    timeline = coverage.view_timeline(session, ctx.deps, me.actor, me.organisation_id, today)
    return Response(
        coverage_svg(timeline, today),
        media_type="image/svg+xml",
        headers={"Content-Security-Policy": SVG_CSP},
    )


@router.get("/udtraek/daekning/oversigt.csv")
def overview_csv(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:coverage")],
) -> Response:
    today = legal_today(ctx.clock)
    body = coverage.export_overview(session, ctx.deps, me.actor, me.organisation_id, today)
    return _csv(body, f"daekning-{today.isoformat()}.csv")


def _detail(
    request: Request, ctx: Ctx, session: DbSession, me: Principal, m: PlannedMeasurement,
    form: FormState | None = None,
) -> Response:  # fmt: skip
    plan = coverage.view_coverage(
        session, ctx.deps, me.actor, me.organisation_id, m.cohort_id, m.offset_years, None,
        legal_today(ctx.clock),
    )  # fmt: skip
    context = {"me": me, "plan": plan, "m": m, "reason_max": REASON_MAX, **_common()}
    if form is not None:
        return failed(request, "coverage_measurement.html", form, status_code=form.status_code,
                      **context)  # fmt: skip
    return page(request, "coverage_measurement.html", form=FormState(), **context)


# A measurement is named by a query parameter (``?maaling=hold-2-2``), not a path
# segment: it is the same name in every organisation, not an id of a resource.
Maaling = Annotated[str, Query(max_length=16)]


@router.get("/udtraek/daekning/maaling", response_class=HTMLResponse)
def measurement_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:coverage")],
    maaling: Maaling = "",
) -> Response:
    """One measurement: counts, who must re-consent by when (pseudonyms), and the form
    to move its date."""
    return _detail(request, ctx, session, me, _measurement(session, me, maaling))


@router.get("/udtraek/daekning/nyt-samtykke.csv")
def reconsent_csv(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:coverage")],
    maaling: Maaling = "",
) -> Response:
    m = _measurement(session, me, maaling)
    today = legal_today(ctx.clock)
    _, body = coverage.export_reconsent(
        session, ctx.deps, me.actor, me.organisation_id, m.cohort_id, m.offset_years, today
    )
    return _csv(body, f"nyt-samtykke-{m.key}-{today.isoformat()}.csv")


@router.post("/udtraek/daekning/dato", response_class=HTMLResponse)
def plan_date(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:plan")],
    maaling: Annotated[str, Form(max_length=16)] = "",
    dato: Annotated[str, Form(max_length=20)] = "",
    begrundelse: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Move the measurement's planned extract date, with a reason; a mistake keeps the
    form (400) and changes nothing."""
    m = _measurement(session, me, maaling)
    form = FormState.of(dato=dato, begrundelse=begrundelse)
    day = parse_date(form, "dato")
    if not begrundelse.strip():
        form.add("begrundelse", "Skriv en begrundelse for den nye dato.")
    if day is not None and not form.has_errors:
        try:
            measurements.plan_measurement(
                session, ctx.deps, me.actor, me.organisation_id, me.user.id, m.cohort_id,
                m.offset_years, day, begrundelse,
            )  # fmt: skip
        except InvalidInput as exc:
            form.fail(exc, "dato")
        else:
            return notices.redirect(m.url, "measurement-planned")
    return _detail(request, ctx, session, me, m, form)


@router.get("/api/v1/extracts/coverage")
def coverage_api(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:coverage")],
    cohort: Annotated[
        str,
        Query(
            max_length=32,
            json_schema_extra={"enum": [c.id for c in default_cohorts().cohorts]},
        ),
    ],
    measurement: Annotated[int, Query(ge=1, le=2)],
    planned_on: Annotated[date | None, Query()] = None,
) -> dict[str, Any]:
    """Coverage of a cohort's measurement on its planned extract date (the rule's date or
    the data controller's override; or ``planned_on``): counts by reason, and the keyed
    pseudonyms (per measurement, not the service's citizen ids) of citizens covered today
    who need a new consent by when."""
    plan: Coverage = coverage.view_coverage(
        session, ctx.deps, me.actor, me.organisation_id, cohort, measurement, planned_on,
        legal_today(ctx.clock),
    )  # fmt: skip
    return {
        "cohort": plan.cohort,
        "measurement": plan.measurement,
        "planned_on": plan.planned_on.isoformat(),
        "planned_by_rule_on": plan.plan.rule_on.isoformat() if plan.plan else None,
        "in_cohort": plan.in_cohort,
        "covered": plan.covered,
        "covered_today": plan.covered_now,
        "expire_before": plan.expire_before,
        "not_covered": plan.reasons,
        "risk": plan.risk,
        "reconsent_by": [{"citizen": pid, "by": by.isoformat()} for pid, by in plan.reconsent_by],
    }

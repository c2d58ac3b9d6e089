"""Pages: the navigator's worklist, the data controller's counts per cohort, and the
pilot-end deletion (dry run, then confirmation with a fresh code)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.citizens.cohorts import default_cohorts
from consent_service.clock import legal_today
from consent_service.deletion import service as deletion
from consent_service.identity.stepup import step_up
from consent_service.jobs import worklist
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.formstate import FormState
from consent_service.web.gate import GatedRoute
from consent_service.web.ratelimit import rate_limited
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)


@router.get("/arbejdsliste", response_class=HTMLResponse)
def worklist_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("worklist:read")],
) -> Response:
    today = legal_today(ctx.clock)
    view = worklist.view_worklist(session, ctx.deps, me.actor, me.organisation_id, today)
    return page(request, "worklist.html", me=me, items=view.items, names=view.names, today=today)


@router.get("/arbejdsliste/hold", response_class=HTMLResponse)
def worklist_counts(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("worklist:counts")],
) -> Response:
    today = legal_today(ctx.clock)
    counts = worklist.counts_per_cohort(session, me.organisation_id, today)
    return page(
        request,
        "worklist_counts.html",
        me=me,
        counts=counts,
        kinds=worklist.KIND_DA,
        cohort_names={c.id: c.name for c in default_cohorts().cohorts},
        today=today,
    )


def _deletion_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Principal,
    *,
    status_code: int = 200,
    form: FormState | None = None,
    done: dict[str, int] | None = None,
) -> Response:
    plan = deletion.dry_run_pilot_end(session, ctx.deps, me.actor, me.organisation_id)
    return page(
        request,
        "deletion.html",
        status_code=status_code,
        me=me,
        plan=plan,
        today=legal_today(ctx.clock),
        form=form,
        done=done,
    )


@router.get("/sletning", response_class=HTMLResponse)
def deletion_dry_run(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("retention:delete")],
) -> Response:
    return _deletion_page(request, ctx, session, me)


@router.post("/sletning", dependencies=[rate_limited("step_up")], response_class=HTMLResponse)
def deletion_confirm(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("retention:delete")],
    code: Annotated[str, Form(max_length=12)] = "",
    confirm: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    if confirm.strip().upper() != "SLET":
        form = FormState.of(confirm=confirm).add(
            "confirm", "Skriv SLET for at bekræfte sletningen."
        )
        return _deletion_page(request, ctx, session, me, status_code=400, form=form)
    step_up(session, ctx.deps, me.actor, me.user, code, purpose="pilot_end_deletion")
    record = deletion.run_pilot_end(
        session, ctx.deps, me.actor, me.organisation_id, legal_today(ctx.clock)
    )
    return _deletion_page(request, ctx, session, me, done=record.rows)

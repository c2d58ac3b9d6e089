"""Pages: the navigator's worklist (with "kontaktet" for a new referral), the data
controller's counts per cohort, and the pilot-end deletion (dry run, then confirmation
with a fresh code)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.citizens import referrals
from consent_service.citizens.cohorts import default_cohorts
from consent_service.citizens.service import REFERRER_KINDS
from consent_service.clock import legal_today
from consent_service.deletion import service as deletion
from consent_service.errors import InvalidInput
from consent_service.identity.stepup import step_up
from consent_service.jobs import worklist
from consent_service.web import notices
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import FormState, failed, parse_date
from consent_service.web.gate import GatedRoute
from consent_service.web.ratelimit import rate_limited
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)


def contact_prefix(referral_public_id: str) -> str:
    """The id prefix of a new referral's "kontaktet" form (one form per referral)."""
    return f"kontakt-{referral_public_id}-"


def _worklist_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Principal,
    failed_form: tuple[str, FormState] | None = None,
) -> Response:
    today = legal_today(ctx.clock)
    view = worklist.view_worklist(session, ctx.deps, me.actor, me.organisation_id, today)
    context: dict[str, Any] = {
        "me": me,
        "view": view,
        "today": today,
        "upcoming_days": worklist.UPCOMING_DAYS,
        "horizon": today + timedelta(days=worklist.UPCOMING_DAYS),
        "referrer_kinds": REFERRER_KINDS,
        "contact_prefix": contact_prefix,
        "note_max": referrals.NOTE_MAX,
        "failed_referral": failed_form[0] if failed_form else None,
    }
    if failed_form is not None:
        return failed(request, "worklist.html", failed_form[1], **context)
    return page(request, "worklist.html", form=None, **context)


@router.get("/arbejdsliste", response_class=HTMLResponse)
def worklist_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("worklist:read")],
) -> Response:
    return _worklist_page(request, ctx, session, me)


@router.post("/henvisninger/{referral_id}/kontaktet", response_class=HTMLResponse)
def referral_contacted(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("referral:contact")],
    referral_id: str,
    contacted_on: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Mark a new referral as contacted (the form pattern: a bad date or a long note comes
    back on the worklist with what was typed)."""
    form = FormState.of(
        prefix=contact_prefix(referral_id[:32]), contacted_on=contacted_on, note=note
    )
    day = parse_date(form, "contacted_on")
    if day is not None:
        try:
            referrals.contact_referral(
                session, ctx.deps, me.actor, me.organisation_id, referral_id, day, note
            )
        except InvalidInput as exc:
            form.fail(exc, "contacted_on")
    if form.has_errors:
        if len(note.strip()) > referrals.NOTE_MAX:
            form.add("note", f"Noten må højst have {referrals.NOTE_MAX} tegn.")
        return _worklist_page(request, ctx, session, me, (referral_id, form))
    return notices.redirect("/arbejdsliste", "referral-contacted")


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
    error: str | None = None,
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
        error=error,
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
    code: Annotated[str, Form(max_length=12)],
    confirm: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    if confirm != "SLET":
        raise InvalidInput("Skriv SLET for at bekræfte sletningen.", field="confirm")
    step_up(session, ctx.deps, me.actor, me.user, code, purpose="pilot_end_deletion")
    record = deletion.run_pilot_end(
        session, ctx.deps, me.actor, me.organisation_id, legal_today(ctx.clock)
    )
    return _deletion_page(request, ctx, session, me, done=record.rows)

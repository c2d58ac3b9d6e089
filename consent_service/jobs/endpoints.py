"""Pages: the navigator's worklist (with "kontaktet" for a new referral), the data
controller's counts per cohort, and the deletions the data controller confirms on
``/sletning`` with a fresh code after a dry run: the pilot-end deletion, and five years
later the consent evidence's (``deletion.evidence``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.citizens import referrals
from consent_service.citizens.cohorts import default_cohorts
from consent_service.citizens.service import REFERRER_KINDS
from consent_service.clock import legal_today
from consent_service.deletion import evidence
from consent_service.deletion import service as deletion
from consent_service.errors import InvalidInput
from consent_service.identity.stepup import step_up
from consent_service.jobs import worklist
from consent_service.web import notices
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import FormState, failed, parse_date
from consent_service.web.gate import GatedRoute
from consent_service.web.ratelimit import rate_limited
from consent_service.web.stepup_form import code_accepted
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
    form: FormState | None = None,
    done: dict[str, int] | None = None,
    evidence_form: FormState | None = None,
    evidence_done: dict[str, int] | None = None,
) -> Response:
    plan = deletion.dry_run_pilot_end(session, ctx.deps, me.actor, me.organisation_id)
    evidence_plan = evidence.dry_run_evidence(session, ctx.deps, me.actor, me.organisation_id)
    return page(
        request,
        "deletion.html",
        status_code=status_code,
        me=me,
        plan=plan,
        today=legal_today(ctx.clock),
        form=form,
        done=done,
        evidence_plan=evidence_plan,
        evidence_form=evidence_form or FormState(prefix=EVIDENCE_PREFIX),
        evidence_done=evidence_done,
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


EVIDENCE_PREFIX = "evidence-"


@router.post(
    "/sletning/samtykkeposter", dependencies=[rate_limited("step_up")], response_class=HTMLResponse
)
def evidence_confirm(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("retention:delete")],
    code: Annotated[str, Form(max_length=12)] = "",
    confirm: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Delete the organisation's consent evidence at the end of its retention: "SLET" and
    a fresh code. A typo, a day before the allowed one or a wrong code keep the page
    with the message beside the field, and nothing changes (a wrong code counts toward
    the lock)."""
    form = FormState.of(prefix=EVIDENCE_PREFIX, confirm=confirm)
    today = legal_today(ctx.clock)
    if confirm.strip().upper() != "SLET":
        form.add("confirm", "Skriv SLET for at bekræfte sletningen.")
    else:
        plan = evidence.plan_evidence(session, me.organisation_id)
        if not plan.may_delete_on(today):
            form.fail(evidence.refusal(plan), "confirm")
    if form.has_errors:
        return _deletion_page(
            request, ctx, session, me, status_code=form.status_code, evidence_form=form
        )
    if not code_accepted(session, ctx.deps, me, code, purpose="evidence_deletion", form=form):
        return _deletion_page(request, ctx, session, me, status_code=400, evidence_form=form)
    # A refusal of the database itself (its date or state disagrees) rolls the request
    # back and answers 409.
    rows = evidence.run_evidence(session, ctx.deps, me.actor, me.organisation_id, today)
    return _deletion_page(request, ctx, session, me, evidence_done=rows)

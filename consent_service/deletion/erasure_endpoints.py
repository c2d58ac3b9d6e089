"""HTTP for erasing one citizen: the proposal with its dry run (``/borgere/{id}/sletning``,
a navigator from the citizen's page or the DPO), the data controller's list of proposals
(``/sletning/borgere``) and a proposal's page with its dry run, the decision (approval
with a fresh code carries the erasure out at once; rejection with a comment), and after
the erasure what was deleted, what was kept and the disclosures already made.

The forms follow the form pattern (``web/forms.py``): a mistake comes back on the same page
with 400, a refused action (decided already, the proposer's own) with 409, values kept; a
wrong code keeps the page and changes nothing but the failure's record."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.citizens import service as citizens
from consent_service.citizens.models import Citizen
from consent_service.clock import legal_today
from consent_service.deletion import erasure
from consent_service.deletion.erasure_models import CARRIED_OUT, PROPOSED, ErasureProposal
from consent_service.deletion.erasure_policy import erasure_rules
from consent_service.errors import InvalidInput, RuleRefusal
from consent_service.identity.users import display_names
from consent_service.web import notices
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import FormState
from consent_service.web.gate import GatedRoute
from consent_service.web.ratelimit import rate_limited
from consent_service.web.stepup_form import code_accepted
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)
PROPOSALS = "/sletning/borgere"
PROPOSE_FORM = "sletning-"
APPROVE_FORM = "godkend-"
REJECT_FORM = "afvis-"


def _propose_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Principal,
    citizen: Citizen,
    form: FormState | None = None,
) -> Response:
    today = legal_today(ctx.clock)
    proposals = erasure.proposals_of_citizen(session, citizen)
    names = display_names(session, me.organisation_id, {p.proposed_by for p in proposals})
    context: dict[str, Any] = {
        "me": me,
        "citizen_id": citizen.public_id,
        "plan": erasure.plan(session, citizen, today),
        "rules": erasure_rules(),
        "proposals": proposals,
        "names": names,
        "form": form or FormState(prefix=PROPOSE_FORM),
        "note_max": erasure.NOTE_MAX,
        "may_read_citizen": me.may("citizen:read"),
    }
    status = form.status_code if form is not None and form.has_errors else 200
    return page(request, "erasure_propose.html", status_code=status, **context)


@router.get("/borgere/{public_id}/sletning", response_class=HTMLResponse)
def propose_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("erasure:propose")],
    public_id: str,
) -> Response:
    """The dry run of erasing the citizen, and the proposal form."""
    citizen = citizens.citizen_in_organisation(session, me.organisation_id, public_id[:32])
    return _propose_page(request, ctx, session, me, citizen)


@router.post("/borgere/{public_id}/sletning", response_class=HTMLResponse)
def propose(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("erasure:propose")],
    public_id: str,
    reason: Annotated[str, Form(max_length=64)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Propose the erasure with a reason (and a note); a data controller decides."""
    citizen = citizens.citizen_in_organisation(session, me.organisation_id, public_id[:32])
    form = FormState.of(prefix=PROPOSE_FORM, reason=reason, note=note)
    try:
        erasure.propose(session, ctx.deps, me.actor, citizen, reason, note, legal_today(ctx.clock))
    except (InvalidInput, RuleRefusal) as exc:
        form.fail(exc, "reason")
        return _propose_page(request, ctx, session, me, citizen, form)
    return notices.redirect(f"/borgere/{citizen.public_id}/sletning", "erasure-proposed")


@router.get(PROPOSALS, response_class=HTMLResponse)
def proposals_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("erasure:review")],
) -> Response:
    """The organisation's erasure proposals, open ones first (pseudonymous ids only)."""
    rows = erasure.proposals_of_organisation(session, me.organisation_id)
    people = {p.proposed_by for p, _ in rows} | {p.decided_by for p, _ in rows if p.decided_by}
    return page(
        request,
        "erasure_list.html",
        me=me,
        rows=rows,
        names=display_names(session, me.organisation_id, people),
        rules=erasure_rules(),
    )


def _proposal_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Principal,
    proposal: ErasureProposal,
    form: FormState | None = None,
) -> Response:
    citizen = erasure.citizen_of(session, proposal)
    today = legal_today(ctx.clock)
    people = {proposal.proposed_by} | ({proposal.decided_by} if proposal.decided_by else set())
    open_ = proposal.status == PROPOSED
    context: dict[str, Any] = {
        "me": me,
        "proposal": proposal,
        "citizen_id": citizen.public_id,
        "plan": erasure.plan(session, citizen, today),
        "deleted_rows": erasure.deleted_rows(proposal),
        "carried_out": proposal.status == CARRIED_OUT,
        "note": erasure.note_of(ctx.deps, proposal, citizen) if open_ else None,
        "rules": erasure_rules(),
        "names": display_names(session, me.organisation_id, people),
        "own": proposal.proposed_by == me.user.id,
        "may_decide": open_ and me.may("erasure:approve", resource_user_id=proposal.proposed_by),
        "form": form,
        "approve_prefix": APPROVE_FORM,
        "reject_prefix": REJECT_FORM,
    }
    status = form.status_code if form is not None else 200
    return page(request, "erasure_proposal.html", status_code=status, **context)


@router.get(PROPOSALS + "/{public_id}", response_class=HTMLResponse)
def proposal_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("erasure:review")],
    public_id: str,
) -> Response:
    """A proposal with its dry run and decision forms; after the erasure, what was deleted
    and kept, and the disclosures already made (for the answer to the citizen)."""
    proposal = erasure.proposal_in_organisation(session, me.organisation_id, public_id)
    return _proposal_page(request, ctx, session, me, proposal)


def _to_decide(session: DbSession, me: Principal, public_id: str) -> ErasureProposal:
    """The organisation's proposal, checked against the decision's condition: not the
    proposer's own (the policy's ``not_self``)."""
    proposal = erasure.proposal_in_organisation(session, me.organisation_id, public_id)
    me.ensure(resource_user_id=proposal.proposed_by)
    return proposal


@router.post(
    PROPOSALS + "/{public_id}/godkend",
    dependencies=[rate_limited("step_up")],
    response_class=HTMLResponse,
)
def approve(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("erasure:approve")],
    public_id: str,
    code: Annotated[str, Form(max_length=12)] = "",
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Approve with a fresh code: the erasure is carried out in the same transaction."""
    proposal = _to_decide(session, me, public_id)
    form = FormState.of(prefix=APPROVE_FORM, comment=comment)
    if len(comment.strip()) > erasure.COMMENT_MAX:
        form.add("comment", f"Kommentaren må højst have {erasure.COMMENT_MAX} tegn.")
        return _proposal_page(request, ctx, session, me, proposal, form)
    if not code_accepted(session, ctx.deps, me, code, purpose="erasure_approval", form=form):
        return _proposal_page(request, ctx, session, me, proposal, form)
    try:
        erasure.approve(session, ctx.deps, me.actor, proposal, comment)
    except (InvalidInput, RuleRefusal) as exc:
        # Decided meanwhile: refused before anything changed; the code stays used.
        return _proposal_page(request, ctx, session, me, proposal, form.fail(exc, "comment"))
    return notices.redirect(f"{PROPOSALS}/{proposal.public_id}", "erasure-carried-out")


@router.post(PROPOSALS + "/{public_id}/afvis", response_class=HTMLResponse)
def reject(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("erasure:approve")],
    public_id: str,
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Reject with a comment; nothing is deleted."""
    proposal = _to_decide(session, me, public_id)
    form = FormState.of(prefix=REJECT_FORM, comment=comment)
    try:
        erasure.reject(session, ctx.deps, me.actor, proposal, comment)
    except (InvalidInput, RuleRefusal) as exc:
        return _proposal_page(request, ctx, session, me, proposal, form.fail(exc, "comment"))
    return notices.redirect(f"{PROPOSALS}/{proposal.public_id}", "erasure-rejected")

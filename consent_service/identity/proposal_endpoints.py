"""HTTP for two-person access changes: the administrator proposes a reset, the data
controller sees the organisation's proposals and approves (with a fresh code) or rejects.
HTTP only: the decisions are in ``identity.proposals``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.errors import StepUpFailed
from consent_service.identity import organisations, proposal_decisions, proposals, stepup
from consent_service.identity import users as user_admin
from consent_service.identity.errors import UserInputError
from consent_service.identity.models import AccessProposal, ProposalKind, ProposalStatus
from consent_service.web import notices
from consent_service.web.account_forms import row_form, users_page_failed
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.formstate import FormState
from consent_service.web.gate import GatedRoute
from consent_service.web.ratelimit import rate_limited
from consent_service.web.scope import user_in_scope
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)

RESET_KINDS = {
    "adgangskode": ProposalKind.RESET_PASSWORD,
    "to-faktor": ProposalKind.RESET_SECOND_FACTOR,
}
APPROVALS = "/godkendelser/adgang"


def _approvals_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Principal,
    *,
    status_code: int = 200,
    form: FormState | None = None,
) -> Response:
    """The organisation's proposals; ``form`` is a refused decision's form (its prefix
    names the proposal: ``approve-<id>-`` or ``reject-<id>-``)."""
    org = me.organisation_id
    rows = proposals.proposals_of(session, ctx.identity, me.actor, org)
    people = {u.id: u for u in user_admin.users_of(session, org)}
    # A system-wide administrator's proposals of users in other organisations: followed
    # here, decided by a data controller of each one's organisation.
    elsewhere = proposals.proposals_made_elsewhere(session, me.user)
    names = {o.id: o.name for o in organisations.all_organisations(session)} if elsewhere else {}
    return page(
        request,
        "approvals.html",
        status_code=status_code,
        me=me,
        proposals=rows,
        elsewhere=elsewhere,
        organisation_names=names,
        now=ctx.clock.now(),
        people=people,
        kinds=proposals.KINDS_DA,
        pending=ProposalStatus.PENDING.value,
        actions={
            p.id: proposal_decisions.actions_for(session, ctx.identity, ctx.policy, me.user, p)
            for p in rows
        },
        mail_enabled=bool(ctx.settings.smtp_host),
        form=form,
    )


@router.get(APPROVALS, response_class=HTMLResponse)
def approvals_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("users:proposals")],
) -> Response:
    return _approvals_page(request, ctx, session, me)


def _proposal_in_scope(session: DbSession, me: Principal, proposal_id: int) -> AccessProposal:
    """The proposal of the request's organisation (another organisation's id gets the
    denial an unknown id gets), and not the deciding person's own (``not_self``)."""
    proposal = proposals.proposal_in_organisation(session, me.organisation_id, proposal_id)
    if proposal is None:
        raise me.out_of_scope()
    me.ensure(resource_user_id=proposal.proposed_by)
    return proposal


@router.post(
    APPROVALS + "/{proposal_id}/godkend",
    dependencies=[rate_limited("step_up")],
    response_class=HTMLResponse,
)
def approve(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("users:approve")],
    proposal_id: int,
    code: Annotated[str, Form(max_length=12)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    comment: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    proposal = _proposal_in_scope(session, me, proposal_id)
    form = FormState.of(prefix=f"approve-{proposal.id}-", email=email, comment=comment)
    try:
        approved = proposal_decisions.approve(
            session, ctx.identity, me.actor, ctx.policy, me.user, proposal,
            code=code, mail_to=email, comment=comment,
        )  # fmt: skip
    except StepUpFailed as failed:
        # Nothing was changed before the code was checked: only the failure is kept.
        stepup.record_step_up_failure(session, ctx.identity, me.actor, failed)
        form.add("code", failed.message)
        return _approvals_page(request, ctx, session, me, status_code=400, form=form)
    except UserInputError as exc:
        form.add(exc.field or "", exc.message)
        return _approvals_page(request, ctx, session, me, status_code=400, form=form)
    return page(
        request,
        "proposal_approved.html",
        me=me,
        proposal=approved.proposal,
        user=approved.user,
        password=approved.password,
        mailed_to=approved.mailed_to,
        kinds=proposals.KINDS_DA,
    )


@router.post(APPROVALS + "/{proposal_id}/afvis", response_class=HTMLResponse)
def reject(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("users:approve")],
    proposal_id: int,
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    proposal = _proposal_in_scope(session, me, proposal_id)
    try:
        proposal_decisions.reject(
            session, ctx.identity, me.actor, ctx.policy, me.user, proposal, reason=reason
        )
    except UserInputError as exc:
        form = FormState.of(prefix=f"reject-{proposal.id}-", reason=reason)
        form.add(exc.field or "reason", exc.message)
        return _approvals_page(request, ctx, session, me, status_code=400, form=form)
    return notices.redirect(APPROVALS, "proposal-rejected")


@router.post(
    "/admin/brugere/{user_id}/nulstil",
    dependencies=[rate_limited("password_reset")],
    response_class=HTMLResponse,
)
def propose_reset(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("users:reset")],
    user_id: int,
    kind: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Propose a password or second-factor reset; a data controller must approve it."""
    target = user_in_scope(session, me, user_id)
    form = FormState.of(prefix=row_form("reset", target.id), kind=kind, reason=reason)
    try:
        if kind not in RESET_KINDS:
            raise UserInputError("Vælg hvad der skal nulstilles.", field="kind")
        proposals.propose_reset(
            session, ctx.identity, me.actor, me.user, target, kind=RESET_KINDS[kind],
            reason=reason,
        )  # fmt: skip
    except UserInputError as exc:
        return users_page_failed(request, session, me, form, exc)
    return notices.redirect(APPROVALS, "proposal-made")

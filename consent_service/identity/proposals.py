"""Two people for access to citizens' data and for credential resets.

An administrator alone may not give anyone access to citizens' data, nor learn a
password that opens it: a new user or a role change to a role that can read citizens'
data (one holding any ``personal_data`` permission in policies/access.yaml), and every
password or second-factor reset, is only a *proposal*. A data controller of the
organisation the user belongs to (the proposer's, or the one a system-wide administrator
chose for a new user), who is neither the proposer nor the person it concerns, approves
it with a fresh code (step-up) or rejects it with a reason. Only then is the change applied, and
the one-time password goes by e-mail to the address the approver gives, or is shown once
to the approver to hand over; never to the administrator. Proposals expire.

This module makes and lists proposals; ``identity.proposal_decisions`` approves and
rejects them. Every function takes the database session first, flushes, never commits,
and records its audit events in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.orm import Session

from consent_service.access.policy import AccessPolicy
from consent_service.audit.recorder import Actor
from consent_service.identity import proposal_query
from consent_service.identity import repository as repo
from consent_service.identity.errors import UserInputError
from consent_service.identity.models import (
    AccessProposal,
    ProposalKind,
    ProposalStatus,
    Role,
    User,
)
from consent_service.identity.users import checked_new_user
from consent_service.services import ServiceDeps

APPROVE_PERMISSION = "users:approve"
KINDS_DA = {
    ProposalKind.CREATE_USER.value: "Ny bruger",
    ProposalKind.CHANGE_ROLE.value: "Rolleskift",
    ProposalKind.RESET_PASSWORD.value: "Nulstil adgangskode",
    ProposalKind.RESET_SECOND_FACTOR.value: "Nulstil to-faktor (mistet telefon)",
}


def needs_two_people(policy: AccessPolicy, role: str) -> bool:
    """Whether giving ``role`` to someone takes two people: it can read citizens' data."""
    return policy.reads_personal_data(role)


def checked_reason(reason: str, what: str) -> str:
    reason = reason.strip()
    if len(reason) < 3 or len(reason) > 200:
        raise UserInputError(f"Angiv en begrundelse for {what} (3-200 tegn).", field="reason")
    return reason


def record_proposal_event(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    proposal: AccessProposal,
    *,
    action: str,
    **details: object,
) -> None:
    deps.audit.record(
        session,
        actor,
        action=action,
        outcome="success",
        resource_type="access_proposal",
        resource_id=str(proposal.id),
        reason=proposal.decision_comment if action == "access_proposal.rejected" else None,
        details={
            "kind": proposal.kind,
            "target_user": proposal.target_user_id,
            "role": proposal.role,
            **details,
        },
        organisation_id=proposal.organisation_id,
    )


def _new(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    proposer: User,
    *,
    kind: ProposalKind,
    reason: str,
    target: User | None = None,
    username: str | None = None,
    display_name: str | None = None,
    role: str | None = None,
    organisation_id: int | None = None,
) -> AccessProposal:
    now = deps.clock.now()
    proposal = AccessProposal(
        organisation_id=proposer.organisation_id if organisation_id is None else organisation_id,
        kind=kind.value,
        status=ProposalStatus.PENDING.value,
        target_user_id=target.id if target else None,
        username=username,
        display_name=display_name,
        role=role,
        reason=reason,
        proposed_by=proposer.id,
        proposed_at=now,
        expires_at=now + timedelta(hours=deps.settings.access_proposal_hours),
    )
    session.add(proposal)
    session.flush()
    record_proposal_event(
        session,
        deps,
        actor,
        proposal,
        action="access_proposal.proposed",
        expires_at=proposal.expires_at.isoformat(),
    )
    return proposal


def propose_user(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    proposer: User,
    *,
    username: str,
    display_name: str,
    role: str,
    reason: str = "",
    organisation_id: int | None = None,
) -> AccessProposal:
    """Propose a new user of ``organisation_id`` (default: the proposer's) with a role that
    can read citizens' data; the same checks as creating one, so a proposal can be applied.
    A data controller of that organisation decides it (``proposal_decisions``); the caller
    has checked that the proposer may name the organisation (``organisations:manage``)."""
    username = checked_new_user(username, display_name, role)
    if repo.user_by_username(session, username) is not None or proposal_query.pending_proposal(
        session, kind=ProposalKind.CREATE_USER.value, target_user_id=None, username=username
    ):
        raise UserInputError("Brugernavnet er optaget.", field="username")
    return _new(
        session,
        deps,
        actor,
        proposer,
        kind=ProposalKind.CREATE_USER,
        reason=checked_reason(reason, "den nye bruger") if reason.strip() else "Ny bruger",
        username=username,
        display_name=display_name.strip(),
        role=role,
        organisation_id=organisation_id,
    )


def propose_role(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    proposer: User,
    target: User,
    *,
    role: str,
    reason: str,
) -> AccessProposal:
    """Propose giving ``target`` a role that can read citizens' data."""
    reason = checked_reason(reason, "ændringen")
    if role not in {r.value for r in Role}:
        raise UserInputError("Ukendt rolle.", field="role")
    if role == target.role:
        raise UserInputError("Ændringen ændrer ikke noget.")
    _check_target(session, proposer, target, ProposalKind.CHANGE_ROLE)
    return _new(
        session, deps, actor, proposer, kind=ProposalKind.CHANGE_ROLE, reason=reason,
        target=target, role=role,
    )  # fmt: skip


def propose_reset(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    proposer: User,
    target: User,
    *,
    kind: ProposalKind,
    reason: str,
) -> AccessProposal:
    """Propose a password reset, or a second-factor reset (a lost phone: the authenticator
    and recovery codes are removed and the user enrols again at the next login)."""
    if kind not in (ProposalKind.RESET_PASSWORD, ProposalKind.RESET_SECOND_FACTOR):
        raise UserInputError("Ukendt nulstilling.", field="kind")
    reason = checked_reason(reason, "nulstillingen")
    _check_target(session, proposer, target, kind)
    return _new(session, deps, actor, proposer, kind=kind, reason=reason, target=target)


def _check_target(session: Session, proposer: User, target: User, kind: ProposalKind) -> None:
    if target.organisation_id != proposer.organisation_id:
        raise UserInputError("Brugeren findes ikke i din organisation.")
    if target.id == proposer.id:
        raise UserInputError("Du kan ikke foreslå en ændring af din egen adgang.")
    if not target.is_active:
        raise UserInputError("Brugeren er deaktiveret.")
    if proposal_query.pending_proposal(
        session, kind=kind.value, target_user_id=target.id, username=None
    ):
        raise UserInputError("Der venter allerede et forslag af samme slags for brugeren.")


def proposals_of(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, limit: int = 100
) -> Sequence[AccessProposal]:
    """The organisation's proposals, newest first; pending ones past their time are marked
    expired (and audited) first."""
    now = deps.clock.now()
    for proposal in proposal_query.overdue_proposals(session, organisation_id, now):
        proposal.status = ProposalStatus.EXPIRED.value
        proposal.decided_at = now
        session.flush()
        record_proposal_event(session, deps, actor, proposal, action="access_proposal.expired")
    return proposal_query.proposals_of_organisation(session, organisation_id, limit)


def proposals_made_elsewhere(
    session: Session, proposer: User, limit: int = 50
) -> Sequence[AccessProposal]:
    """The proposals ``proposer`` made for other organisations than their own (a
    system-wide administrator's new users), newest first: the proposer follows them here,
    a data controller of each one's organisation decides it."""
    return proposal_query.proposals_by_proposer_elsewhere(
        session, proposer.id, proposer.organisation_id, limit
    )


def proposal_by_id(session: Session, proposal_id: int) -> AccessProposal | None:
    """Any organisation's proposal, for the command line (which names no organisation
    before it knows the decider); requests use ``proposal_in_organisation``."""
    return proposal_query.proposal_by_id(session, proposal_id)


def proposal_in_organisation(
    session: Session, organisation_id: int, proposal_id: int
) -> AccessProposal | None:
    """The scoped loader of access proposals: the proposal if it belongs to
    ``organisation_id``, None for another organisation's id exactly as for an unknown one."""
    return proposal_query.proposal_in_organisation(session, organisation_id, proposal_id)

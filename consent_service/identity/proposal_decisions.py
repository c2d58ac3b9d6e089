"""Deciding a two-person access proposal (``identity.proposals``): a data controller of
the same organisation, neither the proposer nor the person it concerns, approves with a
fresh code (step-up) or rejects with a reason; an approval applies the change and hands
the one-time password to the approver or mails it, never to the administrator.

Every function takes the database session first, flushes, never commits, and records its
audit events in the same transaction.
"""

from __future__ import annotations

import re
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy.orm import Session

from consent_service.access.policy import AccessPolicy, AccessRequest
from consent_service.audit.recorder import Actor
from consent_service.errors import RuleRefusal
from consent_service.identity import lockout
from consent_service.identity import repository as repo
from consent_service.identity.errors import UserInputError
from consent_service.identity.models import AccessProposal, ProposalKind, ProposalStatus, User
from consent_service.identity.passwords import hash_password
from consent_service.identity.proposals import (
    APPROVE_PERMISSION,
    checked_reason,
    needs_two_people,
    record_proposal_event,
)
from consent_service.identity.stepup import step_up
from consent_service.identity.users import change_user, create_user, one_time_password
from consent_service.services import ServiceDeps

STEP_UP_PURPOSE = "access_proposal"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,}$")


@dataclass(frozen=True)
class Approved:
    """What the approver learns: the user, and the one-time password unless it was mailed."""

    proposal: AccessProposal
    user: User
    password: str | None
    mailed_to: str | None


def _check_decider(
    session: Session,
    deps: ServiceDeps,
    policy: AccessPolicy,
    decider: User,
    proposal: AccessProposal,
) -> None:
    """The access policy's rule (users:approve: same organisation, not the proposer's own),
    and the rules no policy may relax: a second person, not the one it concerns, while the
    proposal is pending and in time."""
    decision = policy.decide(
        AccessRequest(
            user_id=decider.id,
            role=decider.role,
            organisation_id=decider.organisation_id,
            permission=APPROVE_PERMISSION,
            resource_organisation_id=proposal.organisation_id,
            resource_user_id=proposal.proposed_by,
        )
    )
    if not decision.allowed or not decider.is_active:
        raise RuleRefusal("Du kan ikke afgøre dette forslag.")
    if decider.id == proposal.proposed_by:
        raise RuleRefusal("Du kan ikke selv godkende dit eget forslag.")
    if decider.id == proposal.target_user_id:
        raise RuleRefusal("Du kan ikke afgøre et forslag om din egen adgang.")
    if proposal.status != ProposalStatus.PENDING.value:
        raise RuleRefusal("Forslaget er allerede afgjort.")
    if proposal.expires_at <= deps.clock.now():
        raise RuleRefusal("Forslaget er udløbet. Administratoren må foreslå det igen.")


@dataclass(frozen=True)
class ProposalActions:
    """What the approvals page offers one person for one proposal."""

    can_decide: bool  # the rules approve and reject check would let them
    awaiting_second_person: bool  # their own proposal, still pending


def actions_for(
    session: Session,
    deps: ServiceDeps,
    policy: AccessPolicy,
    viewer: User,
    proposal: AccessProposal,
) -> ProposalActions:
    """What ``viewer`` may do with ``proposal`` now, by the same rules that ``approve``
    and ``reject`` refuse with (four eyes: never the proposer, never the one concerned)."""
    try:
        _check_decider(session, deps, policy, viewer, proposal)
        can_decide = True
    except RuleRefusal:
        can_decide = False
    pending = proposal.status == ProposalStatus.PENDING.value
    return ProposalActions(
        can_decide=can_decide,
        awaiting_second_person=pending and proposal.proposed_by == viewer.id,
    )


def check_mail_address(deps: ServiceDeps, address: str) -> str | None:
    """The address a one-time password may be mailed to, None if none was given."""
    address = address.strip()
    if not address:
        return None
    if not deps.settings.smtp_host:
        raise UserInputError(
            "Der er ikke sat e-mail op. Lad feltet stå tomt, så vises adgangskoden til dig."
        )
    if not _EMAIL.match(address):
        raise UserInputError("E-mailadressen er ikke gyldig.", field="email")
    domains = [d.lower().lstrip("@") for d in deps.settings.account_mail_domains]
    if domains and address.rsplit("@", 1)[1].lower() not in domains:
        raise UserInputError("Adgangskoden kan kun sendes til en arbejdsadresse.", field="email")
    return address


def approve(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    policy: AccessPolicy,
    approver: User,
    proposal: AccessProposal,
    *,
    code: str,
    mail_to: str = "",
    comment: str = "",
) -> Approved:
    """Apply the proposal after a fresh code from a second person (step-up; a wrong or
    replayed code raises StepUpFailed and changes nothing). The one-time password is mailed
    to ``mail_to`` if given, otherwise returned to be shown once to the approver."""
    _check_decider(session, deps, policy, approver, proposal)
    address = check_mail_address(deps, mail_to)
    comment = comment.strip()
    if len(comment) > 200:
        raise UserInputError("Kommentaren må højst have 200 tegn.", field="comment")
    step_up(session, deps, actor, approver, code, purpose=STEP_UP_PURPOSE)
    try:
        user, password = _apply(session, deps, actor, policy, proposal)
    except UserInputError as exc:  # e.g. the username was taken meanwhile: roll all back
        raise RuleRefusal(str(exc)) from None
    now = deps.clock.now()
    proposal.status = ProposalStatus.APPROVED.value
    proposal.decided_by = approver.id
    proposal.decided_at = now
    proposal.decision_comment = comment or None
    proposal.target_user_id = user.id
    proposal.delivery = None if password is None else ("email" if address else "shown")
    session.flush()
    record_proposal_event(
        session,
        deps,
        actor,
        proposal,
        action="access_proposal.approved",
        proposed_by=proposal.proposed_by,
        delivery=proposal.delivery,
    )
    if password is not None and address is not None:
        _mail_password(deps, address, user.username, password)
        return Approved(proposal, user, None, address)
    return Approved(proposal, user, password, None)


def reject(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    policy: AccessPolicy,
    decider: User,
    proposal: AccessProposal,
    *,
    reason: str,
) -> None:
    """Refuse the proposal with a reason; nothing else changes."""
    _check_decider(session, deps, policy, decider, proposal)
    reason = checked_reason(reason, "afvisningen")
    proposal.status = ProposalStatus.REJECTED.value
    proposal.decided_by = decider.id
    proposal.decided_at = deps.clock.now()
    proposal.decision_comment = reason
    session.flush()
    record_proposal_event(
        session,
        deps,
        actor,
        proposal,
        action="access_proposal.rejected",
    )


def _apply(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    policy: AccessPolicy,
    proposal: AccessProposal,
) -> tuple[User, str | None]:
    kind = ProposalKind(proposal.kind)
    if kind is ProposalKind.CREATE_USER:
        if proposal.username is None or proposal.display_name is None or proposal.role is None:
            raise RuntimeError("a create_user proposal without username, name or role")
        return create_user(
            session,
            deps,
            actor,
            organisation_id=proposal.organisation_id,
            username=proposal.username,
            display_name=proposal.display_name,
            role=proposal.role,
        )
    target = repo.user_by_id(session, proposal.target_user_id or 0)
    if target is None or target.organisation_id != proposal.organisation_id:
        raise RuleRefusal("Brugeren findes ikke længere.")
    if not target.is_active:
        raise RuleRefusal("Brugeren er deaktiveret.")
    if kind is ProposalKind.CHANGE_ROLE:
        if proposal.role is None:
            raise RuntimeError("a change_role proposal without a role")
        had_access = needs_two_people(policy, target.role)
        change_user(session, deps, actor, target, reason=proposal.reason, role=proposal.role)
        if had_access:
            return target, None
        # An account that could not read citizens' data (an administrator's) may have
        # credentials its proposer knows: it gets them anew, through the second person.
        return target, reset_credentials(
            session, deps, actor, target, second_factor=True, proposal=proposal
        )
    return target, reset_credentials(
        session,
        deps,
        actor,
        target,
        second_factor=kind is ProposalKind.RESET_SECOND_FACTOR,
        proposal=proposal,
    )


def reset_credentials(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    user: User,
    *,
    second_factor: bool,
    proposal: AccessProposal,
) -> str:
    """A new one-time password, to be changed at the next login; with ``second_factor``
    also no authenticator and no recovery codes, so the user enrols again. A password
    lockout ends; every session of the user ends. Returns the one-time password."""
    now = deps.clock.now()
    before = user.snapshot()
    password = one_time_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    lockout.end_password_lockout(user)
    if second_factor:
        user.totp_secret_sealed = None
        user.totp_enrolled_at = None
        lockout.end_code_lockout(user)
        repo.delete_recovery_codes(session, user.id)
    user.updated_at = now
    action = "user.second_factor_reset" if second_factor else "user.password_reset"
    repo.end_all_sessions(session, user.id, now, "credentials reset")
    session.flush()
    deps.audit.record(
        session,
        actor,
        action=action,
        outcome="success",
        resource_type="user",
        resource_id=str(user.id),
        reason=proposal.reason,
        details={"before": before, "after": user.snapshot(), "proposal": proposal.id},
        organisation_id=user.organisation_id,
    )
    return password


def _mail_password(deps: ServiceDeps, address: str, username: str, password: str) -> None:
    """Mail the one-time password; a failure refuses the approval (nothing is changed)."""
    host = deps.settings.smtp_host
    if host is None:  # check_mail_address refused the address already
        raise RuntimeError("no SMTP host")
    message = EmailMessage()
    message["Subject"] = "Din midlertidige adgangskode til samtykkeservicen"
    message["From"] = deps.settings.smtp_from
    message["To"] = address
    message.set_content(
        f"Brugernavn: {username}\nMidlertidig adgangskode: {password}\n\n"
        "Adgangskoden skal skiftes ved næste login. Har du ikke bedt om den, så kontakt "
        "din administrator og din dataansvarlige.\n"
    )
    try:
        with smtplib.SMTP(host, deps.settings.smtp_port, timeout=30) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException):
        raise RuleRefusal(
            "Mailen kunne ikke sendes, og intet er ændret. Prøv igen, eller lad e-mailfeltet "
            "stå tomt, så vises adgangskoden til dig."
        ) from None

"""Step-up: a fresh second factor for one weighty action (pilot-end deletion, approving an
extract). Failures count toward the same lockout as wrong codes at login and lock the
account through the same path (``lockout.code_failure``); a locked account is refused
even with the right code."""

from __future__ import annotations

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.errors import StepUpFailed
from consent_service.identity import lockout, totp
from consent_service.identity import repository as repo
from consent_service.identity.models import User
from consent_service.services import ServiceDeps


def step_up(
    session: Session, deps: ServiceDeps, actor: Actor, user: User, code: str, purpose: str
) -> None:
    """Accept a TOTP code for a time step after the last one used, unless the account is
    locked; recovery codes do not count. The step is taken by one atomic statement that
    also checks the lock, so of concurrent requests with one code exactly one passes, and
    a lock that commits first wins. Success is audited with the action, in its
    transaction; otherwise StepUpFailed, whose audit event and count the request handler
    records alone after rolling the action back (``record_step_up_failure``)."""
    now = deps.clock.now()
    if lockout.is_locked(user, now):
        raise StepUpFailed(user_id=user.id, purpose=purpose, reason="account locked")
    reason = "wrong code"
    if user.totp_secret_sealed is not None and code.strip().isdigit():
        secret = deps.crypto.open_totp_secret(user.id, user.totp_secret_sealed)
        check = totp.check_code(secret, code.strip(), at=now, last_step=user.totp_last_step)
        if check.replay:
            reason = "replayed code"
        if check.accepted and check.step is not None:
            if repo.accept_totp_step(session, user, check.step, now):
                deps.audit.record(
                    session,
                    actor,
                    action="login.step_up",
                    outcome="success",
                    resource_type="user",
                    resource_id=str(user.id),
                    details={"purpose": purpose},
                )
                session.flush()
                return
            # Taken by a concurrent request, or the account was locked meanwhile.
            session.refresh(user)
            reason = "account locked" if lockout.is_locked(user, now) else "replayed code"
    raise StepUpFailed(user_id=user.id, purpose=purpose, reason=reason)


def record_step_up_failure(
    session: Session, deps: ServiceDeps, actor: Actor, failed: StepUpFailed
) -> None:
    """Record a failed step-up in its own transaction (the action was rolled back): audited
    as ``login.step_up_failed``, counted as a code failure, locking at the limit."""
    user = repo.user_by_id(session, failed.user_id)
    details = {"purpose": failed.purpose}
    if user is None:  # deleted meanwhile: nothing to count
        deps.audit.record(
            session,
            actor,
            action="login.step_up_failed",
            outcome="failure",
            resource_type="user",
            resource_id=str(failed.user_id),
            reason=failed.reason,
            details=details,
        )
        return
    lockout.code_failure(
        session,
        deps,
        actor,
        user,
        failed.reason,
        action="login.step_up_failed",
        cause="step-up code failures",
        details=details,
    )

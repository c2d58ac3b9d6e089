"""One's own account: change the password, make new recovery codes; each with a fresh code.

Every function takes the database session first, flushes, never commits, and records its
audit events in the same transaction. A wrong or replayed code raises StepUpFailed before
anything changes.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.identity import repository as repo
from consent_service.identity.errors import PasswordRejected
from consent_service.identity.login import RECOVERY_CODE_COUNT, new_recovery_codes
from consent_service.identity.models import User, UserSession
from consent_service.identity.passwords import hash_password, password_problems, verify_password
from consent_service.identity.stepup import step_up
from consent_service.services import ServiceDeps


def _end_other_sessions(session: Session, deps: ServiceDeps, user: User, keep: str) -> None:
    repo.end_other_sessions(session, user.id, keep, deps.clock.now(), "password changed")


def change_own_password(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    user: User,
    current_session: UserSession,
    *,
    current: str,
    new: str,
    repeat: str,
    code: str,
) -> None:
    """Change one's own password: a fresh code first (so each guess at the current
    password costs a code, and wrong codes count toward the lockout), then the current
    password, then the password rules. The user's other sessions end."""
    step_up(session, deps, actor, user, code, purpose="password_change")
    problems: list[str] = []
    if not verify_password(user.password_hash, current):
        deps.audit.record(
            session,
            actor,
            action="user.password_change_refused",
            outcome="failure",
            resource_type="user",
            resource_id=str(user.id),
            reason="wrong current password",
        )
        raise PasswordRejected(["Den nuværende adgangskode er forkert."])
    if new != repeat:
        problems.append("De to nye adgangskoder er ikke ens.")
    problems += password_problems(
        new, username=user.username, min_length=deps.settings.password_min_length
    )
    if not problems and verify_password(user.password_hash, new):
        problems.append("Den nye adgangskode skal være forskellig fra den nuværende.")
    if problems:
        raise PasswordRejected(problems)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.updated_at = deps.clock.now()
    _end_other_sessions(session, deps, user, current_session.id)
    session.flush()
    deps.audit.record(
        session,
        actor,
        action="user.password_changed",
        outcome="success",
        resource_type="user",
        resource_id=str(user.id),
    )


def renew_recovery_codes(
    session: Session, deps: ServiceDeps, actor: Actor, user: User, *, code: str
) -> list[str]:
    """New recovery codes after a fresh code; every old one stops working. Returned once,
    stored only as keyed hashes."""
    step_up(session, deps, actor, user, code, purpose="recovery_codes")
    codes = new_recovery_codes(session, deps, user)
    deps.audit.record(
        session,
        actor,
        action="user.recovery_codes_renewed",
        outcome="success",
        resource_type="user",
        resource_id=str(user.id),
        details={"recovery_codes": RECOVERY_CODE_COUNT},
    )
    return codes

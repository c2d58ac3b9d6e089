"""Failed factors and lockout: the one place that counts failures and locks an account.

Password failures (a growing, timed lockout), code failures at login and at enrolment,
and failed step-ups (a lock until an administrator unlocks) all count here, each with a
single atomic statement (``repository.count_*``), and all lock through ``lock_account``:
the account's state, open sessions ended (all of them for a lock an administrator must
lift; half-finished logins only for a timed password lockout), one ``login.locked`` event.
Everything is recorded in the caller's transaction, which must commit even though the
request is refused (the login pages return a page; a step-up failure is recorded in
a transaction of its own, see ``web/deps.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.identity import repository as repo
from consent_service.identity.errors import LoginFailed
from consent_service.identity.models import User
from consent_service.services import ServiceDeps


def is_locked(user: User, now: datetime) -> bool:
    return user.needs_admin_unlock or (user.locked_until is not None and user.locked_until > now)


def unknown_username_label(deps: ServiceDeps, username: str) -> str:
    """What the audit log says for a username that matches no account: a keyed hash, so
    repeated attempts on one name group together (alerts) but a password typed into the
    username field is never stored."""
    return "?" + deps.crypto.unknown_username_hash(username)[:16]


def record_failure(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    user: User | None,
    *,
    action: str,
    reason: str,
    username: str,
    details: Mapping[str, Any] | None = None,
) -> LoginFailed:
    """Audit a failed step (not counted); returns the error to raise."""
    deps.audit.record(
        session,
        actor.as_user(user.id, user.username, user.organisation_id)
        if user
        else Actor(
            username=unknown_username_label(deps, username),
            request_id=actor.request_id,
            source_ip=actor.source_ip,
        ),
        action=action,
        outcome="failure",
        resource_type="user",
        resource_id=str(user.id) if user else None,
        reason=reason,
        details=details,
    )
    return LoginFailed(reason)


def lock_account(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    user: User,
    *,
    cause: str,
    until: datetime | None,
) -> None:
    """Lock ``user`` until an administrator unlocks (``until`` None) or until ``until``;
    audit ``login.locked``. A lock until an administrator unlocks (wrong codes: someone
    knows the password; wrong step-ups: someone holds a session) ends every open session,
    pending and active, at once. A timed password lockout ends the half-finished logins
    only: anyone who knows a user name can cause it, so it must not log the user out."""
    now = deps.clock.now()
    lockouts = repo.lock_user(session, user, now, until)
    if until is None:
        repo.end_all_sessions(session, user.id, now, "locked")
    else:
        repo.end_pending_sessions(session, user.id, now, "locked")
    details: dict[str, Any] = (
        {"until": "administrator unlocks"}
        if until is None
        else {"minutes": int((until - now).total_seconds() // 60), "lockout_number": lockouts}
    )
    deps.audit.record(
        session,
        actor.as_user(user.id, user.username, user.organisation_id),
        action="login.locked",
        outcome="failure",
        resource_type="user",
        resource_id=str(user.id),
        reason=cause,
        details=details,
    )


def code_failure(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    user: User,
    reason: str,
    *,
    action: str,
    cause: str = "code failures",
    details: Mapping[str, Any] | None = None,
) -> LoginFailed:
    """A wrong TOTP or recovery code, at login, enrolment or step-up: counted (unless the
    account is locked already), audited as ``action``; the one that reaches the limit
    locks the account until an administrator unlocks it. Returns the error to raise."""
    now = deps.clock.now()
    limit = deps.settings.code_failure_limit
    count = repo.count_code_failure(session, user, now, limit)
    failed = record_failure(
        session,
        deps,
        actor,
        user,
        action=action,
        reason=reason if count is not None or "locked" in reason else f"{reason} (account locked)",
        username=user.username,
        details=details,
    )
    if count is not None and count >= limit:
        lock_account(session, deps, actor, user, cause=cause, until=None)
    return failed


def password_failure(
    session: Session, deps: ServiceDeps, actor: Actor, user: User, username: str
) -> LoginFailed:
    """A wrong password: counted in the window (unless locked already), audited; the one
    that reaches the limit locks the account for a growing while. Returns the error."""
    now = deps.clock.now()
    s = deps.settings
    window = timedelta(minutes=s.password_failure_window_minutes)
    counted = repo.count_password_failure(session, user, now, now - window)
    failed = record_failure(
        session,
        deps,
        actor,
        user,
        action="login.password_failed",
        reason="wrong password" if counted is not None else "account locked",
        username=username,
    )
    if counted is not None and counted[0] >= s.password_failure_limit:
        waits = s.password_lockout_minutes
        wait = waits[min(counted[1], len(waits) - 1)]
        lock_account(
            session,
            deps,
            actor,
            user,
            cause="password failures",
            until=now + timedelta(minutes=wait),
        )
    return failed


def end_password_lockout(user: User) -> None:
    """A timed password lockout ends and the password count starts again (an
    administrator's unlock, a password reset)."""
    user.locked_until = None
    user.password_failures = 0
    user.password_failure_window_start = None


def end_code_lockout(user: User) -> None:
    """A lock an administrator must lift ends and the code count starts again (an
    administrator's unlock, a second-factor reset)."""
    user.needs_admin_unlock = False
    user.code_failures = 0


def clear_failures(user: User, now: datetime) -> None:
    """Both factors were right: the counts start again."""
    user.code_failures = 0
    user.password_failures = 0
    user.password_lockouts = 0
    user.password_failure_window_start = None
    user.updated_at = now

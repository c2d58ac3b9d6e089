"""Server-side sessions: issuing one, finding the live one a cookie names, ending it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.crypto import new_token, token_hash
from consent_service.identity import repository as repo
from consent_service.identity import touch_query as touch
from consent_service.identity.models import SessionStage, User, UserSession
from consent_service.services import ServiceDeps


@dataclass(frozen=True)
class IssuedSession:
    token: str
    row: UserSession


def new_session(
    session: Session,
    deps: ServiceDeps,
    user: User,
    stage: SessionStage,
    source_ip: str | None,
    *,
    lifetime: timedelta,
) -> IssuedSession:
    now = deps.clock.now()
    token = new_token()
    row = UserSession(
        id=token_hash(token),
        user_id=user.id,
        stage=stage.value,
        csrf_token=new_token(24),
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        source_ip=source_ip,
    )
    session.add(row)
    session.flush()
    return IssuedSession(token, row)


@dataclass(frozen=True)
class SessionLookup:
    row: UserSession | None
    user: User | None
    expired: bool = False
    expired_id: str | None = None
    expired_reason: str | None = None


def active_session(session: Session, deps: ServiceDeps, token: str | None) -> SessionLookup:
    """The live, MFA-complete session the token names; ends it if idle or too old, or if
    its user is deactivated or locked (locking ends the sessions too: this is the guard
    for one a concurrent lock has not reached yet). The session and its user are read in
    one query."""
    if not token:
        return SessionLookup(None, None)
    found = repo.session_with_user(session, token_hash(token))
    if found is None:
        return SessionLookup(None, None)
    row, user = found
    if row.ended_at is not None or row.stage != SessionStage.ACTIVE.value:
        return SessionLookup(None, None)
    now = deps.clock.now()
    idle = timedelta(minutes=deps.settings.session_idle_minutes)
    reason = None
    if row.expires_at <= now:
        reason = "absolute timeout"
    elif now - row.last_seen_at > idle:
        reason = "idle timeout"
    if reason is None and (user is None or not user.is_active):
        reason = "user deactivated"
    # Only a lock an administrator must lift ends a session already open: it follows wrong
    # codes (someone who knows the password) or wrong step-ups (someone holding a session).
    # A timed password lockout does not: anyone who knows a user name can cause one, and
    # it must not log the real user out.
    if reason is None and user is not None and user.needs_admin_unlock:
        reason = "locked"
    if reason is not None:
        # Not ended here: the request is refused and rolled back; the caller ends it in the
        # transaction that records the refusal (``end_session``).
        return SessionLookup(None, None, expired=True, expired_id=row.id, expired_reason=reason)
    if row.mfa_at is None:
        return SessionLookup(None, None)
    touch.touch_session(session, row, now)
    return SessionLookup(row, user)


def end_session(session: Session, deps: ServiceDeps, session_id: str, reason: str) -> None:
    row = repo.session_by_id(session, session_id)
    if row is not None and row.ended_at is None:
        row.ended_at = deps.clock.now()
        row.end_reason = reason
        session.flush()


def logout(session: Session, deps: ServiceDeps, actor: Actor, row: UserSession) -> None:
    row.ended_at = deps.clock.now()
    row.end_reason = "logout"
    session.flush()
    deps.audit.record(
        session,
        actor,
        action="session.logout",
        outcome="success",
        resource_type="user",
        resource_id=str(row.user_id),
    )

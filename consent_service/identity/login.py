"""Login with a mandatory second factor: password, then a TOTP or recovery code (or, the
first time, a forced password change and TOTP enrolment); then an active session.

Every function takes the database session first, flushes, never commits, and records its
audit events in the same transaction. Failures are counted and locked in ``lockout``.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.crypto import token_hash
from consent_service.identity import lockout, totp
from consent_service.identity import repository as repo
from consent_service.identity.errors import PasswordRejected
from consent_service.identity.models import RecoveryCode, SessionStage, User, UserSession
from consent_service.identity.passwords import (
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)
from consent_service.identity.sessions import IssuedSession, new_session
from consent_service.services import ServiceDeps

RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def begin_login(
    session: Session, deps: ServiceDeps, actor: Actor, username: str, password: str
) -> IssuedSession:
    """First factor. On success a pending session awaits the code (or enrolment)."""
    now = deps.clock.now()
    s = deps.settings
    user = repo.user_by_username(session, username) if username.strip() else None
    if user is None or not user.is_active:
        verify_password(None, password)  # same work as for a real user
        raise lockout.record_failure(
            session,
            deps,
            actor,
            user,
            action="login.password_failed",
            reason="unknown user" if user is None else "inactive user",
            username=username,
        )
    if lockout.is_locked(user, now):
        verify_password(None, password)
        raise lockout.record_failure(
            session,
            deps,
            actor,
            user,
            action="login.password_failed",
            reason="account locked",
            username=username,
        )
    if not verify_password(user.password_hash, password):
        raise lockout.password_failure(session, deps, actor, user, username)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if user.totp_secret_sealed is not None:
        stage = SessionStage.NEEDS_CODE
    elif user.must_change_password:
        stage = SessionStage.NEEDS_PASSWORD_CHANGE
    else:
        stage = SessionStage.NEEDS_ENROLMENT
    issued = new_session(
        session,
        deps,
        user,
        stage,
        actor.source_ip,
        lifetime=timedelta(minutes=s.pending_login_minutes),
    )
    deps.audit.record(
        session,
        actor.as_user(user.id, user.username, user.organisation_id),
        action="login.password_ok",
        outcome="success",
        resource_type="user",
        resource_id=str(user.id),
        details={"next": stage.value},
    )
    return issued


def pending_session(
    session: Session, deps: ServiceDeps, token: str | None, stage: SessionStage
) -> tuple[UserSession, User] | None:
    """The half-finished login at ``stage``, if the token names a live one."""
    if not token:
        return None
    row = repo.session_by_id(session, token_hash(token))
    now = deps.clock.now()
    if row is None or row.ended_at is not None or row.stage != stage.value or row.expires_at <= now:
        return None
    user = repo.user_by_id(session, row.user_id)
    if user is None or not user.is_active or lockout.is_locked(user, now):
        return None
    return row, user


def submit_code(
    session: Session, deps: ServiceDeps, actor: Actor, row: UserSession, user: User, code: str
) -> IssuedSession:
    """Second factor: a TOTP code, or a one-time recovery code. Each is accepted by one
    atomic statement, so of concurrent requests with the same code exactly one passes."""
    now = deps.clock.now()
    code = code.strip()
    who = actor.as_user(user.id, user.username, user.organisation_id)
    if "-" in code or len(code) > 8:
        recovery = repo.unused_recovery_code(
            session, user.id, deps.crypto.recovery_code_hash(user.id, code.lower())
        )
        if recovery is None or not repo.use_recovery_code(session, recovery.id, now):
            raise lockout.code_failure(
                session, deps, actor, user, "wrong recovery code", action="login.code_failed"
            )
        deps.audit.record(
            session,
            who,
            action="login.recovery_code_used",
            outcome="success",
            resource_type="user",
            resource_id=str(user.id),
        )
    else:
        if user.totp_secret_sealed is None:
            raise lockout.code_failure(
                session, deps, actor, user, "no authenticator enrolled", action="login.code_failed"
            )
        secret = deps.crypto.open_totp_secret(user.id, user.totp_secret_sealed)
        check = totp.check_code(secret, code, at=now, last_step=user.totp_last_step)
        accepted = (
            check.accepted
            and check.step is not None
            and repo.accept_totp_step(session, user, check.step, now)
        )
        # A step a concurrent request took first is a replay as much as an old one.
        replay = check.replay or (check.accepted and not accepted)
        if replay:
            deps.audit.record(
                session,
                who,
                action="security.totp_replay",
                outcome="failure",
                resource_type="user",
                resource_id=str(user.id),
                reason="code for an already used time step",
            )
        if not accepted:
            raise lockout.code_failure(
                session,
                deps,
                actor,
                user,
                "replayed code" if replay else "wrong code",
                action="login.code_failed",
            )
    if user.must_change_password:
        row.stage = SessionStage.NEEDS_PASSWORD_CHANGE.value
        session.flush()
        return IssuedSession("", row)
    return activate(session, deps, actor, row, user)


def activate(
    session: Session, deps: ServiceDeps, actor: Actor, row: UserSession, user: User
) -> IssuedSession:
    """Both factors done: a fresh session id (no fixation), full lifetime."""
    now = deps.clock.now()
    row.ended_at = now
    row.end_reason = "rotated"
    lockout.clear_failures(user, now)
    issued = new_session(
        session,
        deps,
        user,
        SessionStage.ACTIVE,
        actor.source_ip,
        lifetime=timedelta(hours=deps.settings.session_absolute_hours),
    )
    issued.row.mfa_at = now
    user.last_login_at = now
    session.flush()
    deps.audit.record(
        session,
        actor.as_user(user.id, user.username, user.organisation_id),
        action="login.succeeded",
        outcome="success",
        resource_type="user",
        resource_id=str(user.id),
    )
    return issued


def change_password(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    row: UserSession,
    user: User,
    new_password: str,
    repeat: str,
) -> IssuedSession | None:
    """Forced change of the one-time password. Returns the active session if the login is
    complete, None if TOTP enrolment comes next."""
    if new_password != repeat:
        raise PasswordRejected(["De to adgangskoder er ikke ens."])
    problems = password_problems(
        new_password, username=user.username, min_length=deps.settings.password_min_length
    )
    if verify_password(user.password_hash, new_password):
        problems.append("Den nye adgangskode skal være forskellig fra den midlertidige.")
    if problems:
        raise PasswordRejected(problems)
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    user.updated_at = deps.clock.now()
    deps.audit.record(
        session,
        actor.as_user(user.id, user.username, user.organisation_id),
        action="user.password_changed",
        outcome="success",
        resource_type="user",
        resource_id=str(user.id),
    )
    if user.totp_secret_sealed is None:
        row.stage = SessionStage.NEEDS_ENROLMENT.value
        session.flush()
        return None
    return activate(session, deps, actor, row, user)


def enrolment_secret(session: Session, deps: ServiceDeps, row: UserSession, user: User) -> str:
    """The secret being enrolled: made once per pending login, kept sealed in the session."""
    if row.pending_totp_sealed is None:
        row.pending_totp_sealed = deps.crypto.seal_totp_secret(user.id, totp.new_secret())
        session.flush()
    return deps.crypto.open_totp_secret(user.id, row.pending_totp_sealed)


def new_recovery_codes(session: Session, deps: ServiceDeps, user: User) -> list[str]:
    """Replace the user's recovery codes with fresh ones; returned once, stored hashed."""
    now = deps.clock.now()
    repo.delete_recovery_codes(session, user.id)
    codes = [
        "-".join("".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(5)) for _ in range(2))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    for c in codes:
        session.add(
            RecoveryCode(
                user_id=user.id,
                code_hash=deps.crypto.recovery_code_hash(user.id, c),
                created_at=now,
            )
        )
    session.flush()
    return codes


def confirm_enrolment(
    session: Session, deps: ServiceDeps, actor: Actor, row: UserSession, user: User, code: str
) -> list[str]:
    """A first valid code confirms the authenticator; returns fresh recovery codes, shown once."""
    now = deps.clock.now()
    secret = enrolment_secret(session, deps, row, user)
    check = totp.check_code(secret, code, at=now, last_step=None)
    if (
        not check.accepted
        or check.step is None
        or not repo.accept_totp_step(session, user, check.step, now, first=True)
    ):
        raise lockout.code_failure(
            session, deps, actor, user, "wrong enrolment code", action="login.code_failed"
        )
    user.totp_secret_sealed = row.pending_totp_sealed
    user.totp_enrolled_at = now
    row.pending_totp_sealed = None
    row.stage = SessionStage.SHOW_RECOVERY_CODES.value
    codes = new_recovery_codes(session, deps, user)
    deps.audit.record(
        session,
        actor.as_user(user.id, user.username, user.organisation_id),
        action="user.mfa_enrolled",
        outcome="success",
        resource_type="user",
        resource_id=str(user.id),
        details={"recovery_codes": RECOVERY_CODE_COUNT},
    )
    return codes


def finish_enrolment(
    session: Session, deps: ServiceDeps, actor: Actor, row: UserSession, user: User
) -> IssuedSession:
    return activate(session, deps, actor, row, user)

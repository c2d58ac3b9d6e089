"""Identity use cases: users, login with mandatory TOTP, lockout, sessions.

Every function takes the database session first, flushes, never commits, and records
its audit events in the same transaction. Failures a person sees are reported with one
generic error (``LoginFailed``) whatever the cause, so nothing reveals whether an
account exists, is locked, or which factor was wrong; the audit log holds the cause.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.clock import Clock
from consent_service.crypto import Crypto, new_token, token_hash
from consent_service.errors import StepUpFailed
from consent_service.identity import repository as repo
from consent_service.identity import totp
from consent_service.identity.models import (
    ApiToken,
    KeyCheck,
    Organisation,
    RecoveryCode,
    Role,
    SessionStage,
    User,
    UserSession,
)
from consent_service.identity.passwords import (
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)
from consent_service.services import ServiceDeps

RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


class LoginFailed(Exception):
    """A login step failed. The person sees one generic message; the audit log the cause."""


class PasswordRejected(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class UserInputError(Exception):
    """Bad input to an identity operation, with a Danish message for the page."""


IdentityDeps = ServiceDeps


@dataclass(frozen=True)
class IssuedSession:
    token: str
    row: UserSession


# --- organisations and users ------------------------------------------------------------


def create_organisation(
    session: Session, deps: IdentityDeps, actor: Actor, name: str
) -> Organisation:
    org = Organisation(name=name.strip(), created_at=deps.clock.now())
    session.add(org)
    session.flush()
    deps.audit.record(
        session,
        actor,
        action="organisation.created",
        outcome="success",
        resource_type="organisation",
        resource_id=str(org.id),
        details={"before": None, "after": {"name": org.name}},
        organisation_id=org.id,
    )
    return org


def one_time_password() -> str:
    return "-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(5)) for _ in range(4))


def create_user(
    session: Session,
    deps: IdentityDeps,
    actor: Actor,
    *,
    organisation_id: int,
    username: str,
    display_name: str,
    role: str,
) -> tuple[User, str]:
    """Create a user with a one-time set-up password, to be changed at first login, where
    TOTP enrolment is also forced. Returns the user and the one-time password."""
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise UserInputError("Brugernavnet må kun indeholde bogstaver, tal, punktum og bindestreg.")
    if len(username) > 64:
        raise UserInputError("Brugernavnet må højst have 64 tegn.")
    if not display_name.strip() or len(display_name) > 200:
        raise UserInputError("Navnet skal udfyldes (højst 200 tegn).")
    if role not in {r.value for r in Role}:
        raise UserInputError("Ukendt rolle.")
    if repo.organisation_by_id(session, organisation_id) is None:
        raise UserInputError("Ukendt organisation.")
    if repo.user_by_username(session, username) is not None:
        raise UserInputError("Brugernavnet er optaget.")
    password = one_time_password()
    now = deps.clock.now()
    user = User(
        organisation_id=organisation_id,
        username=username,
        display_name=display_name.strip(),
        role=role,
        password_hash=hash_password(password),
        must_change_password=True,
        is_active=True,
        password_failures=0,
        password_lockouts=0,
        code_failures=0,
        needs_admin_unlock=False,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    deps.audit.record(
        session,
        actor,
        action="user.created",
        outcome="success",
        resource_type="user",
        resource_id=str(user.id),
        details={"before": None, "after": user.snapshot()},
        organisation_id=organisation_id,
    )
    return user, password


def bootstrap_admin(
    session: Session, deps: IdentityDeps, actor: Actor, username: str = "admin"
) -> tuple[User, str] | None:
    """Create the first administrator if there is none; None if one exists."""
    if repo.count_administrators(session) > 0:
        return None
    org = repo.organisation_by_name(session, deps.settings.bootstrap_organisation)
    if org is None:
        org = create_organisation(session, deps, actor, deps.settings.bootstrap_organisation)
    return create_user(
        session,
        deps,
        actor,
        organisation_id=org.id,
        username=username,
        display_name="Administrator",
        role=Role.ADMINISTRATOR.value,
    )


def unlock_user(
    session: Session, deps: IdentityDeps, actor: Actor, user: User, reason: str
) -> None:
    """An administrator ends a lockout; the reason is required and audited."""
    reason = reason.strip()
    if len(reason) < 3 or len(reason) > 200:
        raise UserInputError("Angiv en begrundelse for oplåsningen (3-200 tegn).")
    before = user.snapshot() | {"locked_until": _iso(user.locked_until)}
    user.needs_admin_unlock = False
    user.locked_until = None
    user.code_failures = 0
    user.password_failures = 0
    user.password_failure_window_start = None
    user.updated_at = deps.clock.now()
    session.flush()
    deps.audit.record(
        session,
        actor,
        action="user.unlocked",
        outcome="success",
        resource_type="user",
        resource_id=str(user.id),
        reason=reason,
        details={"before": before, "after": user.snapshot() | {"locked_until": None}},
        organisation_id=user.organisation_id,
    )


def change_user(
    session: Session,
    deps: IdentityDeps,
    actor: Actor,
    user: User,
    *,
    reason: str,
    role: str | None = None,
    active: bool | None = None,
) -> None:
    """Change a user's role or deactivate/reactivate them, with a reason. The audit event
    holds the state before and after, so the DPO can answer "who could see what on a
    given day". A changed or deactivated account's sessions end at once."""
    reason = reason.strip()
    if len(reason) < 3 or len(reason) > 200:
        raise UserInputError("Angiv en begrundelse for ændringen (3-200 tegn).")
    if role is not None and role not in {r.value for r in Role}:
        raise UserInputError("Ukendt rolle.")
    before = user.snapshot()
    if role is not None and role != user.role:
        user.role = role
        action = "user.role_changed"
    elif active is not None and active != user.is_active:
        user.is_active = active
        action = "user.reactivated" if active else "user.deactivated"
    else:
        raise UserInputError("Ændringen ændrer ikke noget.")
    now = deps.clock.now()
    user.updated_at = now
    repo.end_all_sessions(session, user.id, now, action)
    session.flush()
    deps.audit.record(
        session,
        actor,
        action=action,
        outcome="success",
        resource_type="user",
        resource_id=str(user.id),
        reason=reason,
        details={"before": before, "after": user.snapshot()},
        organisation_id=user.organisation_id,
    )


def ensure_key_check(session: Session, crypto: Crypto, clock: Clock) -> bool:
    """Store the key check values once; True if they were written now."""
    if repo.key_check(session) is not None:
        return False
    sealed, index_check, signing_check = crypto.key_check_values()
    session.add(
        KeyCheck(
            id=1,
            master_check=sealed,
            index_check=index_check,
            signing_check=signing_check,
            created_at=clock.now(),
        )
    )
    session.flush()
    return True


# --- login ------------------------------------------------------------------------------


def _is_locked(user: User, now: datetime) -> bool:
    return user.needs_admin_unlock or (user.locked_until is not None and user.locked_until > now)


def unknown_username_label(deps: IdentityDeps, username: str) -> str:
    """What the audit log says for a username that matches no account: a keyed hash, so
    repeated attempts on one name group together (alerts) but a password typed into the
    username field is never stored."""
    return "?" + deps.crypto.unknown_username_hash(username)[:16]


def _fail(
    session: Session,
    deps: IdentityDeps,
    actor: Actor,
    user: User | None,
    *,
    action: str,
    reason: str,
    username: str,
) -> LoginFailed:
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
    )
    return LoginFailed(reason)


def begin_login(
    session: Session, deps: IdentityDeps, actor: Actor, username: str, password: str
) -> IssuedSession:
    """First factor. On success a pending session awaits the code (or enrolment)."""
    now = deps.clock.now()
    s = deps.settings
    user = repo.user_by_username(session, username) if username.strip() else None
    if user is None or not user.is_active:
        verify_password(None, password)  # same work as for a real user
        raise _fail(
            session,
            deps,
            actor,
            user,
            action="login.password_failed",
            reason="unknown user" if user is None else "inactive user",
            username=username,
        )
    if _is_locked(user, now):
        verify_password(None, password)
        raise _fail(
            session,
            deps,
            actor,
            user,
            action="login.password_failed",
            reason="account locked",
            username=username,
        )
    if not verify_password(user.password_hash, password):
        window = timedelta(minutes=s.password_failure_window_minutes)
        if user.password_failure_window_start is None or (
            now - user.password_failure_window_start > window
        ):
            user.password_failures = 0
            user.password_failure_window_start = now
        user.password_failures += 1
        failed = _fail(
            session,
            deps,
            actor,
            user,
            action="login.password_failed",
            reason="wrong password",
            username=username,
        )
        if user.password_failures >= s.password_failure_limit:
            waits = s.password_lockout_minutes
            wait = waits[min(user.password_lockouts, len(waits) - 1)]
            user.locked_until = now + timedelta(minutes=wait)
            user.password_lockouts += 1
            user.password_failures = 0
            user.password_failure_window_start = None
            repo.end_pending_sessions(session, user.id, now, "locked")
            deps.audit.record(
                session,
                actor.as_user(user.id, user.username, user.organisation_id),
                action="login.locked",
                outcome="failure",
                resource_type="user",
                resource_id=str(user.id),
                reason="password failures",
                details={"minutes": wait, "lockout_number": user.password_lockouts},
            )
        user.updated_at = now
        session.flush()
        raise failed
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if user.totp_secret_sealed is not None:
        stage = SessionStage.NEEDS_CODE
    elif user.must_change_password:
        stage = SessionStage.NEEDS_PASSWORD_CHANGE
    else:
        stage = SessionStage.NEEDS_ENROLMENT
    issued = _new_session(
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


def _new_session(
    session: Session,
    deps: IdentityDeps,
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


def pending_session(
    session: Session, deps: IdentityDeps, token: str | None, stage: SessionStage
) -> tuple[UserSession, User] | None:
    """The half-finished login at ``stage``, if the token names a live one."""
    if not token:
        return None
    row = repo.session_by_id(session, token_hash(token))
    now = deps.clock.now()
    if row is None or row.ended_at is not None or row.stage != stage.value or row.expires_at <= now:
        return None
    user = repo.user_by_id(session, row.user_id)
    if user is None or not user.is_active or _is_locked(user, now):
        return None
    return row, user


def _code_failure(
    session: Session, deps: IdentityDeps, actor: Actor, user: User, row: UserSession, reason: str
) -> LoginFailed:
    now = deps.clock.now()
    user.code_failures += 1
    user.updated_at = now
    failed = _fail(
        session,
        deps,
        actor,
        user,
        action="login.code_failed",
        reason=reason,
        username=user.username,
    )
    if user.code_failures >= deps.settings.code_failure_limit:
        user.needs_admin_unlock = True
        repo.end_pending_sessions(session, user.id, now, "locked")
        deps.audit.record(
            session,
            actor.as_user(user.id, user.username, user.organisation_id),
            action="login.locked",
            outcome="failure",
            resource_type="user",
            resource_id=str(user.id),
            reason="code failures",
            details={"until": "administrator unlocks"},
        )
    session.flush()
    return failed


def _accept_step(user: User, step: int) -> None:
    user.totp_last_step = step


def submit_code(
    session: Session, deps: IdentityDeps, actor: Actor, row: UserSession, user: User, code: str
) -> IssuedSession:
    """Second factor: a TOTP code, or a one-time recovery code."""
    now = deps.clock.now()
    code = code.strip()
    who = actor.as_user(user.id, user.username, user.organisation_id)
    if "-" in code or len(code) > 8:
        recovery = repo.unused_recovery_code(
            session, user.id, deps.crypto.recovery_code_hash(user.id, code.lower())
        )
        if recovery is None:
            raise _code_failure(session, deps, actor, user, row, "wrong recovery code")
        recovery.used_at = now
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
            raise _code_failure(session, deps, actor, user, row, "no authenticator enrolled")
        secret = deps.crypto.open_totp_secret(user.id, user.totp_secret_sealed)
        check = totp.check_code(secret, code, at=now, last_step=user.totp_last_step)
        if check.replay:
            deps.audit.record(
                session,
                who,
                action="security.totp_replay",
                outcome="failure",
                resource_type="user",
                resource_id=str(user.id),
                reason="code for an already used time step",
            )
        if not check.accepted:
            raise _code_failure(
                session, deps, actor, user, row, "replayed code" if check.replay else "wrong code"
            )
        _accept_step(user, check.step if check.step is not None else 0)
    if user.must_change_password:
        row.stage = SessionStage.NEEDS_PASSWORD_CHANGE.value
        session.flush()
        return IssuedSession("", row)
    return _activate(session, deps, actor, row, user)


def _activate(
    session: Session, deps: IdentityDeps, actor: Actor, row: UserSession, user: User
) -> IssuedSession:
    """Both factors done: a fresh session id (no fixation), full lifetime."""
    now = deps.clock.now()
    row.ended_at = now
    row.end_reason = "rotated"
    user.code_failures = 0
    user.password_failures = 0
    user.password_lockouts = 0
    user.password_failure_window_start = None
    user.updated_at = now
    issued = _new_session(
        session,
        deps,
        user,
        SessionStage.ACTIVE,
        actor.source_ip,
        lifetime=timedelta(hours=deps.settings.session_absolute_hours),
    )
    issued.row.mfa_at = now
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
    deps: IdentityDeps,
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
    return _activate(session, deps, actor, row, user)


def enrolment_secret(session: Session, deps: IdentityDeps, row: UserSession, user: User) -> str:
    """The secret being enrolled: made once per pending login, kept sealed in the session."""
    if row.pending_totp_sealed is None:
        row.pending_totp_sealed = deps.crypto.seal_totp_secret(user.id, totp.new_secret())
        session.flush()
    return deps.crypto.open_totp_secret(user.id, row.pending_totp_sealed)


def confirm_enrolment(
    session: Session, deps: IdentityDeps, actor: Actor, row: UserSession, user: User, code: str
) -> list[str]:
    """A first valid code confirms the authenticator; returns fresh recovery codes, shown once."""
    now = deps.clock.now()
    secret = enrolment_secret(session, deps, row, user)
    check = totp.check_code(secret, code, at=now, last_step=None)
    if not check.accepted or check.step is None:
        raise _code_failure(session, deps, actor, user, row, "wrong enrolment code")
    user.totp_secret_sealed = row.pending_totp_sealed
    user.totp_enrolled_at = now
    _accept_step(user, check.step)
    row.pending_totp_sealed = None
    row.stage = SessionStage.SHOW_RECOVERY_CODES.value
    repo.delete_recovery_codes(session, user.id)
    codes = [
        "-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(5)) for _ in range(2))
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
    session: Session, deps: IdentityDeps, actor: Actor, row: UserSession, user: User
) -> IssuedSession:
    return _activate(session, deps, actor, row, user)


# --- active sessions --------------------------------------------------------------------


@dataclass(frozen=True)
class SessionLookup:
    row: UserSession | None
    user: User | None
    expired: bool = False
    expired_id: str | None = None
    expired_reason: str | None = None


def active_session(session: Session, deps: IdentityDeps, token: str | None) -> SessionLookup:
    """The live, MFA-complete session the token names; ends it if idle or too old."""
    if not token:
        return SessionLookup(None, None)
    row = repo.session_by_id(session, token_hash(token))
    if row is None or row.ended_at is not None or row.stage != SessionStage.ACTIVE.value:
        return SessionLookup(None, None)
    now = deps.clock.now()
    idle = timedelta(minutes=deps.settings.session_idle_minutes)
    reason = None
    if row.expires_at <= now:
        reason = "absolute timeout"
    elif now - row.last_seen_at > idle:
        reason = "idle timeout"
    user = repo.user_by_id(session, row.user_id)
    if reason is None and (user is None or not user.is_active):
        reason = "user deactivated"
    if reason is not None:
        # Not ended here: the request is refused and rolled back; the caller ends it in the
        # transaction that records the refusal (``end_session``).
        return SessionLookup(None, None, expired=True, expired_id=row.id, expired_reason=reason)
    if row.mfa_at is None:
        return SessionLookup(None, None)
    row.last_seen_at = now
    session.flush()
    return SessionLookup(row, user)


def end_session(session: Session, deps: IdentityDeps, session_id: str, reason: str) -> None:
    row = repo.session_by_id(session, session_id)
    if row is not None and row.ended_at is None:
        row.ended_at = deps.clock.now()
        row.end_reason = reason
        session.flush()


def logout(session: Session, deps: IdentityDeps, actor: Actor, row: UserSession) -> None:
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


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- API tokens -------------------------------------------------------------------------

API_TOKEN_PREFIX = "cst_"  # noqa: S105 - a public prefix, not a secret
API_TOKEN_MAX_DAYS = 365


def create_api_token(
    session: Session,
    deps: IdentityDeps,
    actor: Actor,
    *,
    user: User,
    label: str,
    scopes: list[str],
    valid_days: int,
) -> str:
    """A bearer token for a system client acting as ``user`` with only ``scopes``; returned
    once, stored as a hash. Expires after ``valid_days`` (at most a year)."""
    label = label.strip()
    if not label or len(label) > 100:
        raise UserInputError("Giv nøglen et navn (højst 100 tegn).")
    if not 1 <= valid_days <= API_TOKEN_MAX_DAYS:
        raise UserInputError(f"Gyldighed skal være 1-{API_TOKEN_MAX_DAYS} dage.")
    if user.role != Role.REFERRER.value:
        raise UserInputError("API-nøgler udstedes kun til henvisere (praksissystemer).")
    if not scopes:
        raise UserInputError("Vælg mindst én tilladelse.")
    token = API_TOKEN_PREFIX + new_token(32)
    now = deps.clock.now()
    row = ApiToken(
        token_hash=token_hash(token),
        label=label,
        user_id=user.id,
        scopes=" ".join(scopes),
        created_at=now,
        created_by=actor.user_id or 0,
        expires_at=now + timedelta(days=valid_days),
    )
    session.add(row)
    session.flush()
    deps.audit.record(
        session,
        actor,
        action="api_token.created",
        outcome="success",
        resource_type="user",
        resource_id=str(user.id),
        organisation_id=user.organisation_id,
        details={
            "before": None,
            "after": {
                "token": row.id,
                "label": label,
                "scopes": scopes,
                "expires_at": row.expires_at.isoformat(),
            },
        },
    )
    return token


@dataclass(frozen=True)
class TokenLookup:
    user: User | None
    token: ApiToken | None
    reason: str


def api_token_user(session: Session, deps: IdentityDeps, bearer: str) -> TokenLookup:
    """The user a live token acts as, or why it does not."""
    if not bearer.startswith(API_TOKEN_PREFIX):
        return TokenLookup(None, None, "malformed token")
    row = repo.api_token_by_hash(session, token_hash(bearer))
    now = deps.clock.now()
    if row is None:
        return TokenLookup(None, None, "unknown token")
    if row.revoked_at is not None:
        return TokenLookup(None, row, "revoked token")
    if row.expires_at <= now:
        return TokenLookup(None, row, "expired token")
    user = repo.user_by_id(session, row.user_id)
    if user is None or not user.is_active:
        return TokenLookup(None, row, "token user inactive")
    row.last_used_at = now
    session.flush()
    return TokenLookup(user, row, "ok")


def step_up(
    session: Session, deps: IdentityDeps, actor: Actor, user: User, code: str, purpose: str
) -> None:
    """A fresh second factor for one weighty action (pilot-end deletion, approving an
    extract): a TOTP code for a time step after the last one used; recovery codes do not
    count. Success is audited with the action, in its transaction; a wrong or replayed
    code raises StepUpFailed, whose audit event the request handler records alone after
    rolling the action back."""
    now = deps.clock.now()
    replay = False
    if user.totp_secret_sealed is not None and code.strip().isdigit():
        secret = deps.crypto.open_totp_secret(user.id, user.totp_secret_sealed)
        check = totp.check_code(secret, code.strip(), at=now, last_step=user.totp_last_step)
        replay = check.replay
        if check.accepted:
            _accept_step(user, check.step if check.step is not None else 0)
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
    raise StepUpFailed(
        user_id=user.id, purpose=purpose, reason="replayed code" if replay else "wrong code"
    )


def record_step_up_failure(
    session: Session, deps: IdentityDeps, actor: Actor, failed: StepUpFailed
) -> None:
    """The audit event of a failed step-up; it also counts as a code failure toward the
    lockout, like a wrong code at login."""
    user = repo.user_by_id(session, failed.user_id)
    if user is not None:
        user.code_failures += 1
        user.updated_at = deps.clock.now()
        if user.code_failures >= deps.settings.code_failure_limit:
            user.needs_admin_unlock = True
    deps.audit.record(
        session,
        actor,
        action="login.step_up",
        outcome="failure",
        resource_type="user",
        resource_id=str(failed.user_id),
        reason=failed.reason,
        details={"purpose": failed.purpose},
    )

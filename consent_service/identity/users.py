"""Organisations and users: creating them, changing a role, deactivating, unlocking.

Every function takes the database session first, flushes, never commits, and records
its audit events in the same transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.clock import Clock
from consent_service.crypto import Crypto
from consent_service.identity import lockout, organisations
from consent_service.identity import repository as repo
from consent_service.identity.errors import UserInputError
from consent_service.identity.login import RECOVERY_ALPHABET
from consent_service.identity.models import KeyCheck, Organisation, Role, User
from consent_service.identity.passwords import hash_password
from consent_service.services import ServiceDeps


def create_organisation(
    session: Session, deps: ServiceDeps, actor: Actor, name: str
) -> Organisation:
    """A new organisation with a unique name, audited (``organisations.create_organisation``:
    a bad name raises UserInputError, a taken one RuleRefusal)."""
    return organisations.create_organisation(session, deps, actor, name)


def user_in_organisation(session: Session, organisation_id: int, user_id: int) -> User | None:
    """The scoped loader of users: the user if they belong to ``organisation_id``, None for
    another organisation's id exactly as for an unknown one."""
    return repo.user_in_organisation(session, organisation_id, user_id)


def one_time_password() -> str:
    return "-".join("".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(5)) for _ in range(4))


def checked_new_user(username: str, display_name: str, role: str) -> str:
    """The rules a new user's name, display name and role follow, whether the user is made
    at once or proposed first; returns the user name as stored (trimmed, lower case)."""
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise UserInputError(
            "Brugernavnet må kun indeholde bogstaver, tal, punktum og bindestreg.", field="username"
        )
    if len(username) > 64:
        raise UserInputError("Brugernavnet må højst have 64 tegn.", field="username")
    if not display_name.strip() or len(display_name) > 200:
        raise UserInputError("Navnet skal udfyldes (højst 200 tegn).", field="display_name")
    if role not in {r.value for r in Role}:
        raise UserInputError("Ukendt rolle.", field="role")
    return username


def create_user(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    *,
    organisation_id: int,
    username: str,
    display_name: str,
    role: str,
) -> tuple[User, str]:
    """Create a user with a one-time set-up password, to be changed at first login, where
    TOTP enrolment is also forced. Returns the user and the one-time password."""
    username = checked_new_user(username, display_name, role)
    if repo.organisation_by_id(session, organisation_id) is None:
        raise UserInputError("Ukendt organisation.")
    if repo.user_by_username(session, username) is not None:
        raise UserInputError("Brugernavnet er optaget.", field="username")
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
    session: Session, deps: ServiceDeps, actor: Actor, username: str = "admin"
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


def unlock_user(session: Session, deps: ServiceDeps, actor: Actor, user: User, reason: str) -> None:
    """An administrator ends a lockout; the reason is required and audited."""
    reason = reason.strip()
    if len(reason) < 3 or len(reason) > 200:
        raise UserInputError("Angiv en begrundelse for oplåsningen (3-200 tegn).", field="reason")
    before = user.snapshot() | {"locked_until": _iso(user.locked_until)}
    lockout.end_code_lockout(user)
    lockout.end_password_lockout(user)
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


def check_role_change(user: User, *, role: str, reason: str) -> None:
    """The rules a role change follows before anyone is asked for a code: a known role
    other than the user's, an active user, a reason of 3-200 characters."""
    if role not in {r.value for r in Role}:
        raise UserInputError("Vælg en rolle.", field="role")
    if role == user.role:
        raise UserInputError("Brugeren har allerede den rolle.", field="role")
    if not user.is_active:
        raise UserInputError("Brugeren er deaktiveret. Genaktivér brugeren først.", field="role")
    reason = reason.strip()
    if len(reason) < 3 or len(reason) > 200:
        raise UserInputError("Angiv en begrundelse for rolleskiftet (3-200 tegn).", field="reason")


def change_user(
    session: Session,
    deps: ServiceDeps,
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
        raise UserInputError("Angiv en begrundelse for ændringen (3-200 tegn).", field="reason")
    if role is not None and role not in {r.value for r in Role}:
        raise UserInputError("Ukendt rolle.", field="role")
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


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def users_of(session: Session, organisation_id: int) -> Sequence[User]:
    """The organisation's users by user name, for its administration pages (account
    metadata only: no citizen's data)."""
    return repo.users_of_organisation(session, organisation_id)


def display_names(
    session: Session, organisation_id: int, user_ids: Iterable[int]
) -> dict[int, str]:
    """The display names of the organisation's users among ``user_ids``, by id, so pages
    name people instead of numbering them. An id that is not one of the organisation's
    users (0 for the service itself, another organisation's user) is left out: the page
    says who it was some other way."""
    wanted = set(user_ids)
    return {
        user.id: user.display_name
        for user in repo.users_of_organisation(session, organisation_id)
        if user.id in wanted
    }

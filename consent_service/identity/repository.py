"""The database queries of the identity domain (access proposals: ``proposal_query``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, case, func, or_, select, true, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.expression import bindparam

from consent_service.identity.models import (
    ApiToken,
    KeyCheck,
    Organisation,
    RecoveryCode,
    Role,
    User,
    UserSession,
)


def user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def user_by_id(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def user_in_organisation(session: Session, organisation_id: int, user_id: int) -> User | None:
    """The user with that id if they belong to ``organisation_id``; None for another
    organisation's user exactly as for an unknown id."""
    return session.scalar(
        select(User).where(User.id == user_id, User.organisation_id == organisation_id)
    )


def user_named_in_organisation(
    session: Session, organisation_id: int, username: str
) -> User | None:
    """The user of ``organisation_id`` with exactly that user name, or None."""
    return session.scalar(
        select(User).where(User.username == username, User.organisation_id == organisation_id)
    )


def users_of_organisation(session: Session, organisation_id: int) -> Sequence[User]:
    return session.scalars(
        select(User).where(User.organisation_id == organisation_id).order_by(User.username)
    ).all()


def organisation_by_name(session: Session, name: str) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.name == name))


def organisation_by_id(session: Session, organisation_id: int) -> Organisation | None:
    return session.get(Organisation, organisation_id)


def organisation_by_folded_name(session: Session, name: str) -> Organisation | None:
    """The organisation whose name is ``name`` regardless of case, or None."""
    return session.scalar(
        select(Organisation).where(func.lower(Organisation.name) == name.lower()).limit(1)
    )


def organisations_with_user_counts(
    session: Session, organisation_id: int | None = None
) -> list[tuple[Organisation, int]]:
    """Every organisation (or only ``organisation_id``) by name, with its number of users."""
    users = (
        select(User.organisation_id, func.count(User.id).label("users"))
        .group_by(User.organisation_id)
        .subquery()
    )
    stmt = (
        select(Organisation, func.coalesce(users.c.users, 0))
        .outerjoin(users, users.c.organisation_id == Organisation.id)
        .order_by(Organisation.name)
    )
    if organisation_id is not None:
        stmt = stmt.where(Organisation.id == organisation_id)
    return [
        (cast(Organisation, org), int(cast(int, count)))
        for org, count in session.execute(stmt).all()
    ]


def all_organisations(session: Session) -> Sequence[Organisation]:
    return session.scalars(select(Organisation).order_by(Organisation.name)).all()


def count_administrators(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(User).where(User.role == Role.ADMINISTRATOR.value)
        )
        or 0
    )


def session_by_id(session: Session, session_id: str) -> UserSession | None:
    return session.get(UserSession, session_id)


_SESSION_WITH_USER = (  # built once (``db.py``: statements built once per process)
    select(UserSession, User)
    .outerjoin(User, User.id == UserSession.user_id)
    .where(UserSession.id == bindparam("session_id"))
)


def session_with_user(session: Session, session_id: str) -> tuple[UserSession, User | None] | None:
    """The session row and its user in one query: everything a request's authentication
    and permission check read (the user's role, organisation, active and lock state)."""
    found = session.execute(_SESSION_WITH_USER, {"session_id": session_id}).first()
    return (found[0], found[1]) if found is not None else None


def end_pending_sessions(session: Session, user_id: int, now: datetime, reason: str) -> None:
    session.execute(
        update(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.ended_at.is_(None),
            UserSession.stage != "active",
        )
        .values(ended_at=now, end_reason=reason)
    )


def end_other_sessions(
    session: Session, user_id: int, keep: str, now: datetime, reason: str
) -> None:
    """End every open session of the user but ``keep`` (the one asking)."""
    session.execute(
        update(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.ended_at.is_(None),
            UserSession.id != keep,
        )
        .values(ended_at=now, end_reason=reason)
    )


def end_all_sessions(session: Session, user_id: int, now: datetime, reason: str) -> None:
    """End every open session of the user, pending and active. A session row that a
    request of the user holds locked right now (it updates ``last_seen_at``) is skipped
    rather than waited for: that request may itself wait for the user row this
    transaction holds (a step-up), which would deadlock. The skipped session is dead all
    the same: ``sessions.active_session`` refuses a locked or inactive user's session and
    ends it on its next request."""
    open_ids = (
        select(UserSession.id)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .with_for_update(skip_locked=True)
    )
    session.execute(
        update(UserSession)
        .where(UserSession.id.in_(open_ids))
        .values(ended_at=now, end_reason=reason),
        execution_options={"synchronize_session": "fetch"},
    )


def _unlocked(now: datetime) -> ColumnElement[bool]:
    """The row is not locked: no administrator unlock pending, no password lockout running."""
    return and_(
        User.needs_admin_unlock.is_(False),
        or_(User.locked_until.is_(None), User.locked_until <= now),
    )


def _update(session: Session, stmt: Any) -> CursorResult[Any]:
    # Core-style UPDATE through the session (its transaction, after an autoflush); the
    # caller copies what it needs into the loaded object from RETURNING.
    return cast(
        CursorResult[Any],
        session.execute(stmt, execution_options={"synchronize_session": False}),
    )


def _returned(result: CursorResult[Any]) -> tuple[Any, ...] | None:
    """The one row a statement's RETURNING gave, or None if it matched no row."""
    row = result.first()
    return None if row is None else tuple(row)


def _sync(user: User | None, **values: Any) -> None:
    """Bring a loaded user up to date with what a statement wrote, as if loaded so."""
    if user is not None:
        for name, value in values.items():
            set_committed_value(user, name, value)


# Atomic counters and checks. Each is ONE statement: PostgreSQL takes the row lock, and a
# concurrent statement on the same row waits for the commit and then re-checks its WHERE
# against the committed row (READ COMMITTED), so no two requests read the same old value.
# The row lock is held to the end of the transaction, so what the caller does next for
# the same user (lock the account) is serialised too. SQLite serialises every writer.


def accept_totp_step(
    session: Session, user: User, step: int, now: datetime, *, first: bool = False
) -> bool:
    """Record ``step`` as the last used TOTP step if it is later than the last one and the
    account is not locked; False for a replay (or a lock that came first). ``first``: the
    enrolment's first code, accepted whatever step an earlier secret used."""
    later = true() if first else or_(User.totp_last_step.is_(None), User.totp_last_step < step)
    result = _update(
        session,
        update(User)
        .where(User.id == user.id, later, _unlocked(now))
        .values(totp_last_step=step, updated_at=now),
    )
    if result.rowcount != 1:
        return False
    _sync(user, totp_last_step=step, updated_at=now)
    return True


def count_code_failure(session: Session, user: User, now: datetime, limit: int) -> int | None:
    """One more wrong code; reaching ``limit`` sets ``needs_admin_unlock`` in the same
    statement. Returns the new count, or None if the account was locked already (a failure
    of a locked account is not counted: exactly ``limit`` are)."""
    result = _update(
        session,
        update(User)
        .where(User.id == user.id, _unlocked(now))
        .values(
            code_failures=User.code_failures + 1,
            needs_admin_unlock=User.code_failures + 1 >= limit,
            updated_at=now,
        )
        .returning(User.code_failures, User.needs_admin_unlock),
    )
    row = _returned(result)
    if row is None:
        return None
    _sync(user, code_failures=row[0], needs_admin_unlock=row[1], updated_at=now)
    return int(row[0])


def count_password_failure(
    session: Session, user: User, now: datetime, window_start_after: datetime
) -> tuple[int, int] | None:
    """One more wrong password, restarting the count if the window began before
    ``window_start_after`` (a CASE in the statement). Returns (failures in the window,
    lockouts so far), or None if the account is locked (not counted)."""
    stale = or_(
        User.password_failure_window_start.is_(None),
        User.password_failure_window_start < window_start_after,
    )
    result = _update(
        session,
        update(User)
        .where(User.id == user.id, _unlocked(now))
        .values(
            password_failures=case((stale, 1), else_=User.password_failures + 1),
            password_failure_window_start=case(
                (stale, now), else_=User.password_failure_window_start
            ),
            updated_at=now,
        )
        .returning(
            User.password_failures, User.password_failure_window_start, User.password_lockouts
        ),
    )
    row = _returned(result)
    if row is None:
        return None
    _sync(user, password_failures=row[0], password_failure_window_start=row[1], updated_at=now)
    return int(row[0]), int(row[2])


def lock_user(session: Session, user: User, now: datetime, locked_until: datetime | None) -> int:
    """Lock the account until an administrator unlocks it (``locked_until`` None), or
    until ``locked_until``, counting a password lockout and restarting the password count.
    Returns the number of password lockouts so far."""
    values: dict[str, Any] = {"updated_at": now}
    if locked_until is None:
        values["needs_admin_unlock"] = True
    else:
        values |= {
            "locked_until": locked_until,
            "password_lockouts": User.password_lockouts + 1,
            "password_failures": 0,
            "password_failure_window_start": None,
        }
    row = _returned(
        _update(
            session,
            update(User)
            .where(User.id == user.id)
            .values(**values)
            .returning(User.password_lockouts),
        )
    )
    if row is None:
        raise LookupError(f"user {user.id} is gone")
    _sync(
        user,
        password_lockouts=row[0],
        **{k: v for k, v in values.items() if k != "password_lockouts"},
    )
    return int(row[0])


def use_recovery_code(session: Session, code_id: int, now: datetime) -> bool:
    """Mark a recovery code used; False if a concurrent request used it first."""
    result = _update(
        session,
        update(RecoveryCode)
        .where(RecoveryCode.id == code_id, RecoveryCode.used_at.is_(None))
        .values(used_at=now),
    )
    return result.rowcount == 1


def unused_recovery_code(session: Session, user_id: int, code_hash: str) -> RecoveryCode | None:
    return session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == code_hash,
            RecoveryCode.used_at.is_(None),
        )
    )


def delete_recovery_codes(session: Session, user_id: int) -> None:
    for code in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user_id)):
        session.delete(code)


def key_check(session: Session) -> KeyCheck | None:
    return session.get(KeyCheck, 1)


def api_token_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    return session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))


_API_TOKEN_WITH_USER = (  # built once, as _SESSION_WITH_USER
    select(ApiToken, User)
    .outerjoin(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def api_token_with_user(session: Session, token_hash: str) -> tuple[ApiToken, User | None] | None:
    """The token and the user it acts as, in one query (``session_with_user`` for tokens)."""
    found = session.execute(_API_TOKEN_WITH_USER, {"token_hash": token_hash}).first()
    return (found[0], found[1]) if found is not None else None


def api_tokens_of_organisation(session: Session, organisation_id: int) -> Sequence[ApiToken]:
    return session.scalars(
        select(ApiToken)
        .join(User, User.id == ApiToken.user_id)
        .where(User.organisation_id == organisation_id)
        .order_by(ApiToken.created_at.desc())
    ).all()


def api_token_in_organisation(
    session: Session, organisation_id: int, token_id: int
) -> ApiToken | None:
    """The API token with that id if its user belongs to ``organisation_id``; None for
    another organisation's token exactly as for an unknown id."""
    return session.scalar(
        select(ApiToken)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.id == token_id, User.organisation_id == organisation_id)
    )

"""All database queries of the identity domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

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


def users_of_organisation(session: Session, organisation_id: int) -> Sequence[User]:
    return session.scalars(
        select(User).where(User.organisation_id == organisation_id).order_by(User.username)
    ).all()


def organisation_by_name(session: Session, name: str) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.name == name))


def organisation_by_id(session: Session, organisation_id: int) -> Organisation | None:
    return session.get(Organisation, organisation_id)


def count_administrators(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(User).where(User.role == Role.ADMINISTRATOR.value)
        )
        or 0
    )


def session_by_id(session: Session, session_id: str) -> UserSession | None:
    return session.get(UserSession, session_id)


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


def end_all_sessions(session: Session, user_id: int, now: datetime, reason: str) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )


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


def api_tokens_of_organisation(session: Session, organisation_id: int) -> Sequence[ApiToken]:
    return session.scalars(
        select(ApiToken)
        .join(User, User.id == ApiToken.user_id)
        .where(User.organisation_id == organisation_id)
        .order_by(ApiToken.created_at.desc())
    ).all()

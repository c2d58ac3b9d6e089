from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consent_service.access.roles import Role as Role
from consent_service.db import Base, UtcDateTime


class Organisation(Base):
    """A data-controlling authority; its data never leaves it."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    totp_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    password_failures: Mapped[int] = mapped_column(Integer, default=0)
    password_failure_window_start: Mapped[datetime | None] = mapped_column(
        UtcDateTime, nullable=True
    )
    password_lockouts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    code_failures: Mapped[int] = mapped_column(Integer, default=0)
    needs_admin_unlock: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    organisation: Mapped[Organisation] = relationship(lazy="raise")

    def snapshot(self) -> dict[str, object]:
        """The access-relevant state, for before/after audit records."""
        return {
            "username": self.username,
            "role": self.role,
            "organisation_id": self.organisation_id,
            "is_active": self.is_active,
            "mfa_enrolled": self.totp_secret_sealed is not None,
            "needs_admin_unlock": self.needs_admin_unlock,
        }


class RecoveryCode(Base):
    """One-time recovery codes, stored as keyed hashes."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class SessionStage(enum.StrEnum):
    NEEDS_CODE = "needs_code"
    NEEDS_PASSWORD_CHANGE = "needs_password_change"  # noqa: S105 - a stage name
    NEEDS_ENROLMENT = "needs_enrolment"
    SHOW_RECOVERY_CODES = "show_recovery_codes"
    ACTIVE = "active"


class UserSession(Base):
    """Server-side session; the cookie holds a random token, the table only its hash."""

    __tablename__ = "user_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(32))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    mfa_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    pending_totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    source_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


class KeyCheck(Base):
    """Check values proving the configured keys are the ones this database was made with."""

    __tablename__ = "key_check"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    master_check: Mapped[bytes] = mapped_column(LargeBinary)
    index_check: Mapped[str] = mapped_column(String(64))
    signing_check: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ApiToken(Base):
    """A scoped, expiring bearer token for a system client (a practice system submitting
    referrals), created by an administrator; only its hash is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    scopes: Mapped[str] = mapped_column(String(500))  # space-separated permissions
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ProposalKind(enum.StrEnum):
    CREATE_USER = "create_user"
    CHANGE_ROLE = "change_role"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a kind name
    RESET_SECOND_FACTOR = "reset_second_factor"


class ProposalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class AccessProposal(Base):
    """A change to who can reach citizens' data, or a credential reset, proposed by an
    administrator and applied only when a second person (a data controller of the same
    organisation) approves it with a fresh code. No password is ever stored here."""

    __tablename__ = "access_proposal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    target_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), nullable=True
    )
    username: Mapped[str | None] = mapped_column(String(64), nullable=True)
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str] = mapped_column(String(200))
    proposed_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    proposed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    decision_comment: Mapped[str | None] = mapped_column(String(200), nullable=True)
    delivery: Mapped[str | None] = mapped_column(String(16), nullable=True)

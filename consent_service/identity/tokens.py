"""Scoped, expiring API tokens for system clients (practice systems submitting referrals)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.crypto import new_token, token_hash
from consent_service.errors import RuleRefusal
from consent_service.identity import repository as repo
from consent_service.identity import touch_query as touch
from consent_service.identity.errors import UserInputError
from consent_service.identity.models import ApiToken, Role, User
from consent_service.services import ServiceDeps

API_TOKEN_PREFIX = "cst_"  # noqa: S105 - a public prefix, not a secret
API_TOKEN_MAX_DAYS = 365


def create_api_token(
    session: Session,
    deps: ServiceDeps,
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
        raise UserInputError("Giv nøglen et navn (højst 100 tegn).", field="label")
    if not 1 <= valid_days <= API_TOKEN_MAX_DAYS:
        raise UserInputError(
            f"Gyldighed skal være 1-{API_TOKEN_MAX_DAYS} dage.", field="valid_days"
        )
    if user.role != Role.REFERRER.value:
        raise UserInputError(
            "API-nøgler udstedes kun til henvisere (praksissystemer).", field="user_id"
        )
    if not may_hold_token(user):
        raise RuleRefusal(
            "Henviseren skal være aktiv og have logget ind og opsat to-faktor, før der kan "
            "udstedes en nøgle til dem."
        )
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


def api_token_in_organisation(
    session: Session, organisation_id: int, token_id: int
) -> ApiToken | None:
    """The scoped loader of API tokens: the token if its user belongs to
    ``organisation_id``, None for another organisation's id exactly as for an unknown one."""
    return repo.api_token_in_organisation(session, organisation_id, token_id)


def revoke_api_token(session: Session, deps: ServiceDeps, actor: Actor, token: ApiToken) -> None:
    """Revoke the token from now on, audited; a token already revoked stays as it is."""
    if token.revoked_at is not None:
        return
    token.revoked_at = deps.clock.now()
    session.flush()
    deps.audit.record(
        session,
        actor,
        action="api_token.revoked",
        outcome="success",
        resource_type="user",
        resource_id=str(token.user_id),
        details={"token": token.id, "before": {"revoked": False}, "after": {"revoked": True}},
    )


@dataclass(frozen=True)
class TokenLookup:
    user: User | None
    token: ApiToken | None
    reason: str


def token_expired(token: ApiToken, now: datetime) -> bool:
    """Whether the token has expired at ``now`` (it works until, not at, ``expires_at``)."""
    return token.expires_at <= now


def api_token_user(session: Session, deps: ServiceDeps, bearer: str) -> TokenLookup:
    """The user a live token acts as, or why it does not (token and user: one query)."""
    if not bearer.startswith(API_TOKEN_PREFIX):
        return TokenLookup(None, None, "malformed token")
    found = repo.api_token_with_user(session, token_hash(bearer))
    now = deps.clock.now()
    if found is None:
        return TokenLookup(None, None, "unknown token")
    row, user = found
    if row.revoked_at is not None:
        return TokenLookup(None, row, "revoked token")
    if token_expired(row, now):
        return TokenLookup(None, row, "expired token")
    if user is None or not user.is_active:
        return TokenLookup(None, row, "token user inactive")
    touch.touch_api_token(session, row, now)
    return TokenLookup(user, row, "ok")


def tokens_of(session: Session, organisation_id: int) -> Sequence[ApiToken]:
    """The API tokens of the organisation's users, newest first (hashes only)."""
    return repo.api_tokens_of_organisation(session, organisation_id)


def may_hold_token(user: User) -> bool:
    """Whether ``user`` may be issued an API token: an active referrer (a practice system
    submits referrals in their name) who has logged in and completed the second factor, so
    the account is known to be in its owner's hands."""
    return user.role == Role.REFERRER.value and user.is_active and user.totp_enrolled_at is not None


def token_holders(session: Session, organisation_id: int) -> list[User]:
    """Who may be issued an API token: the organisation's referrers who ``may_hold_token``."""
    return [u for u in repo.users_of_organisation(session, organisation_id) if may_hold_token(u)]

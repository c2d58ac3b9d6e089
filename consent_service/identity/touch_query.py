"""A session's "last seen" and an API token's "last used" stamps, written without holding
a lock through the request (issue 18)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from consent_service.identity.models import ApiToken, UserSession

# "Last seen" and "last used" bookkeeping is written at most this often, and never waited
# for: a request that finds the row locked by another request of the same session or token
# leaves the stamp to that one (SKIP LOCKED), so parallel requests never queue on it.
TOUCH_GRANULARITY = timedelta(minutes=1)


def touch_session(session: Session, row: UserSession, now: datetime) -> None:
    """Move the session's ``last_seen_at`` to ``now`` if it is a minute old or more and no
    other request holds the row; the lock is taken only when the stamp is written."""
    if now - row.last_seen_at < TOUCH_GRANULARITY:
        return
    free = (
        select(UserSession.id)
        .where(UserSession.id == row.id, UserSession.last_seen_at <= now - TOUCH_GRANULARITY)
        .with_for_update(skip_locked=True)
    )
    done = session.execute(
        update(UserSession).where(UserSession.id.in_(free)).values(last_seen_at=now),
        execution_options={"synchronize_session": False},
    )
    if cast(CursorResult[Any], done).rowcount:
        set_committed_value(row, "last_seen_at", now)


def touch_api_token(session: Session, row: ApiToken, now: datetime) -> None:
    """Like ``touch_session`` for an API token's ``last_used_at``."""
    if row.last_used_at is not None and now - row.last_used_at < TOUCH_GRANULARITY:
        return
    stale = or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - TOUCH_GRANULARITY)
    free = select(ApiToken.id).where(ApiToken.id == row.id, stale).with_for_update(skip_locked=True)
    done = session.execute(
        update(ApiToken).where(ApiToken.id.in_(free)).values(last_used_at=now),
        execution_options={"synchronize_session": False},
    )
    if cast(CursorResult[Any], done).rowcount:
        set_committed_value(row, "last_used_at", now)

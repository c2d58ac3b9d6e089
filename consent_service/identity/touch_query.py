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


def _stamp(session: Session, row: UserSession | ApiToken, column: str, now: datetime) -> None:
    """Move ``row``'s ``column`` to ``now`` if it is a minute old or more, or unset, and no
    other request holds the row; the lock is taken only when the stamp is written.

    The one difference between the two stamps is on purpose: a session is seen when it is
    created (``last_seen_at`` is never unset), a token may not have been used yet
    (``last_used_at`` is NULL until its first use), so an unset stamp counts as due."""
    last = getattr(row, column)
    if last is not None and now - last < TOUCH_GRANULARITY:
        return
    model = type(row)
    stamp = getattr(model, column)
    due = or_(stamp.is_(None), stamp <= now - TOUCH_GRANULARITY)
    free = select(model.id).where(model.id == row.id, due).with_for_update(skip_locked=True)
    done = session.execute(
        update(model).where(model.id.in_(free)).values({column: now}),
        execution_options={"synchronize_session": False},
    )
    if cast(CursorResult[Any], done).rowcount:
        set_committed_value(row, column, now)


def touch_session(session: Session, row: UserSession, now: datetime) -> None:
    """The session's ``last_seen_at`` (``_stamp``)."""
    _stamp(session, row, "last_seen_at", now)


def touch_api_token(session: Session, row: ApiToken, now: datetime) -> None:
    """The API token's ``last_used_at`` (``_stamp``)."""
    _stamp(session, row, "last_used_at", now)

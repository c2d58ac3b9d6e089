"""Time as a dependency: no rule reads the wall clock itself.

Legal dates (signing, expiry, referral) are local dates in Europe/Copenhagen;
instants (audit events, sessions) are aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

LEGAL_TZ = ZoneInfo("Europe/Copenhagen")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock for tests: it stands still until moved."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)


def legal_today(clock: Clock) -> date:
    """Today's date in Denmark, the date legal rules are stated in."""
    return clock.now().astimezone(LEGAL_TZ).date()

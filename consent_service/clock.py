"""Time as a dependency: no rule reads the wall clock itself.

Legal dates (signing, expiry, referral) are local dates in Europe/Copenhagen;
instants (audit events, sessions) are aware UTC datetimes.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

LEGAL_TZ = ZoneInfo("Europe/Copenhagen")
D = TypeVar("D", bound=date)  # a date or a datetime


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


def add_months(day: D, months: int) -> D:
    """The same day ``months`` later (a date or a datetime, time kept), or the last day of
    that month if it is shorter."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


# ``local_time``'s patterns, one strftime each (``%Z``: the zone's name, CET or CEST).
_TO_THE_MINUTE = "%d-%m-%Y kl. %H:%M (%Z)"
_WITH_SECONDS = "%d-%m-%Y kl. %H:%M:%S (%Z)"


def local_time(at: datetime, seconds: bool = False) -> str:
    """An instant as a person in Denmark reads it: the Danish date and the Copenhagen clock
    time with its zone, e.g. ``28-03-2027 kl. 03:15 (CEST)``."""
    return at.astimezone(LEGAL_TZ).strftime(_WITH_SECONDS if seconds else _TO_THE_MINUTE)


def local_date(at: datetime) -> str:
    """The Danish date (``dd-mm-åååå``) of an instant, as it was in Copenhagen."""
    return f"{at.astimezone(LEGAL_TZ):%d-%m-%Y}"

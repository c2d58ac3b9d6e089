"""The deadlines of a data-subject request, as pure functions of dates (no I/O).

GDPR art. 12(3): the controller answers within one month of receipt; the period may be
extended by two further months, and the citizen must be told of the extension, with the
reasons, within the first month. Months are counted as Regulation 1182/71 art. 3(2)(c)
counts them (``one_month_after``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from consent_service.clock import add_months


def months_after(day: date, months: int) -> date:
    """The same day number ``months`` later, or the last day of that month if it has no
    such day (Reg. 1182/71 art. 3(2)(c): received 31 January, one month ends on 28
    February, 29 in a leap year)."""
    return add_months(day, months)


def one_month_after(day: date) -> date:
    """The deadline of a request received on ``day`` (GDPR art. 12(3))."""
    return months_after(day, 1)


def latest_extended_deadline(deadline: date, max_extension_months: int) -> date:
    """The latest deadline an extension may set: ``max_extension_months`` further months
    counted from the original deadline (art. 12(3): "two further months")."""
    return months_after(deadline, max_extension_months)


def extension_refusal(
    *,
    is_open: bool,
    already_extended: bool,
    deadline: date,
    new_deadline: date,
    today: date,
    max_extension_months: int,
) -> str | None:
    """Why the extension cannot be registered (Danish), or None if it may.

    Art. 12(3): the citizen must be told within the first month, so an extension after the
    original deadline has passed is refused; the extension is at most two further months,
    and there is one extension (the two months are its limit)."""
    if not is_open:
        return "Anmodningen er afsluttet og kan ikke forlænges."
    if already_extended:
        return "Fristen er allerede forlænget én gang."
    if today > deadline:
        return (
            f"Fristen udløb {deadline:%d-%m-%Y}. En forlængelse skal meddeles borgeren inden "
            "for den første måned og kan ikke registreres bagefter."
        )
    if new_deadline <= deadline:
        return f"Den nye frist skal ligge efter den oprindelige frist {deadline:%d-%m-%Y}."
    latest = latest_extended_deadline(deadline, max_extension_months)
    if new_deadline > latest:
        return (
            f"Fristen kan højst forlænges med {max_extension_months} måneder, "
            f"dvs. til {latest:%d-%m-%Y}."
        )
    return None


@dataclass(frozen=True)
class Timing:
    """Where a request stands against its deadline on a day."""

    deadline: date
    overdue: bool  # open past the deadline, or answered after it
    days_left: int | None  # open: days until the deadline (0 on the day); closed: None

    def due_soon(self, warn_within_days: int) -> bool:
        """Open and due within ``warn_within_days`` days, or overdue."""
        return self.overdue or (self.days_left is not None and self.days_left <= warn_within_days)


def timing(deadline: date, answered_on: date | None, today: date) -> Timing:
    """A request with ``deadline`` (the extended one, if extended) on ``today``: an open
    request is overdue from the day after its deadline; an answered or refused one if it
    was answered after its deadline."""
    if answered_on is not None:
        return Timing(deadline, answered_on > deadline, None)
    return Timing(deadline, today > deadline, (deadline - today).days)

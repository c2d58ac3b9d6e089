"""The queries of the coverage overview: the consent gate on two days side by side (by
internal citizen id, for the keyed pseudonyms), the gate's counts, and the newest
measurement date override per cohort measurement."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.extracts import gate_query
from consent_service.extracts.models import MeasurementPlan
from consent_service.identity.models import User


def gate_then_and_now(
    session: Session, organisation_id: int, cohort: str, kind: str, planned_on: date, today: date
) -> list[Any]:
    """Per citizen of the cohort: (citizen id, reason on the planned day, reason today,
    valid until as read today); typed loosely (the columns are known here)."""
    then = gate_query.gate(organisation_id, cohort, kind, planned_on).subquery("then_")
    now = gate_query.gate(organisation_id, cohort, kind, today).subquery("now_")
    stmt = select(then.c.citizen_id, then.c.reason, now.c.reason, now.c.valid_until).join(
        now, now.c.citizen_id == then.c.citizen_id
    )
    return list(session.execute(stmt).all())


def gate_counts(
    session: Session, organisation_id: int, cohort: str, kind: str, on: date
) -> dict[str, int]:
    """Citizens of the cohort per gate reason on ``on`` (counts only): the statement and
    the plan an extract request's preview uses (``gate_query.reason_counts``)."""
    return gate_query.reason_counts(session, organisation_id, cohort, kind, on)


def measurement_plans(session: Session, organisation_id: int) -> list[tuple[MeasurementPlan, str]]:
    """The organisation's overrides, oldest first, each with the display name of the data
    controller who set it (empty if the user is gone)."""
    rows = session.execute(
        select(MeasurementPlan, User.display_name)
        .outerjoin(User, User.id == MeasurementPlan.set_by)
        .where(MeasurementPlan.organisation_id == organisation_id)
        .order_by(MeasurementPlan.id)
    ).all()
    return [(plan, name or "") for plan, name in rows]

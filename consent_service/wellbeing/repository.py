"""All database queries of wellbeing answers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.wellbeing.models import WellbeingResponse


def responses_of_citizen(session: Session, citizen_id: int) -> Sequence[WellbeingResponse]:
    """Every wellbeing answer the citizen has given, under any consent."""
    return session.scalars(
        select(WellbeingResponse).where(WellbeingResponse.citizen_id == citizen_id)
    ).all()

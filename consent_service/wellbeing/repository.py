"""All database queries of wellbeing answers and the data keys they are sealed under."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from consent_service.citizens.models import CitizenKey
from consent_service.consents.models import Consent
from consent_service.wellbeing.models import WellbeingResponse


def responses_of(session: Session, citizen_id: int) -> Sequence[WellbeingResponse]:
    """The citizen's answers, in the order they were answered."""
    return session.scalars(
        select(WellbeingResponse)
        .where(WellbeingResponse.citizen_id == citizen_id)
        .order_by(WellbeingResponse.answered_on, WellbeingResponse.id)
    ).all()


def consent_of(session: Session, response: WellbeingResponse) -> Consent | None:
    """The wellbeing consent the answers were given under."""
    return session.get(Consent, response.consent_id)


def answer_key(session: Session, citizen_id: int, purpose: str) -> CitizenKey | None:
    """The wrapped data key of one consent's answers, if not shredded."""
    return session.get(CitizenKey, (citizen_id, purpose))


def delete_answer_key(session: Session, citizen_id: int, purpose: str) -> None:
    """Destroy the data key of one consent's answers (crypto-shredding)."""
    session.execute(
        delete(CitizenKey).where(CitizenKey.citizen_id == citizen_id, CitizenKey.purpose == purpose)
    )


def delete_answers_under(session: Session, consent_id: int) -> int:
    """Delete the answers given under the consent; returns how many went."""
    result = session.execute(
        delete(WellbeingResponse).where(WellbeingResponse.consent_id == consent_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)

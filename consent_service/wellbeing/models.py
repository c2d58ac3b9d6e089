from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UtcDateTime


class WellbeingResponse(Base):
    """One answered questionnaire (baseline or follow-up). The answers are sealed under a
    data key of the wellbeing consent they were given under (``citizen_key`` purpose
    ``wellbeing:<consent public id>``): withdrawing that consent shreds exactly them."""

    __tablename__ = "wellbeing_response"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("consent.id"), index=True)
    occasion: Mapped[str] = mapped_column(String(16))  # baseline | follow_up
    answered_on: Mapped[date] = mapped_column(Date)
    answers_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[int] = mapped_column(Integer)

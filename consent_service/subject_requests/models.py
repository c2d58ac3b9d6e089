"""A citizen's request exercising a right (GDPR art. 15, 16, 17, 7(3), 21).

One row per request, in the organisation that received it. The free text (the reason for
an extension, the summary of the answer) may hold personal data: it is sealed under the
citizen's identity key (``citizens.vault``), so erasing the citizen shreds it; the row
itself (kind, dates, status) stays as evidence that the request was handled in time
(GDPR art. 5(2)). ``overdue_recorded_at`` marks that the worker recorded the missed
deadline (``subject_request.overdue``), so it is recorded once."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UtcDateTime


class SubjectRequest(Base):
    __tablename__ = "subject_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # policy.KINDS
    channel: Mapped[str] = mapped_column(String(16))  # policy.CHANNELS
    received_on: Mapped[date] = mapped_column(Date)
    deadline_on: Mapped[date] = mapped_column(Date)  # one month after receipt
    status: Mapped[str] = mapped_column(String(16))  # policy.STATUSES
    extended_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    extended_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    extension_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    answered_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    answer_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    registered_by: Mapped[int] = mapped_column(Integer)
    handled_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    overdue_recorded_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    @property
    def current_deadline(self) -> date:
        """The deadline in force: the extended one, if extended."""
        return self.extended_to or self.deadline_on

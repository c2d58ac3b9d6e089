"""Erasure proposals: one citizen's erasure, proposed with a reason and decided by a
data controller of the organisation who is not the proposer.

The row outlives the erasure it asks for: it is the record of who proposed what, why,
who decided, when, and with what comment. Its free-text note may name things about the
person, so it is sealed under the citizen's identity key (like ``citizen_change``):
carrying out the erasure destroys that key and empties the column, and the rest of the
row holds no personal data (the citizen by public id, people by user id)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UtcDateTime

PROPOSED = "proposed"
APPROVED = "approved"  # decided, not yet carried out (never left so: one transaction)
REJECTED = "rejected"
CANCELLED = "cancelled"
CARRIED_OUT = "carried_out"
STATUSES = (PROPOSED, APPROVED, REJECTED, CANCELLED, CARRIED_OUT)


class ErasureProposal(Base):
    """A proposal to erase one citizen, and its decision."""

    __tablename__ = "erasure_proposal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id"), index=True)
    reason: Mapped[str] = mapped_column(String(64))  # policies/erasure.yaml reasons
    note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # STATUSES
    proposed_by: Mapped[int] = mapped_column(Integer)
    proposed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    decision_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    # What the erasure removed, per category (JSON), set when it is carried out.
    deleted_rows: Mapped[str | None] = mapped_column(Text, nullable=True)

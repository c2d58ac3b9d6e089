from __future__ import annotations

from datetime import date

from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base


class EvidenceRetention(Base):
    """The first day each consent-evidence category (``EVIDENCE_CATEGORIES``) may be
    deleted, from ``retention/schedule.yaml``, for the database's own check in
    ``evidence_purge_expired`` (PostgreSQL). Written only by ``consent-service migrate``,
    which syncs it from the schedule; a category not listed is kept for good."""

    __tablename__ = "evidence_retention"

    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    delete_from: Mapped[date] = mapped_column(Date)

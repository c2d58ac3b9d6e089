"""The legal adviser's sign-offs of the rulebook and the recorded runs of its scenarios.
Appended, never changed: the newest sign-off is the one in force."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UtcDateTime


class RulebookApproval(Base):
    """A sign-off of the rulebook as it stood: who, when, why, and a digest over the
    SHA-256 of every file covered (``RulebookApprovedFile``)."""

    __tablename__ = "rulebook_approval"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    approved_at: Mapped[datetime] = mapped_column(UtcDateTime)
    approved_by: Mapped[int] = mapped_column(Integer)  # the legal adviser (a user id)
    organisation_id: Mapped[int] = mapped_column(Integer)  # the legal adviser's
    comment: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 over "path sha256\n" lines


class RulebookApprovedFile(Base):
    """One file as approved: its path, SHA-256 and text (rule files, features and consent
    texts are small and hold no personal data), so a later change shows as a diff."""

    __tablename__ = "rulebook_approved_file"
    __table_args__ = (Index("ix_rulebook_approved_file_approval", "approval_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    approval_id: Mapped[int] = mapped_column(ForeignKey("rulebook_approval.id"))
    path: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)


class RulebookVerification(Base):
    """One scenario's outcome in a run of the Danish scenarios against the installed
    service (``consent-service rules verify``): the code version and rule files' digest it
    ran with, and when."""

    __tablename__ = "rulebook_verification"
    __table_args__ = (Index("ix_rulebook_verification_scenario", "feature", "scenario"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(32))
    feature: Mapped[str] = mapped_column(String(200))
    scenario: Mapped[str] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(16))  # passed | failed
    code_version: Mapped[str] = mapped_column(String(100))
    rules_digest: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime] = mapped_column(UtcDateTime)

"""Queries of the rulebook's sign-offs and scenario runs."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consent_service.rulebook.models import (
    RulebookApproval,
    RulebookApprovedFile,
    RulebookVerification,
)


def latest_approval(session: Session) -> RulebookApproval | None:
    return session.scalars(
        select(RulebookApproval).order_by(RulebookApproval.id.desc()).limit(1)
    ).first()


def approved_files(session: Session, approval_id: int) -> list[RulebookApprovedFile]:
    return list(
        session.scalars(
            select(RulebookApprovedFile)
            .where(RulebookApprovedFile.approval_id == approval_id)
            .order_by(RulebookApprovedFile.path)
        )
    )


def last_passed(session: Session) -> dict[tuple[str, str], RulebookVerification]:
    """Each scenario's newest passing run, by (feature file, scenario name)."""
    newest = (
        select(func.max(RulebookVerification.id))
        .where(RulebookVerification.outcome == "passed")
        .group_by(RulebookVerification.feature, RulebookVerification.scenario)
    )
    rows = session.scalars(select(RulebookVerification).where(RulebookVerification.id.in_(newest)))
    return {(r.feature, r.scenario): r for r in rows}

"""Use cases over the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consent_service.audit.chain import GENESIS, ChainProblem, first_problem
from consent_service.audit.models import AuditCheckpoint, AuditPurge
from consent_service.audit.recorder import iter_records


def chain_start(session: Session) -> tuple[int, str]:
    """Where the kept chain starts: after the last purge, at its signed checkpoint's hash;
    at GENESIS if nothing was ever purged."""
    up_to = session.scalar(select(func.max(AuditPurge.up_to_seq)))
    if up_to is None:
        return 1, GENESIS
    anchor = session.scalar(select(AuditCheckpoint.hash).where(AuditCheckpoint.seq == up_to))
    if anchor is None:  # the foreign key makes this impossible; say so if it happens
        raise RuntimeError(f"purge up to {up_to} has no checkpoint")
    return up_to + 1, anchor


def verify_chain(session: Session) -> tuple[int, ChainProblem | None]:
    """Walk the kept chain from the database; return (events checked, first problem)."""
    seen = [0]
    start_seq, start_hash = chain_start(session)

    def counted() -> Iterator[dict[str, Any]]:
        for record in iter_records(session):
            seen[0] += 1
            yield record

    problem = first_problem(counted(), start_prev_hash=start_hash, start_seq=start_seq)
    return seen[0], problem

"""Use cases over the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from consent_service.audit.chain import ChainProblem, first_problem
from consent_service.audit.recorder import iter_records


def verify_chain(session: Session) -> tuple[int, ChainProblem | None]:
    """Walk the whole chain from the database; return (events checked, first problem)."""
    seen = [0]

    def counted() -> Iterator[dict[str, Any]]:
        for record in iter_records(session):
            seen[0] += 1
            yield record

    problem = first_problem(counted())
    return seen[0], problem

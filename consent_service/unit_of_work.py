"""Facts a use case records on its unit of work, acted on before the transaction commits.

A lower domain never calls a higher one. When a change must make another part of the
service act (a new consent re-plans the citizen's jobs), the service records a fact here
(``record(session, CitizenChanged(citizen.id))``) and returns. Whoever owns the
transaction gives its sessions a handler (``consent_service.handlers``, installed by
``AppContext.build``); just before the transaction commits, the handler is handed every
fact collected, in the same transaction, so the reaction commits with the change or not
at all. A fact recorded on a session that has no handler stops the commit, so no edge can
forget it. A rolled-back transaction forgets its facts.

This module imports nothing of the service: any layer may record a fact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

_FACTS = "consent_service.facts"
HANDLER = "consent_service.fact_handler"

# Rounds of handling before a commit: a handler may record new facts (at most one more
# round today); a loop that never settles is a bug, not a reason to spin.
MAX_ROUNDS = 5


@dataclass(frozen=True)
class CitizenChanged:
    """The citizen's referrals, consents or questionnaire answers changed: what depends
    on them (planned jobs, worklist tasks) must be brought up to date."""

    citizen_id: int


Fact = CitizenChanged
FactHandler = Callable[[Session, Sequence[Fact]], None]


def record(session: Session, fact: Fact) -> None:
    """Note ``fact`` on the session's unit of work (once, however often it is recorded)."""
    facts: list[Fact] = session.info.setdefault(_FACTS, [])
    if fact not in facts:
        facts.append(fact)


def pending(session: Session) -> tuple[Fact, ...]:
    """The facts recorded and not yet handled, in the order first recorded."""
    return tuple(session.info.get(_FACTS, ()))


def take(session: Session) -> list[Fact]:
    """Remove and return the facts recorded so far."""
    facts: list[Fact] = session.info.pop(_FACTS, [])
    return facts


def handle_pending(session: Session) -> None:
    """Hand the collected facts to the session's handler until none are left. Called by
    the commit itself (below); an edge may also call it to settle earlier."""
    handler: FactHandler | None = session.info.get(HANDLER)
    for _ in range(MAX_ROUNDS):
        facts = take(session)
        if not facts:
            return
        if handler is None:
            raise RuntimeError(
                f"{type(facts[0]).__name__} recorded on a session without a fact handler"
            )
        handler(session, facts)
    raise RuntimeError("fact handlers kept recording new facts")


@event.listens_for(Session, "before_commit")
def _handle_before_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint, not the transaction
    handle_pending(session)


@event.listens_for(Session, "after_transaction_end")
def _forget_on_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_FACTS, None)

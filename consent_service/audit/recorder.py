"""Appending to the audit log: in the caller's transaction, or alone for denials."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import structlog
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from consent_service.audit.chain import GENESIS, canonical_details, event_hash
from consent_service.audit.models import AuditEvent
from consent_service.clock import Clock

log = structlog.get_logger()

# Arbitrary constant naming the PostgreSQL advisory lock that serialises chain appends.
CHAIN_LOCK_KEY = 7_420_031_001


@dataclass(frozen=True)
class Actor:
    """Who acts, from where, in which request: the context every audit event carries."""

    user_id: int | None = None
    username: str | None = None
    organisation_id: int | None = None
    request_id: str | None = None
    source_ip: str | None = None

    def as_user(self, user_id: int, username: str, organisation_id: int) -> Actor:
        return replace(self, user_id=user_id, username=username, organisation_id=organisation_id)


SYSTEM = Actor(username="system")


class AuditRecorder:
    """Appends events to the hash chain. Injected into services; never commits."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def record(
        self,
        session: Session,
        actor: Actor,
        *,
        action: str,
        outcome: str,
        resource_type: str | None = None,
        resource_id: str | None = None,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
        organisation_id: int | None = None,
    ) -> int:
        """Append one event in the session's transaction; it commits or rolls back with it.

        Everything that does not depend on the chain head is prepared before the chain lock
        is taken, and the row goes in as one Core INSERT: the lock is held until commit, so
        the work done under it bounds how many appends per second the log takes. Returns
        the event's seq.
        """
        fields: dict[str, Any] = {
            "actor_user_id": actor.user_id,
            "actor_username": actor.username,
            "organisation_id": organisation_id
            if organisation_id is not None
            else actor.organisation_id,
            "action": action,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "outcome": outcome,
            "reason": reason,
            "request_id": actor.request_id,
            "source_ip": actor.source_ip,
            "details": canonical_details(details),
        }
        self.lock_chain(session)
        head = session.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        ).first()
        prev_seq, prev_hash = (head[0], head[1]) if head else (0, GENESIS)
        # occurred_at is read under the lock, so time never runs backwards along the chain.
        fields.update(seq=prev_seq + 1, occurred_at=self._clock.now(), prev_hash=prev_hash)
        fields["hash"] = event_hash(fields)
        session.execute(insert(AuditEvent), [fields])
        log.info("audit", action=action, outcome=outcome, seq=fields["seq"])
        return int(fields["seq"])

    @staticmethod
    def lock_chain(session: Session) -> None:
        """Serialise with every other chain append until the transaction ends."""
        bind = session.get_bind()
        if bind.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_KEY})
        # SQLite: every transaction began IMMEDIATE, so appends are already serialised.


def as_record(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at,
        "actor_user_id": event.actor_user_id,
        "actor_username": event.actor_username,
        "organisation_id": event.organisation_id,
        "action": event.action,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "outcome": event.outcome,
        "reason": event.reason,
        "request_id": event.request_id,
        "source_ip": event.source_ip,
        "details": event.details,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def iter_records(session: Session, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """All events in chain order, streamed."""
    stmt = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch)
    for event in session.scalars(stmt):
        yield as_record(event)

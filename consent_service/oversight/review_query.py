"""The DPO's queries over the audit log: filtered, keyset-paged search and rejected access
attempts grouped by account and address. Metadata only: events never hold content.

A reviewer sees only the events of ``scope.concerns_organisation`` for their own
organisation: the search takes it as ``AuditFilter.concerning_organisation``, and the
rejected attempts always apply it.

Paging is by sequence number (newest first, ``before_seq`` from the previous page), so a
page costs the same on the millionth row as on the first; each filter has an index
(``ix_audit_event_*``) that leads with its column and ends with the time.

This is a named query module of the audit domain (``audit.repository`` holds the
others); the audited use cases that call it are in ``oversight.dpo``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from consent_service.audit.models import AuditEvent
from consent_service.oversight.schemas import AuditFilter
from consent_service.oversight.scope_query import concerns_organisation

_S = TypeVar("_S", bound=Select[Any])

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

# What counts as a rejected access attempt; the catalogue (audit/events.yaml) names them.
REJECTED_ACTIONS = (
    "login.password_failed",
    "login.code_failed",
    "login.step_up_failed",
    "security.totp_replay",
    "login.locked",
    "access.denied",
    "access.unauthenticated",
    "citizen.cross_organisation_probe",
)
# Failed step-ups recorded before they had their own action (login.step_up_failed).
_LEGACY_REJECTED = (("login.step_up", "failure"),)


@dataclass(frozen=True)
class AuditPage:
    events: Sequence[AuditEvent]
    next_before_seq: int | None  # pass as before_seq for the next (older) page


def _filtered(stmt: _S, f: AuditFilter) -> _S:
    if f.occurred_from is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= f.occurred_from)
    if f.occurred_to is not None:
        stmt = stmt.where(AuditEvent.occurred_at < f.occurred_to)
    if f.actor_user_id is not None:
        stmt = stmt.where(AuditEvent.actor_user_id == f.actor_user_id)
    if f.organisation_id is not None:
        stmt = stmt.where(AuditEvent.organisation_id == f.organisation_id)
    if f.concerning_organisation is not None:
        stmt = stmt.where(concerns_organisation(f.concerning_organisation))
    if f.action is not None:
        stmt = stmt.where(AuditEvent.action == f.action)
    if f.outcome is not None:
        stmt = stmt.where(AuditEvent.outcome == f.outcome)
    if f.resource_type is not None:
        stmt = stmt.where(AuditEvent.resource_type == f.resource_type)
    if f.resource_id is not None:
        stmt = stmt.where(AuditEvent.resource_id == f.resource_id)
    if f.request_id is not None:
        stmt = stmt.where(AuditEvent.request_id == f.request_id)
    if f.source_ip is not None:
        stmt = stmt.where(AuditEvent.source_ip == f.source_ip)
    if f.seq_from is not None:
        stmt = stmt.where(AuditEvent.seq >= f.seq_from)
    if f.seq_to is not None:
        stmt = stmt.where(AuditEvent.seq <= f.seq_to)
    if f.exclude_actions:
        stmt = stmt.where(AuditEvent.action.not_in(f.exclude_actions))
    return stmt


def search(
    session: Session,
    f: AuditFilter,
    *,
    before_seq: int | None = None,
    page_size: int = PAGE_SIZE,
) -> AuditPage:
    """One page of matching events, newest first."""
    size = max(1, min(page_size, MAX_PAGE_SIZE))
    stmt = _filtered(select(AuditEvent), f)
    if before_seq is not None:
        stmt = stmt.where(AuditEvent.seq < before_seq)
    rows = list(session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(size + 1)))
    more = len(rows) > size
    events = rows[:size]
    return AuditPage(events, events[-1].seq if more and events else None)


def decisions_of_requests(
    session: Session, request_ids: Sequence[str], organisation_id: int
) -> dict[str, AuditEvent]:
    """The permission decision (``access.allowed``) of each request id, to fold into the
    row of the action it allowed; only events the reviewer may see."""
    wanted = sorted({r for r in request_ids if r})
    if not wanted:
        return {}
    rows = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.action == "access.allowed",
            AuditEvent.request_id.in_(wanted),
            concerns_organisation(organisation_id),
        )
        .order_by(AuditEvent.seq)
    )
    found: dict[str, AuditEvent] = {}
    for event in rows:
        if event.request_id is not None:
            found.setdefault(event.request_id, event)
    return found


def count_matching(session: Session, f: AuditFilter) -> int:
    """How many events the filter matches."""
    return session.scalar(_filtered(select(func.count()).select_from(AuditEvent), f)) or 0


@dataclass(frozen=True)
class RejectedGroup:
    username: str | None
    source_ip: str | None
    action: str
    attempts: int
    first_at: datetime
    last_at: datetime


def rejected_attempts(
    session: Session,
    occurred_from: datetime,
    occurred_to: datetime,
    organisation_id: int,
) -> list[RejectedGroup]:
    """Failed logins and codes, lockouts and permission denials in a period that concern
    the organisation (its users' own, and attempts on accounts that do not exist), and
    other organisations' users' attempts to find or open its citizens, grouped by account
    and source address, most attempts first."""
    stmt = (
        select(
            AuditEvent.actor_username,
            AuditEvent.source_ip,
            AuditEvent.action,
            func.count(),
            func.min(AuditEvent.occurred_at),
            func.max(AuditEvent.occurred_at),
        )
        .where(
            or_(
                AuditEvent.action.in_(REJECTED_ACTIONS),
                *(
                    and_(AuditEvent.action == action, AuditEvent.outcome == outcome)
                    for action, outcome in _LEGACY_REJECTED
                ),
            ),
            AuditEvent.occurred_at >= occurred_from,
            AuditEvent.occurred_at < occurred_to,
            concerns_organisation(organisation_id),
        )
        .group_by(AuditEvent.actor_username, AuditEvent.source_ip, AuditEvent.action)
        .order_by(func.count().desc(), AuditEvent.actor_username)
    )
    return [
        RejectedGroup(user, ip, action, count, first, last)
        for user, ip, action, count, first, last in session.execute(stmt)
    ]

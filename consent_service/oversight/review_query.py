"""The DPO's queries over the audit log: filtered, keyset-paged search and rejected access
attempts grouped by account and address. Metadata only: events never hold content.

A reviewer sees only the events of ``scope.concerns_organisation`` for their own
organisation: the search takes it as ``AuditFilter.concerning_organisation``, and the
rejected attempts always apply it.

Paging is by sequence number (newest first, ``before_seq`` from the previous page), so a
page costs the same on the millionth row as on the first; each filter has an index
(``ix_audit_event_*``) that leads with its column and ends with the time.

A broad search (a period, the organisation, the outcome: the log's default page) whose
period holds the newest event reads the newest events by sequence number first, in
windows of ``WINDOWS`` sequence numbers, before asking the planner. Left to the planner,
its plan depends on PostgreSQL's statistics of ``audit_event``: current, it walks the
primary key backwards and stops after a page; stale (a week's events added since the
last ANALYZE), it believes the week holds few events and reads all of them through a
time index and sorts them. A window is a subquery the filters cannot be pushed into
(``OFFSET 0``), so it can only be read through the primary key, and reads at most its
width. The pages are the same either way: a window that fills the page holds its newest
rows (every event outside it is older), and one that does not is followed by the next
window (if, as dense, it would fill the page) or by the plain query below it. (The
newest event is read first: one committed after that read shows on the next load of the
page, as if the page had been read a moment earlier.) The decisions folded into a page's
rows are looked up by request id behind the same kind of fence
(``decisions_of_requests``).

This is a named query module of the audit domain (``audit.repository`` holds the
others); the audited use cases that call it are in ``oversight.dpo``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session, aliased

from consent_service.audit.models import AuditEvent
from consent_service.oversight.schemas import AuditFilter
from consent_service.oversight.scope_query import concerns_organisation

_S = TypeVar("_S", bound=Select[Any])

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# The widths, in sequence numbers, of the windows a broad search reads first, newest first.
WINDOWS = (1_000, 10_000)

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


def _filtered(stmt: _S, f: AuditFilter, event: type[AuditEvent] = AuditEvent) -> _S:
    """``stmt`` narrowed by the filter, on ``event`` (the table, or an alias of it)."""
    if f.occurred_from is not None:
        stmt = stmt.where(event.occurred_at >= f.occurred_from)
    if f.occurred_to is not None:
        stmt = stmt.where(event.occurred_at < f.occurred_to)
    if f.actor_user_id is not None:
        stmt = stmt.where(event.actor_user_id == f.actor_user_id)
    if f.organisation_id is not None:
        stmt = stmt.where(event.organisation_id == f.organisation_id)
    if f.concerning_organisation is not None:
        stmt = stmt.where(concerns_organisation(f.concerning_organisation, event))
    if f.action is not None:
        stmt = stmt.where(event.action == f.action)
    if f.outcome is not None:
        stmt = stmt.where(event.outcome == f.outcome)
    if f.resource_type is not None:
        stmt = stmt.where(event.resource_type == f.resource_type)
    if f.resource_id is not None:
        stmt = stmt.where(event.resource_id == f.resource_id)
    if f.request_id is not None:
        stmt = stmt.where(event.request_id == f.request_id)
    if f.source_ip is not None:
        stmt = stmt.where(event.source_ip == f.source_ip)
    if f.seq_from is not None:
        stmt = stmt.where(event.seq >= f.seq_from)
    if f.seq_to is not None:
        stmt = stmt.where(event.seq <= f.seq_to)
    if f.exclude_actions:
        stmt = stmt.where(event.action.not_in(f.exclude_actions))
    return stmt


def _broad(f: AuditFilter) -> bool:
    """No filter with an index of its own that picks few events (a user, a citizen, a
    request, an address, an action, a span of sequence numbers): the planner's choice of
    that index is right whatever its statistics say."""
    narrow = (f.actor_user_id, f.resource_id, f.request_id, f.source_ip, f.action)
    return all(v is None for v in narrow) and f.seq_from is None and f.seq_to is None


def _newest_in_period(session: Session, f: AuditFilter, before_seq: int | None) -> int | None:
    """The sequence number of the newest event below ``before_seq``, if the filter's period
    holds it (read through the primary key); None otherwise."""
    stmt = select(AuditEvent.seq, AuditEvent.occurred_at).order_by(AuditEvent.seq.desc())
    if before_seq is not None:
        stmt = stmt.where(AuditEvent.seq < before_seq)
    newest = session.execute(stmt.limit(1)).first()
    if newest is None:
        return None
    seq, at = newest
    if f.occurred_from is not None and at < f.occurred_from:
        return None
    if f.occurred_to is not None and at >= f.occurred_to:
        return None
    return int(seq)


# A window of the newest events: a subquery with ``OFFSET 0``, which PostgreSQL neither
# merges into the query nor pushes the filters into, so it reads the window through the
# primary key, newest first, and the filters and the limit stop it after a page of
# matches. Built once; ``above`` and ``top`` are bound per query.
_RECENT = aliased(
    AuditEvent,
    select(AuditEvent)
    .where(AuditEvent.seq > bindparam("above"), AuditEvent.seq <= bindparam("top"))
    .order_by(AuditEvent.seq.desc())
    .offset(0)
    .subquery("recent"),
)
# The events of some requests, looked up by ``ix_audit_event_request_id`` alone (the
# same fence: no other condition reaches the lookup).
_REQUESTED = aliased(
    AuditEvent,
    select(AuditEvent)
    .where(AuditEvent.request_id.in_(bindparam("request_ids", expanding=True)))
    .offset(0)
    .subquery("requested"),
)


def _in_window(
    session: Session, f: AuditFilter, above: int, top: int, limit: int
) -> list[AuditEvent]:
    """The newest ``limit`` matching events with ``above < seq <= top``."""
    stmt = _filtered(select(_RECENT), f, _RECENT).order_by(_RECENT.seq.desc()).limit(limit)
    return list(session.scalars(stmt, {"above": above, "top": top}))


def search(
    session: Session,
    f: AuditFilter,
    *,
    before_seq: int | None = None,
    page_size: int = PAGE_SIZE,
    windows: Sequence[int] = WINDOWS,
) -> AuditPage:
    """One page of matching events, newest first (a broad search by windows first, see
    the module)."""
    size = max(1, min(page_size, MAX_PAGE_SIZE))
    want = size + 1
    rows: list[AuditEvent] = []
    below = before_seq  # what the plain query reads: the events below this
    top = _newest_in_period(session, f, before_seq) if _broad(f) else None
    if top is not None:
        for i, width in enumerate(windows):
            found = _in_window(session, f, top - width, top, want - len(rows))
            rows += found
            top -= width
            if len(rows) >= want or top < 1:
                break
            # The next window only if, as dense as this one, it would fill the page; a
            # search that finds few events near the head is left to its indexes.
            following = windows[i + 1] if i + 1 < len(windows) else 0
            if len(found) * following < (want - len(rows)) * width:
                break
        below = top + 1
    if len(rows) < want and (below is None or below > 1):
        stmt = _filtered(select(AuditEvent), f)
        if below is not None:
            stmt = stmt.where(AuditEvent.seq < below)
        stmt = stmt.order_by(AuditEvent.seq.desc()).limit(want - len(rows))
        rows += session.scalars(stmt)
    more = len(rows) > size
    events = rows[:size]
    return AuditPage(events, events[-1].seq if more and events else None)


def decisions_of_requests(
    session: Session, request_ids: Sequence[str], organisation_id: int
) -> dict[str, AuditEvent]:
    """The permission decision (``access.allowed``) of each request id, to fold into the
    row of the action it allowed; only events the reviewer may see. The requests' events
    are looked up by their ids (``_REQUESTED``) whatever the statistics say of the
    action, instead of reading every ``access.allowed`` event."""
    wanted = sorted({r for r in request_ids if r})
    if not wanted:
        return {}
    rows = session.scalars(
        select(_REQUESTED)
        .where(
            _REQUESTED.action == "access.allowed",
            concerns_organisation(organisation_id, _REQUESTED),
        )
        .order_by(_REQUESTED.seq),
        {"request_ids": wanted},
    )
    found: dict[str, AuditEvent] = {}
    for row in rows:
        if row.request_id is not None:
            found.setdefault(row.request_id, row)
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

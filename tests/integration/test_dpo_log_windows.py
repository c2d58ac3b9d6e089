"""The DPO log's search reads a broad search's newest events in windows of sequence
numbers first (``review_query.search``): the pages are the same as the plain query's,
and on PostgreSQL the default page does not read the whole week when the statistics of
``audit_event`` are stale."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.orm import Session

from consent_service.audit.chain import GENESIS, event_hash
from consent_service.audit.models import AuditEvent
from consent_service.context import AppContext
from consent_service.oversight.review_query import WINDOWS, decisions_of_requests, search
from consent_service.oversight.schemas import AuditFilter
from tests.conftest import enrolled_person, owner_engine

WEEK = datetime(2027, 3, 1, tzinfo=UTC)
OTHER_ORG = 9_999
OTHER_USER = 99_999
# Through the table, so times are stored as the service stores them (SQLite compares text).
INSERT = insert(AuditEvent.__table__)


@dataclass(frozen=True)
class Ev:
    """What decides whether an event matches a search."""

    occurred_at: datetime
    organisation_id: int | None
    actor_user_id: int | None
    action: str
    outcome: str = "success"
    request_id: str | None = None


def _append(ctx: AppContext, events: list[Ev]) -> None:
    """The events chained after the head, inserted by the owner, in order."""
    engine = owner_engine(ctx)
    with engine.begin() as conn:
        head = conn.execute(text("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1"))
        seq, prev = head.first() or (0, GENESIS)
        batch = []
        for e in events:
            seq += 1
            record: dict[str, object] = {
                "seq": seq, "occurred_at": e.occurred_at, "actor_user_id": e.actor_user_id,
                "actor_username": None, "organisation_id": e.organisation_id, "action": e.action,
                "resource_type": None, "resource_id": None, "outcome": e.outcome,
                "reason": None, "request_id": e.request_id, "source_ip": None, "details": "{}",
                "prev_hash": prev,
            }  # fmt: skip
            record["hash"] = prev = event_hash(record)
            batch.append(record)
        conn.execute(INSERT, batch)
    engine.dispose()


def _expected(session: Session, f: AuditFilter, own_users: set[int]) -> list[int]:
    """The sequence numbers the filter matches, newest first, decided here in Python over
    every event (the reviewer's scope as ``scope.concerns_organisation`` defines it)."""
    found = []
    for e in session.query(AuditEvent).order_by(AuditEvent.seq.desc()):
        if f.occurred_from is not None and e.occurred_at < f.occurred_from:
            continue
        if f.occurred_to is not None and e.occurred_at >= f.occurred_to:
            continue
        if f.outcome is not None and e.outcome != f.outcome:
            continue
        if f.actor_user_id is not None and e.actor_user_id != f.actor_user_id:
            continue
        if e.action in f.exclude_actions:
            continue
        org = f.concerning_organisation
        if org is not None and e.organisation_id != org:
            if e.organisation_id is not None:
                continue
            if e.actor_user_id is not None and e.actor_user_id not in own_users:
                continue
        found.append(e.seq)
    return found


def _pages(
    session: Session, f: AuditFilter, size: int, windows: tuple[int, ...]
) -> Iterator[list[int]]:
    before = None
    while True:
        page = search(session, f, before_seq=before, page_size=size, windows=windows)
        yield [e.seq for e in page.events]
        if page.next_before_seq is None:
            return
        before = page.next_before_seq


def test_windowed_pages_are_the_plain_querys_pages(ctx: AppContext) -> None:
    dpo = enrolled_person(ctx, "dpo")
    org, me = dpo.organisation_id, dpo.user_id
    kinds = [
        (org, me, "citizen.read"), (org, me, "access.allowed"), (OTHER_ORG, 7, "citizen.read"),
        (None, None, "audit.checkpoint"), (None, OTHER_USER, "login.succeeded"),
        (None, me, "login.succeeded"), (OTHER_ORG, 7, "access.allowed"),
    ]  # fmt: skip
    before_week = [
        Ev(WEEK - timedelta(days=30, minutes=i), org, me, "citizen.read") for i in range(40)
    ]
    # Events of the week, among them some whose time is out of order along the chain (a
    # long transaction's event sealed late, an event stamped before the week), and a run
    # near the head with nothing the reviewer may see (the windows must pass it).
    week = [
        Ev(WEEK + timedelta(minutes=i), *kinds[i % len(kinds)], "failure" if i % 5 else "success")
        for i in range(120)
    ]
    late = [Ev(WEEK + timedelta(minutes=3), org, me, "citizen.read")] * 3
    stamped_before = [Ev(WEEK - timedelta(hours=1), org, me, "citizen.read")] * 2
    not_mine = [
        Ev(WEEK + timedelta(hours=5, minutes=i), OTHER_ORG, 7, "citizen.read") for i in range(30)
    ]
    _append(ctx, [*before_week, *week[:60], *late, *stamped_before, *week[60:], *not_mine])
    filters = {
        "the default page": AuditFilter(
            occurred_from=WEEK, occurred_to=WEEK + timedelta(days=8),
            concerning_organisation=org, exclude_actions=("access.allowed",),
        ),
        "with the decisions": AuditFilter(
            occurred_from=WEEK, occurred_to=WEEK + timedelta(days=8), concerning_organisation=org
        ),
        "failures": AuditFilter(
            occurred_from=WEEK, occurred_to=WEEK + timedelta(days=8),
            concerning_organisation=org, outcome="failure",
        ),
        "no period": AuditFilter(concerning_organisation=org),
        "a past period (the newest event outside it)": AuditFilter(
            occurred_from=WEEK - timedelta(days=31), occurred_to=WEEK - timedelta(days=29),
            concerning_organisation=org,
        ),
        "a user (not windowed)": AuditFilter(actor_user_id=me, concerning_organisation=org),
    }  # fmt: skip
    with ctx.sessions() as session:
        for name, f in filters.items():
            expected = _expected(session, f, {me})
            assert expected, name
            for size in (1, 4, 50):
                for windows in ((3, 7), (1,), WINDOWS, ()):
                    pages = list(_pages(session, f, size, windows))
                    assert [seq for page in pages for seq in page] == expected, (
                        name,
                        size,
                        windows,
                    )
                    assert all(len(page) == size for page in pages[:-1]), (name, size, windows)
                    assert 0 < len(pages[-1]) <= size, (name, size, windows)


def test_a_decision_is_found_by_its_request_and_only_in_the_reviewers_scope(
    ctx: AppContext,
) -> None:
    dpo = enrolled_person(ctx, "dpo")
    org, me = dpo.organisation_id, dpo.user_id
    _append(
        ctx,
        [
            Ev(WEEK, org, me, "access.allowed", request_id="r1"),
            Ev(WEEK, org, me, "citizen.read", request_id="r1"),
            Ev(WEEK, org, me, "access.allowed", request_id="r1"),  # a second: the first counts
            Ev(WEEK, OTHER_ORG, 7, "access.allowed", request_id="r2"),
            Ev(WEEK, OTHER_ORG, 7, "citizen.read", request_id="r2"),
            Ev(WEEK, org, me, "citizen.read", request_id="r3"),
        ],
    )
    with ctx.sessions() as session:
        found = decisions_of_requests(session, ["r1", "r2", "r3", ""], org)
        first = min(
            e.seq
            for e in session.query(AuditEvent).filter_by(request_id="r1", action="access.allowed")
        )
        assert {rid: e.seq for rid, e in found.items()} == {"r1": first}


# --- PostgreSQL: the plan on stale statistics -----------------------------------------------

WEEK_EVENTS = 6_000


def _rows_read(plan: dict[str, Any]) -> int:
    """How many rows of ``audit_event`` the plan's scans read: what they returned and what
    their filters and rechecks removed (a bitmap index scan counts its index entries)."""
    rows = 0
    if plan.get("Relation Name") == "audit_event" or (
        plan.get("Node Type") == "Bitmap Index Scan"
        and str(plan.get("Index Name", "")).startswith(("ix_audit_event", "pk_audit_event"))
    ):
        if plan["Node Type"] != "Bitmap Heap Scan":  # its bitmap index scan counted them
            rows += plan["Actual Rows"] * plan["Actual Loops"]
        rows += plan.get("Rows Removed by Filter", 0) + plan.get("Rows Removed by Index Recheck", 0)
    return rows + sum(_rows_read(child) for child in plan.get("Plans", []))


def _explained(session: Session, run: Any) -> list[dict[str, Any]]:
    """The plans (EXPLAIN ANALYZE) of every statement ``run`` sends."""
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        sent.append((statement, params))

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(bind, "before_cursor_execute", capture)
    plans = []
    for statement, params in sent:
        explain = "EXPLAIN (ANALYZE, FORMAT JSON) " + statement
        raw = session.connection().exec_driver_sql(explain, params).scalar_one()
        plans.append((raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"])
    return plans


def test_the_default_page_reads_a_window_not_the_week_on_stale_statistics(
    ctx: AppContext,
) -> None:
    if ctx.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps no statistics unless told to; its plan cannot go stale")
    dpo = enrolled_person(ctx, "dpo")
    org, me = dpo.organisation_id, dpo.user_id
    # A year of older events, analysed; then a busy week, not analysed (autovacuum off,
    # as between two of its analyses): the statistics say the week holds nothing.
    year = [
        Ev(
            WEEK - timedelta(days=365, hours=-2 * i),
            org if i % 2 else OTHER_ORG,
            me,
            "citizen.read",
        )
        for i in range(3_000)
    ]
    _append(ctx, year)
    owner = owner_engine(ctx)
    with owner.begin() as conn:
        conn.execute(text("ANALYZE audit_event"))
        conn.execute(text("ALTER TABLE audit_event SET (autovacuum_enabled = false)"))
    owner.dispose()
    week = []
    for i in range(WEEK_EVENTS // 2):
        at, who = WEEK + timedelta(seconds=60 * i), org if i % 3 else OTHER_ORG
        week += [Ev(at, who, me, "access.allowed", request_id=f"q{i}"),
                 Ev(at, who, me, "citizen.read", request_id=f"q{i}")]  # fmt: skip
    _append(ctx, week)
    f = AuditFilter(
        occurred_from=WEEK, occurred_to=WEEK + timedelta(days=8),
        concerning_organisation=org, exclude_actions=("access.allowed",),
    )  # fmt: skip
    with ctx.sessions() as session:
        page = search(session, f)
        plans = _explained(session, lambda: search(session, f))
        read = sum(_rows_read(plan) for plan in plans)
        # The newest 50 of the week's own reads lie in its newest ~150 events; the whole
        # week is 6,000, the first window 1,000 (and the probe of the head reads one).
        assert len(page.events) == 50
        assert read <= WINDOWS[0] + 1, json.dumps(plans, indent=1)
        request_ids = [e.request_id or "" for e in page.events]
        decisions = _explained(session, lambda: decisions_of_requests(session, request_ids, org))
        # The page's 50 requests have 100 events; there are 3,000 decisions.
        assert sum(_rows_read(plan) for plan in decisions) <= 100, json.dumps(decisions, indent=1)
        assert len(decisions_of_requests(session, request_ids, org)) == 50

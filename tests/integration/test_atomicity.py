"""A write and its audit event commit together or not at all (invariant 2)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import Actor
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.identity import users
from consent_service.identity.models import User
from tests.conftest import organisation, refuse_inserts


def _counts(ctx: AppContext) -> tuple[int, int]:
    with ctx.sessions() as s:
        n_users = s.scalar(select(func.count()).select_from(User)) or 0
        events = s.scalar(select(func.count()).select_from(AuditEvent)) or 0
        return n_users, events


def test_both_commit(ctx: AppContext) -> None:
    org = organisation(ctx)
    before = _counts(ctx)
    with session_scope(ctx.sessions) as s:
        users.create_user(
            s,
            ctx.identity,
            Actor(username="t"),
            organisation_id=org,
            username="ane",
            display_name="Ane",
            role="navigator",
        )
    after = _counts(ctx)
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)


def test_a_failure_after_the_audit_event_loses_both(ctx: AppContext) -> None:
    org = organisation(ctx)
    before = _counts(ctx)

    def write_then_fail() -> None:
        with session_scope(ctx.sessions) as s:
            users.create_user(
                s,
                ctx.identity,
                Actor(username="t"),
                organisation_id=org,
                username="bo",
                display_name="Bo",
                role="navigator",
            )
            raise RuntimeError("failure after the write and its audit event")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert _counts(ctx) == before


def test_a_failing_audit_append_loses_the_write(ctx: AppContext) -> None:
    org = organisation(ctx)
    before = _counts(ctx)
    # Where the request's transaction writes its event: the chain itself on SQLite, the
    # staging table on PostgreSQL (see consent_service.audit.recorder).
    appended_to = "audit_event" if ctx.engine.dialect.name == "sqlite" else "audit_pending"
    refuse_inserts(ctx, appended_to)

    with pytest.raises(IntegrityError), session_scope(ctx.sessions) as s:
        users.create_user(
            s,
            ctx.identity,
            Actor(username="t"),
            organisation_id=org,
            username="cy",
            display_name="Cy",
            role="navigator",
        )
    assert _counts(ctx) == before

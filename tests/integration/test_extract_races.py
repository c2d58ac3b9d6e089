"""Two data controllers act on one extract request at the same moment: a cancellation
against an approval, and against an execution. Exactly one wins, the other is refused
with a Danish rule, and the request's row and its audit events agree. On PostgreSQL the
second really waits on the first's row lock (real threads and connections, the first
held open until the second is seen waiting); SQLite takes one writer at a time, so there
the second simply comes after."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from datetime import time as clock_time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import Actor
from consent_service.clock import LEGAL_TZ, FixedClock, legal_today
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.errors import RuleRefusal
from consent_service.extracts import downloads, execution, requests
from consent_service.extracts.models import ExtractRequest
from tests.conftest import Person, enrolled_person
from tests.races import race

Act = Callable[[Session, ExtractRequest], None]


def _actor(p: Person) -> Actor:
    return Actor(user_id=p.user_id, username=p.username, organisation_id=p.organisation_id)


def _draft(ctx: AppContext, requester: Person) -> str:
    with session_scope(ctx.sessions) as s:
        req = requests.draft(
            s, ctx.deps, _actor(requester), requester.organisation_id,
            requests.DraftInput("payment_goal_1_regional", ["sygesikring"], ["gp_contacts"],
                                "hold-2", 1, legal_today(ctx.clock)),
        )  # fmt: skip
        return req.public_id


def _act(ctx: AppContext, public_id: str, org: int, act: Act) -> None:
    with session_scope(ctx.sessions) as s:
        act(s, requests.request_in_organisation(s, org, public_id))


def _race(ctx: AppContext, public_id: str, org: int, first: Act, second: Act) -> list[str]:
    """Which of two acts on one request at the same moment succeeded (``tests.races``)."""

    def on_request(act: Act) -> Callable[[Session], None]:
        return lambda s: act(s, requests.request_in_organisation(s, org, public_id))

    outcome = race(ctx, on_request(first), on_request(second))
    if outcome.error is not None and not isinstance(outcome.error, RuleRefusal):
        raise outcome.error
    return ["first"] if outcome.error else ["first", "second"]


@pytest.fixture
def people(ctx: AppContext, clock: FixedClock) -> tuple[Person, Person, Person]:
    clock.set(datetime.combine(clock.now().date(), clock_time(10), tzinfo=LEGAL_TZ))
    return (
        enrolled_person(ctx, "data_controller"),
        enrolled_person(ctx, "data_controller"),
        enrolled_person(ctx, "data_controller"),
    )


def _events(ctx: AppContext, public_id: str) -> list[str]:
    with ctx.sessions() as s:
        return list(
            s.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.resource_id == public_id, AuditEvent.action.like("extract.%"))
                .order_by(AuditEvent.seq)
            )
        )


def _status(ctx: AppContext, public_id: str) -> str:
    with ctx.sessions() as s:
        req = s.scalar(select(ExtractRequest).where(ExtractRequest.public_id == public_id))
        assert req is not None
        return req.status


def test_an_approval_waits_for_a_cancellation_and_is_refused(
    ctx: AppContext, people: tuple[Person, Person, Person]
) -> None:
    requester, approver, third = people
    org = requester.organisation_id
    public_id = _draft(ctx, requester)

    def approve(s: Session, req: ExtractRequest) -> None:
        requests.decide(s, ctx.deps, _actor(approver), req, approve=True, comment="")

    def cancel(s: Session, req: ExtractRequest) -> None:
        requests.cancel(s, ctx.deps, _actor(third), req, "Planen er ændret")

    assert _race(ctx, public_id, org, cancel, approve) == ["first"]
    assert _status(ctx, public_id) == "cancelled"
    assert _events(ctx, public_id) == ["extract.requested", "extract.cancelled"]


def test_a_cancellation_waits_for_an_approval_and_then_cancels_the_approved_request(
    ctx: AppContext, people: tuple[Person, Person, Person]
) -> None:
    """The other order: the cancellation waits, then sees an approved request not yet
    executed, which may be cancelled (the rule), so both stand, one after the other, and
    the request never ends approved after a cancellation."""
    requester, approver, third = people
    org = requester.organisation_id
    public_id = _draft(ctx, requester)

    def approve(s: Session, req: ExtractRequest) -> None:
        requests.decide(s, ctx.deps, _actor(approver), req, approve=True, comment="")

    def cancel(s: Session, req: ExtractRequest) -> None:
        requests.cancel(s, ctx.deps, _actor(third), req, "Planen er ændret")

    assert _race(ctx, public_id, org, approve, cancel) == ["first", "second"]
    assert _status(ctx, public_id) == "cancelled"
    assert _events(ctx, public_id) == [
        "extract.requested", "extract.approved", "extract.cancelled"
    ]  # fmt: skip


@pytest.mark.parametrize("execute_first", [True, False], ids=["execute-first", "cancel-first"])
def test_cancel_and_execute_at_once_exactly_one_wins(
    ctx: AppContext, people: tuple[Person, Person, Person], execute_first: bool
) -> None:
    requester, approver, third = people
    org = requester.organisation_id
    public_id = _draft(ctx, requester)
    _act(ctx, public_id, org, lambda s, req: requests.decide(
        s, ctx.deps, _actor(approver), req, approve=True, comment=""))  # fmt: skip

    def execute(s: Session, req: ExtractRequest) -> None:
        execution.execute_request(s, ctx.deps, _actor(requester), req)

    def cancel(s: Session, req: ExtractRequest) -> None:
        requests.cancel(s, ctx.deps, _actor(third), req, "Planen er ændret")

    first, second = (execute, cancel) if execute_first else (cancel, execute)
    assert _race(ctx, public_id, org, first, second) == ["first"]
    expected = "executed" if execute_first else "cancelled"
    assert _status(ctx, public_id) == expected
    assert _events(ctx, public_id) == [
        "extract.requested", "extract.approved", f"extract.{expected}"
    ]  # fmt: skip


def test_two_downloads_of_the_last_one_left_count_one_after_the_other(
    ctx: AppContext, people: tuple[Person, Person, Person]
) -> None:
    requester, approver, _ = people
    org = requester.organisation_id
    public_id = _draft(ctx, requester)
    _act(ctx, public_id, org, lambda s, req: requests.decide(
        s, ctx.deps, _actor(approver), req, approve=True, comment=""))  # fmt: skip
    _act(ctx, public_id, org, lambda s, req: execution.execute_request(
        s, ctx.deps, _actor(requester), req))  # fmt: skip

    def spend_two(s: Session, req: ExtractRequest) -> None:
        req.downloads = 2  # two of three used already

    _act(ctx, public_id, org, spend_two)

    def fetch(who: Person) -> Act:
        return lambda s, req: downloads.download(s, ctx.deps, _actor(who), req) and None

    assert _race(ctx, public_id, org, fetch(requester), fetch(approver)) == ["first"]
    with ctx.sessions() as s:
        req = s.scalar(select(ExtractRequest).where(ExtractRequest.public_id == public_id))
        assert req is not None
        assert req.downloads == 3
    assert _events(ctx, public_id).count("extract.downloaded") == 1

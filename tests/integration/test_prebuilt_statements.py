"""Issue 18: the hot reads (every request's session look-up, the citizen page, the
worklist, recording a consent) run statements built once per process (``db.py``), each
call giving its own values: the same statement object whoever asks, and each call still
gets exactly its own rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.citizens import referral_query, referrals
from consent_service.citizens import repository as citizens_repo
from consent_service.citizens.models import Citizen, CitizenChange, Referral, ReferralContact
from consent_service.clock import FixedClock
from consent_service.consents import paper_query
from consent_service.consents import repository as consents_repo
from consent_service.consents.models import Consent, ConsentEvent
from consent_service.context import AppContext
from consent_service.crypto import token_hash
from consent_service.identity import repository as identity_repo
from consent_service.identity.models import ApiToken, UserSession
from consent_service.jobs import planner
from consent_service.jobs import repository as jobs_repo
from consent_service.jobs.models import Job, Task
from consent_service.subject_requests import repository as requests_repo
from tests.api.test_citizens_consents import print_form, record, refer, register
from tests.api.test_referral_api import _issue_token
from tests.conftest import enrolled_person, log_in
from tests.factories import synthetic_cpr

KINDS = (planner.FOLLOW_UP, planner.RECONSENT)


def _run(ctx: AppContext, read: Callable[[Session], Any]) -> tuple[list[object], Any]:
    """The statement objects ``read`` executes in a transaction of its own (through the
    ORM or as Core rows, ``db.core_rows``), and its result."""
    seen: list[object] = []

    def on_execute(_conn: Any, statement: object, *_: Any) -> None:
        seen.append(statement)

    with ctx.sessions() as s, s.begin():
        s.connection()  # begun before listening
        event.listen(ctx.engine, "before_execute", on_execute)
        try:
            return seen, read(s)
        finally:
            event.remove(ctx.engine, "before_execute", on_execute)


def _both(ctx: AppContext, a: Callable[[Session], Any], b: Callable[[Session], Any]) -> Any:
    """The results of ``a`` and ``b``, after checking they ran the same statement objects."""
    first, result_a = _run(ctx, a)
    second, result_b = _run(ctx, b)
    assert first, "no statement ran"
    assert len(first) == len(second)
    assert all(x is y for x, y in zip(first, second, strict=True))
    return result_a, result_b


def test_the_hot_reads_reuse_their_statements_and_each_call_gets_its_own_rows(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    clock.set(clock.now().replace(year=2027, month=3, day=1))
    nav = enrolled_person(ctx, "navigator")
    token = log_in(client, nav, clock)
    pids = [register(client, token, synthetic_cpr(date(1970, 5, 17), n)) for n in (3, 4)]
    for pid in pids:
        refer(client, token, pid, date(2027, 3, 1))
    recorded = print_form(client, token, pids[0], "wellbeing")
    assert (
        record(client, token, pids[0], "wellbeing", recorded, date(2027, 3, 1)).status_code == 303
    )
    unrecorded = print_form(client, token, pids[1], "wellbeing")
    org = nav.organisation_id
    with ctx.sessions() as s, s.begin():
        a, b = (s.scalars(select(Citizen).where(Citizen.public_id == p)).one() for p in pids)
        ref_a, ref_b = (
            s.scalars(select(Referral).where(Referral.citizen_id == c.id)).one() for c in (a, b)
        )
        actor = Actor().as_user(nav.user_id, nav.username, org)
        referrals.contact_referral(s, ctx.deps, actor, org, ref_a.public_id, date(2027, 3, 1), "")
        consent_a = s.scalars(select(Consent).where(Consent.citizen_id == a.id)).one()
        s.add(
            ConsentEvent(
                consent_id=consent_a.id, event_type="journal_entry_confirmed",
                occurred_on=date(2027, 3, 1), recorded_at=clock.now(), recorded_by=nav.user_id,
            )
        )  # fmt: skip
        session_ids = list(
            s.scalars(select(UserSession.id).where(UserSession.user_id == nav.user_id))
        )
        # Ids are kept, not the objects: every read below runs in its own transaction.
        a_id, b_id, ref_a_id, ref_b_id, consent_id = a.id, b.id, ref_a.id, ref_b.id, consent_a.id

    def citizen_id(found: Any) -> int | None:
        return None if found is None else int(found.id)

    found = _both(
        ctx,
        lambda s: citizen_id(citizens_repo.by_public_id(s, org, pids[0])),
        lambda s: citizen_id(citizens_repo.by_public_id(s, org, pids[1])),
    )
    assert found == (a_id, b_id)
    assert _both(
        ctx,
        lambda s: citizens_repo.by_public_id(s, org + 1, pids[0]),  # another organisation's
        lambda s: citizen_id(citizens_repo.by_public_id(s, org, pids[0])),
    ) == (None, a_id)

    def ids(rows: Any) -> list[int]:
        return [int(r.id) for r in rows]

    assert _both(
        ctx,
        lambda s: ids(citizens_repo.referrals_of(s, a_id)),
        lambda s: ids(citizens_repo.referrals_of(s, b_id)),
    ) == ([ref_a_id], [ref_b_id])
    assert _both(
        ctx,
        lambda s: ids(consents_repo.consents_of(s, a_id)),
        lambda s: ids(consents_repo.consents_of(s, b_id)),
    ) == ([consent_id], [])
    events_a, events_b = _both(
        ctx,
        lambda s: {
            k: [e.consent_id for e in v]
            for k, v in consents_repo.events_by_consent(s, a_id).items()
        },
        lambda s: consents_repo.events_by_consent(s, b_id),
    )
    assert set(events_a) == {consent_id}
    assert set(events_a[consent_id]) == {consent_id}
    assert events_b == {}
    paper_a, paper_b = _both(
        ctx,
        lambda s: consents_repo.paper_of_consents(s, a_id),
        lambda s: consents_repo.paper_of_consents(s, b_id),
    )
    assert list(paper_a) == [consent_id]
    assert paper_b == {}
    open_a, open_b = _both(
        ctx,
        lambda s: consents_repo.open_forms_by_kind(s, a_id),
        lambda s: consents_repo.open_forms_by_kind(s, b_id),
    )
    assert open_a == ({}, frozenset())  # its one form is recorded
    assert [f.form_id for f in open_b[0]["wellbeing"]] == [unrecorded]
    assert _both(
        ctx,
        lambda s: getattr(consents_repo.form(s, org, recorded), "form_id", None),
        lambda s: consents_repo.form(s, org + 1, unrecorded),  # another organisation's
    ) == (recorded, None)
    assert _both(
        ctx,
        lambda s: citizen_id(consents_repo.consent_for_form(s, recorded)),
        lambda s: consents_repo.consent_for_form(s, unrecorded),
    ) == (consent_id, None)

    # An expanding IN: any number of referrals in the one statement.
    contacts_both, contacts_b = _both(
        ctx,
        lambda s: [
            (c.referral_id, n) for c, n in referral_query.contacts_of(s, [ref_a_id, ref_b_id])
        ],
        lambda s: referral_query.contacts_of(s, [ref_b_id]),
    )
    assert contacts_both == [(ref_a_id, "Test navigator")]  # with who recorded it
    assert list(contacts_b) == []
    new_a, new_other = _both(
        ctx,
        lambda s: [(r.id, c.id) for r, c in referral_query.new_referrals_with_citizens(s, org)],
        lambda s: referral_query.new_referrals_with_citizens(s, org + 1),
    )
    assert new_a == [(ref_b_id, b_id)]
    assert list(new_other) == []
    assert _both(
        ctx,
        lambda s: [c.id for c, _, code in paper_query.given_with_forms(s, org)],
        lambda s: [c.id for c, _, code in paper_query.given_with_forms(s, org + 1)],
    ) == ([consent_id], [])
    assert _both(
        ctx,
        lambda s: paper_query.given_with_forms(s, org, erased_only=True),
        lambda s: paper_query.given_with_forms(s, org + 1, erased_only=True),
    ) == ([], [])
    for read in (
        citizens_repo.changes_of,
        requests_repo.of_citizen,
        lambda s, cid: paper_query.histories_of(s, cid),
    ):
        assert _both(
            ctx, lambda s, r=read: list(r(s, a_id)), lambda s, r=read: list(r(s, b_id))
        ) == ([], [])
    assert _both(
        ctx,
        lambda s: paper_query.location_rows(s, org),
        lambda s: paper_query.location_rows(s, org + 1),
    ) == ((), ())
    assert session_ids
    users = _both(
        ctx,
        lambda s: [
            (row[0].id, getattr(row[1], "id", None))
            for row in [identity_repo.session_with_user(s, session_ids[0])]
            if row is not None
        ],
        lambda s: identity_repo.session_with_user(s, "no such session"),
    )
    assert users == ([(session_ids[0], nav.user_id)], None)

    # The API token look-up (every referral API request).
    bearer = _issue_token(ctx, client, clock)
    with ctx.sessions() as s:
        token_id, token_user = s.execute(
            select(ApiToken.id, ApiToken.user_id).where(ApiToken.token_hash == token_hash(bearer))
        ).one()
    tokens = _both(
        ctx,
        lambda s: [
            (row[0].id, getattr(row[1], "id", None))
            for row in [identity_repo.api_token_with_user(s, token_hash(bearer))]
            if row is not None
        ],
        lambda s: identity_repo.api_token_with_user(s, token_hash("no such token")),
    )
    assert tokens == ([(token_id, token_user)], None)

    # The worklist's open tasks and coming jobs, compared with plain queries of the same rows:
    # two coming jobs of the worklist's kinds (b's earlier), one of another kind, one done.
    with ctx.sessions() as s, s.begin():
        for n, (kind, who, due, status) in enumerate(
            [
                (planner.FOLLOW_UP, a_id, date(2027, 6, 1), "pending"),
                (planner.RECONSENT, b_id, date(2027, 5, 1), "pending"),
                (planner.SHRED_WELLBEING, a_id, date(2027, 4, 1), "pending"),
                (planner.RECONSENT, a_id, date(2027, 4, 1), "done"),
            ]
        ):
            s.add(
                Job(
                    key=f"test:{n}", kind=kind, organisation_id=org, citizen_id=who,
                    due_on=due, run_after=clock.now(), status=status, created_at=clock.now(),
                )
            )  # fmt: skip
    with ctx.sessions() as s:
        live = (Citizen.deleted_at.is_(None),)
        open_tasks = [
            (t.id, c.id)
            for t, c in s.execute(
                select(Task, Citizen)
                .join(Citizen, Citizen.id == Task.citizen_id)
                .where(Task.organisation_id == org, Task.closed_at.is_(None), *live)
                .order_by(Task.due_on, Task.id)
            )
        ]
        horizon = date(2028, 12, 31)
        coming = [
            (j.id, c.id)
            for j, c in s.execute(
                select(Job, Citizen)
                .join(Citizen, Citizen.id == Job.citizen_id)
                .where(
                    Job.organisation_id == org, Job.status == "pending",
                    Job.kind.in_(KINDS), Job.due_on <= horizon, *live,
                )
                .order_by(Job.due_on, Job.id)
            )
        ]  # fmt: skip
    assert [who for _, who in coming] == [b_id, a_id]
    assert _both(
        ctx,
        lambda s: [(t.id, c.id) for t, c in jobs_repo.open_tasks_with_citizens(s, org)],
        lambda s: list(jobs_repo.open_tasks_with_citizens(s, org + 1)),
    ) == (open_tasks, [])
    assert _both(
        ctx,
        lambda s: [
            (j.id, c.id) for j, c in jobs_repo.pending_jobs_with_citizens(s, org, KINDS, horizon)
        ],
        lambda s: [
            (j.id, c.id)
            for j, c in jobs_repo.pending_jobs_with_citizens(s, org, KINDS[:1], date(2000, 1, 1))
        ],
    ) == (coming, [])


def test_plain_rows_include_what_the_transaction_has_not_flushed_yet(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    """``db.core_rows`` bypasses the ORM, so it flushes first, as the ORM's autoflush
    would: a correction or contact added in the transaction is in the rows read after."""
    clock.set(clock.now().replace(year=2027, month=3, day=1))
    nav = enrolled_person(ctx, "navigator")
    token = log_in(client, nav, clock)
    pid = register(client, token, synthetic_cpr(date(1970, 5, 17), 3))
    refer(client, token, pid, date(2027, 3, 1))
    with ctx.sessions() as s, s.begin():
        citizen = s.scalars(select(Citizen).where(Citizen.public_id == pid)).one()
        referral = s.scalars(select(Referral).where(Referral.citizen_id == citizen.id)).one()
        assert citizens_repo.changes_of(s, citizen.id) == []
        assert referral_query.contacts_of(s, [referral.id]) == []
        common = {"organisation_id": citizen.organisation_id}
        s.add(
            CitizenChange(
                citizen_id=citizen.id, changes_sealed=b"sealed", changed_at=clock.now(),
                changed_by=nav.user_id, **common,
            )
        )  # fmt: skip
        s.add(
            ReferralContact(
                referral_id=referral.id, contacted_on=date(2027, 3, 1), note_sealed=None,
                recorded_at=clock.now(), recorded_by=nav.user_id, **common,
            )
        )  # fmt: skip
        assert s.new  # not flushed yet
        changes = citizens_repo.changes_of(s, citizen.id)
        assert [(c.changed_at, c.changed_by, c.changes_sealed) for c in changes] == [
            (clock.now(), nav.user_id, b"sealed")
        ]
        contacts = referral_query.contacts_of(s, [referral.id])
        assert [(c.referral_id, c.contacted_on, c.note_sealed) for c, _ in contacts] == [
            (referral.id, date(2027, 3, 1), None)
        ]
        assert [name for _, name in contacts] == ["Test navigator"]

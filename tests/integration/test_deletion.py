"""Deleting a citizen: the data keys go first (crypto-shredding), then the rows; a
tombstone and the consent records stay without identity; the deletion record in the audit
log names the rule, categories, counts and a hash, and no personal data; the chain still
verifies. A dry run counts without changing anything."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text

from consent_service.audit.recorder import SYSTEM
from consent_service.audit.service import verify_chain
from consent_service.citizens import service as citizens
from consent_service.citizens.models import Citizen, CitizenKey, Referral
from consent_service.clock import FixedClock
from consent_service.consents import repository as consents_repo
from consent_service.consents.models import Consent, ConsentEvent, ConsentScan
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.deletion.service import delete_citizen, plan_pilot_end, run_pilot_end
from consent_service.errors import NotFound, RuleRefusal
from consent_service.jobs.models import Job
from consent_service.retention.schedule import default_schedule
from consent_service.wellbeing.models import WellbeingResponse
from tests.factories import synthetic_cpr
from tests.scenario import Pilot

NAME = "Ayşe Yılmaz"
CPR = synthetic_cpr(date(1966, 2, 9), 41)  # a birth date Pilot.citizen never picks


def _count(ctx: AppContext, model: type) -> int:
    with ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def pilot(ctx: AppContext, clock: FixedClock) -> Pilot:
    pilot = Pilot.start(ctx, clock)
    pilot.at(date(2026, 11, 2))
    pid = pilot.citizen(cpr=CPR, name=NAME)
    pilot.refer(pid, date(2026, 11, 2))
    pilot.sign(pid, "journal", date(2026, 11, 10))
    pilot.sign(pid, "wellbeing", date(2026, 11, 10))
    pilot.answer(pid, "baseline", date(2026, 11, 20))
    other = pilot.citizen(name="Łukasz Śliwiński")
    pilot.refer(other, date(2026, 11, 20))
    return pilot


def test_deleting_a_citizen_shreds_keys_and_rows_and_keeps_consents(
    pilot: Pilot, ctx: AppContext
) -> None:
    consents_before = _count(ctx, Consent)
    events_before = _count(ctx, ConsentEvent)
    with session_scope(ctx.sessions) as session:
        citizen = session.scalar(
            select(Citizen).where(Citizen.cpr_index.is_not(None)).order_by(Citizen.id)
        )
        assert citizen is not None
        pid = citizen.public_id
        record = delete_citizen(session, ctx.deps, pilot.actor, citizen, rule="pilot_end")
    assert record.rows == {
        "citizen_identity": 1, "data_keys": 2, "citizen_changes": 0, "referral": 1,
        "wellbeing_answers": 1, "signed_scans": 2, "worklist_tasks": 0,
    }  # fmt: skip
    with ctx.sessions() as session:
        tomb = session.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert tomb is not None
        assert tomb.deleted_at is not None
        assert (tomb.cpr_index, tomb.cpr_sealed, tomb.name_sealed) == (None, None, None)
        assert (
            session.scalars(select(CitizenKey).where(CitizenKey.citizen_id == tomb.id)).all() == []
        )
        assert (
            session.scalar(
                select(func.count()).select_from(Referral).where(Referral.citizen_id == tomb.id)
            )
            == 0
        )
        assert session.scalar(select(func.count()).select_from(WellbeingResponse)) == 0
        assert session.scalar(select(func.count()).select_from(ConsentScan)) == 0
        pending = session.scalars(
            select(Job).where(Job.citizen_id == tomb.id, Job.status == "pending")
        ).all()
        assert pending == []
        # Nobody finds the citizen any more, by id or by CPR.
        with pytest.raises(NotFound):
            citizens.citizen_in_organisation(session, tomb.organisation_id, pid)
        assert (
            citizens.find_by_cpr(session, ctx.deps, pilot.actor, tomb.organisation_id, CPR) is None
        )
        assert verify_chain(session, ctx.crypto.public_key).intact
    # What proves the consents stays (GDPR art. 7(1)), without identity.
    assert _count(ctx, Consent) == consents_before
    assert _count(ctx, ConsentEvent) == events_before
    # The deletion record: rule, counts, a hash; nothing personal.
    [event] = pilot.events("citizen.deleted")
    assert event.resource_id == pid
    assert '"rule":"pilot_end"' in event.details
    assert '"hash":"' in event.details
    for secret in (NAME, CPR, CPR.replace("-", ""), "Yılmaz"):
        assert secret not in event.details
    # The other citizen is untouched and still decrypts.
    with ctx.sessions() as session:
        other = session.scalar(select(Citizen).where(Citizen.deleted_at.is_(None)))
        assert other is not None
        assert citizens.decrypt(ctx.deps, other).name == "Łukasz Śliwiński"


def test_deleting_twice_changes_nothing_more(pilot: Pilot, ctx: AppContext) -> None:
    with session_scope(ctx.sessions) as session:
        citizen = session.scalar(select(Citizen).order_by(Citizen.id))
        assert citizen is not None
        delete_citizen(session, ctx.deps, pilot.actor, citizen, rule="pilot_end")
        again = delete_citizen(session, ctx.deps, pilot.actor, citizen, rule="pilot_end")
    assert again.rows == {}
    assert len(pilot.events("citizen.deleted")) == 1


def test_dry_run_counts_and_changes_nothing_then_pilot_end_deletes_all(
    pilot: Pilot, ctx: AppContext
) -> None:
    keys = _count(ctx, CitizenKey)
    with session_scope(ctx.sessions) as session:
        plan = plan_pilot_end(session, pilot.organisation_id)
    assert plan.citizens == 2
    assert plan.rows["data_keys"] == keys == 3
    assert plan.rows["referral"] == 2
    assert plan.kept["consent_records"] == 2
    assert plan.kept["deletion_records"] == 3  # one per citizen and the summary
    assert plan.allowed_from == date(2028, 7, 1)
    assert plan.deadline == default_schedule().categories["citizen_identity"].keep.after(
        default_schedule().pilot_end
    )
    assert _count(ctx, CitizenKey) == keys  # nothing changed
    with session_scope(ctx.sessions) as session, pytest.raises(RuleRefusal):
        run_pilot_end(session, ctx.deps, pilot.actor, pilot.organisation_id, date(2028, 6, 30))
    assert _count(ctx, CitizenKey) == keys
    with session_scope(ctx.sessions) as session:
        total = run_pilot_end(
            session, ctx.deps, pilot.actor, pilot.organisation_id, date(2028, 7, 1)
        )
    assert total.rows["citizen_identity"] == 2
    assert _count(ctx, CitizenKey) == 0
    assert _count(ctx, Consent) == 2
    assert len(pilot.events("citizen.deleted")) == 2
    [summary] = pilot.events("retention.pilot_end_deleted")
    assert '"citizens":2' in summary.details


def test_a_deletion_and_its_audit_event_commit_together(
    pilot: Pilot, ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant 2: if the audit append fails, the deletion is rolled back too."""
    keys = _count(ctx, CitizenKey)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("audit store unavailable")

    def delete_first() -> None:
        with session_scope(ctx.sessions) as session:
            citizen = session.scalar(select(Citizen).order_by(Citizen.id))
            assert citizen is not None
            delete_citizen(session, ctx.deps, pilot.actor, citizen, rule="pilot_end")

    monkeypatch.setattr(ctx.audit, "record", broken)
    with pytest.raises(RuntimeError):
        delete_first()
    monkeypatch.undo()
    assert _count(ctx, CitizenKey) == keys
    with ctx.sessions() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Citizen).where(Citizen.deleted_at.is_not(None))
            )
            == 0
        )


def test_the_worker_purges_sessions_past_their_retention(pilot: Pilot, ctx: AppContext) -> None:
    from consent_service.identity.models import UserSession
    from consent_service.worker.runner import run_due

    now = ctx.clock.now()

    def add(sid: str, ended_days_ago: int | None, expires_days_ago: int) -> None:
        ended = None if ended_days_ago is None else now - timedelta(days=ended_days_ago)
        with session_scope(ctx.sessions) as session:
            session.add(
                UserSession(
                    id=sid, user_id=pilot.actor.user_id, stage="active", csrf_token="x" * 32,
                    created_at=now - timedelta(days=60), last_seen_at=now - timedelta(days=60),
                    expires_at=now - timedelta(days=expires_days_ago),
                    ended_at=ended,
                )
            )  # fmt: skip

    add("old-ended", 40, 39)
    add("old-expired", None, 31)
    add("recent", 10, 9)
    add("live", None, -1)
    run_due(ctx.sessions, ctx.deps, worker="w1")
    with ctx.sessions() as session:
        left = set(session.scalars(select(UserSession.id)).all())
    assert {"recent", "live"} <= left
    assert not {"old-ended", "old-expired"} & left
    [purge] = pilot.events("retention.sessions_purged")
    assert '"rows":2' in purge.details


def test_a_deletion_waits_for_a_running_extract_execution(pilot: Pilot, ctx: AppContext) -> None:
    """An execution's snapshot holds the citizens' wrapped keys: a deletion must not
    commit while one runs, or the extract would decrypt a citizen deleted meanwhile."""
    if ctx.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers already: every transaction begins IMMEDIATE")
    done = threading.Event()
    outcome: dict[str, object] = {}

    def delete() -> None:
        try:
            with session_scope(ctx.sessions) as session:
                outcome["pid"] = session.scalar(text("SELECT pg_backend_pid()"))
                citizen = session.scalar(
                    select(Citizen).where(Citizen.cpr_index.is_not(None)).order_by(Citizen.id)
                )
                assert citizen is not None
                delete_citizen(session, ctx.deps, SYSTEM, citizen, "test")
        except BaseException as exc:
            outcome["failed"] = exc
        finally:
            done.set()

    def deletion_waits() -> bool:
        with ctx.engine.connect() as conn:
            return bool(
                conn.scalar(
                    text("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = :p AND NOT granted)"),
                    {"p": outcome.get("pid", 0)},
                )
            )

    with session_scope(ctx.sessions) as execution:
        org = execution.scalars(select(Citizen.organisation_id)).first()
        assert org is not None
        consents_repo.lock_consents_for_use(execution, org)  # as extracts.execution.execute_request
        deleting = threading.Thread(target=delete)
        deleting.start()
        for _ in range(3000):  # a bounded poll until the deletion is seen waiting
            if done.wait(0.01) or deletion_waits():
                break
        assert not done.is_set(), outcome  # it did not get through while the execution ran
        assert _count(ctx, CitizenKey) > 0
    deleting.join(60)
    assert "failed" not in outcome, outcome
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).where(Citizen.deleted_at.is_not(None))) == 1

"""The worker keeps the schedule by itself: follow-ups and re-consents appear on the
worklist on the right days and disappear when their reason is gone; a job re-checks its
condition when it runs; changed settings re-plan jobs not yet run; failures are retried
with back-off; two workers never run the same job twice. The clock is moved, not slept."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from consent_service.audit.service import verify_chain
from consent_service.cli import main
from consent_service.clock import FixedClock
from consent_service.consents.models import ConsentEvent
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.jobs.models import Job
from consent_service.jobs.planner import FOLLOW_UP, RECONSENT, SHRED_WELLBEING, replan_all
from consent_service.worker import runner
from consent_service.worker.runner import run_due
from tests.scenario import Pilot

REFERRED = date(2026, 11, 2)  # Hold 2: the 2-year measurement needs data until the pilot ends
SIGNED = date(2026, 11, 10)  # a journal consent signed then covers up to 2027-11-09
EXPIRY = date(2027, 11, 9)


@pytest.fixture
def pilot(ctx: AppContext, clock: FixedClock) -> Pilot:
    return Pilot.start(ctx, clock)


def _with_journal_consent(pilot: Pilot) -> tuple[str, str]:
    pilot.at(REFERRED)
    pid = pilot.citizen()
    pilot.refer(pid, REFERRED)
    return pid, pilot.sign(pid, "journal", SIGNED)


def test_follow_up_appears_on_its_day_turns_overdue_and_goes_when_answered(pilot: Pilot) -> None:
    pilot.at(REFERRED)
    pid = pilot.citizen()
    pilot.refer(pid, REFERRED)
    pilot.sign(pid, "wellbeing", date(2026, 11, 20))
    pilot.answer(pid, "baseline", date(2026, 12, 1))

    pilot.run(date(2027, 5, 31))
    assert pilot.open_tasks(pid) == []  # not yet: due 6 months after baseline
    summary = pilot.run(date(2027, 6, 1))
    assert summary.done == 1
    [task] = pilot.open_tasks(pid)
    assert (task.kind, task.due_on, task.overdue_on) == (
        FOLLOW_UP,
        date(2027, 6, 1),
        date(2027, 8, 1),
    )
    assert "01-06-2027" in task.reason
    assert "01-08-2027" in task.reason
    assert pilot.run(date(2027, 6, 2)).done == 0  # done once, not every day

    pilot.answer(pid, "follow_up", date(2027, 8, 15))
    assert pilot.open_tasks(pid) == []
    [follow_up_done] = pilot.events("job.done")
    assert FOLLOW_UP in follow_up_done.details


def test_reconsent_reminders_60_30_14_days_before_expiry(pilot: Pilot) -> None:
    pid, _ = _with_journal_consent(pilot)
    jobs = pilot.jobs(RECONSENT)
    assert sorted(j.due_on for j in jobs) == [EXPIRY] * 3
    assert sorted(j.run_after.date() for j in jobs) == [
        EXPIRY - timedelta(days=d + 1) for d in (60, 30, 14)
    ]  # midnight in Denmark is 23:00 UTC the day before

    pilot.run(EXPIRY - timedelta(days=61))
    assert pilot.open_tasks(pid) == []
    pilot.run(EXPIRY - timedelta(days=60))
    [task] = pilot.open_tasks(pid)
    assert (task.kind, task.due_on) == (RECONSENT, EXPIRY)
    assert "09-11-2027" in task.reason
    pilot.run(EXPIRY - timedelta(days=30))
    assert [j.outcome for j in pilot.jobs(RECONSENT) if j.status == "done"] == [
        "task opened",
        "task raised again",
    ]

    # The citizen re-consents 20 days before expiry: the last reminder is not needed.
    pilot.sign(pid, "journal", EXPIRY - timedelta(days=20))
    assert pilot.open_tasks(pid) == []
    pilot.run(EXPIRY - timedelta(days=14))
    statuses = {j.key.rsplit(":", 1)[1]: j.status for j in pilot.jobs(RECONSENT)}
    assert statuses == {"60": "done", "30": "done", "14": "dropped"}
    # The new consent lasts past the pilot's end: no reminders for it.
    assert [j for j in pilot.jobs(RECONSENT) if j.status == "pending"] == []


def test_a_job_rechecks_its_condition_when_it_runs(pilot: Pilot, ctx: AppContext) -> None:
    """The withdrawal is written behind the planner's back: only the run-time check can
    catch it. The reminder is dropped and no task is opened."""
    pid, consent_pid = _with_journal_consent(pilot)
    consent = pilot.consent(consent_pid)
    with session_scope(ctx.sessions) as session:
        session.add(
            ConsentEvent(
                consent_id=consent.id, event_type="withdrawn", occurred_on=date(2027, 3, 1),
                channel="phone", recorded_at=ctx.clock.now(), recorded_by=0,
            )
        )  # fmt: skip
    summary = pilot.run(EXPIRY - timedelta(days=60), replan=False)
    assert (summary.done, summary.dropped) == (0, 1)
    assert pilot.open_tasks(pid) == []
    outcomes = sorted((j.key.rsplit(":", 1)[1], j.status, j.outcome) for j in pilot.jobs(RECONSENT))
    assert outcomes == [
        ("14", "dropped", "replanned: not needed"),  # the run re-planned the rest
        ("30", "dropped", "replanned: not needed"),
        ("60", "dropped", "condition no longer holds"),
    ]
    assert len(pilot.events("job.dropped")) == 1


def test_reminder_for_a_deleted_citizen_is_dropped(pilot: Pilot, ctx: AppContext) -> None:
    pid, _ = _with_journal_consent(pilot)
    with session_scope(ctx.sessions) as session:
        from consent_service.citizens.models import Citizen

        citizen = session.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        citizen.deleted_at = ctx.clock.now()  # behind the planner's back
    summary = pilot.run(EXPIRY - timedelta(days=60), replan=False)
    assert (summary.done, summary.dropped) == (0, 1)
    assert pilot.open_tasks() == []


def test_changed_settings_replan_jobs_not_yet_run(pilot: Pilot, ctx: AppContext) -> None:
    _with_journal_consent(pilot)
    pilot.run(EXPIRY - timedelta(days=60))  # the 60-day reminder has run
    deps = pilot.with_settings(reconsent_reminder_days=[45, 7])
    with session_scope(ctx.sessions) as session:
        replan_all(session, deps)
    by_offset = {j.key.rsplit(":", 1)[1]: j for j in pilot.jobs(RECONSENT)}
    assert by_offset["60"].status == "done"  # what has run stays run
    assert by_offset["30"].status == by_offset["14"].status == "dropped"
    assert by_offset["30"].outcome == "replanned: not needed"
    assert by_offset["45"].status == by_offset["7"].status == "pending"
    assert by_offset["7"].run_after.date() == EXPIRY - timedelta(days=8)


def test_a_failing_job_is_retried_with_back_off_then_failed(
    pilot: Pilot, ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid, _ = _with_journal_consent(pilot)

    def broken(*args: object) -> str:
        raise RuntimeError("the register is down")

    monkeypatch.setitem(runner.HANDLERS, RECONSENT, broken)
    pilot.at(EXPIRY - timedelta(days=60), hour=6)
    delays = []
    for attempt in range(1, ctx.settings.job_max_attempts + 1):
        summary = run_due(ctx.sessions, ctx.deps, worker="w1", replan=False, limit=1)
        [job] = [j for j in pilot.jobs(RECONSENT) if j.attempts > 0]
        assert job.attempts == attempt
        assert job.last_error == "RuntimeError"  # the type only, never the message
        if attempt < ctx.settings.job_max_attempts:
            assert (summary.retried, job.status) == (1, "pending")
            delays.append(job.run_after - ctx.clock.now())
            pilot.clock.set(job.run_after)
        else:
            assert (summary.failed, job.status) == (1, "failed")
    assert delays == [timedelta(seconds=60 * 2**i) for i in range(len(delays))]
    assert pilot.open_tasks(pid) == []  # nothing the broken handler did was kept
    failures = pilot.events("job.failed")
    assert len(failures) == ctx.settings.job_max_attempts
    assert '"final":true' in failures[-1].details
    assert all("register is down" not in e.details for e in failures)


def test_two_workers_run_each_due_job_once(ctx: AppContext, clock: FixedClock) -> None:
    pilot = Pilot.start(ctx, clock)
    pilot.at(REFERRED)
    for _ in range(12):
        pid = pilot.citizen()
        pilot.refer(pid, REFERRED)
        pilot.sign(pid, "journal", SIGNED)
    pilot.at(EXPIRY - timedelta(days=13), hour=6)  # all three reminders of each are due
    due = len([j for j in pilot.jobs(RECONSENT) if j.status == "pending"])
    assert due == 36
    results: dict[str, runner.RunSummary] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(name: str) -> None:
        try:
            start.wait()
            results[name] = run_due(ctx.sessions, ctx.deps, worker=name, replan=False)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in ("wA", "wB")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert results["wA"].done + results["wB"].done == due
    jobs = pilot.jobs(RECONSENT)
    wrong = [(j.key, j.status, j.attempts, j.outcome, j.finished_by) for j in jobs
             if j.status != "done" or j.attempts != 1]  # fmt: skip
    assert wrong == [], (
        results,
        [e.details for e in pilot.events("job.done") if wrong[0][0].split(":")[1] in e.details],
        [(e.action, e.details) for e in pilot.events("job.failed")],
    )
    done_events = pilot.events("job.done")
    assert len(done_events) == due
    assert len({e.details for e in done_events}) == due  # each job once
    assert len(pilot.open_tasks()) == 12
    with ctx.sessions() as session:
        assert verify_chain(session, ctx.crypto.public_key).intact


def test_withdrawn_wellbeing_answers_are_deleted_by_the_worker(
    pilot: Pilot, ctx: AppContext
) -> None:
    pilot.at(REFERRED)
    pid = pilot.citizen()
    pilot.refer(pid, REFERRED)
    consent_pid = pilot.sign(pid, "wellbeing", date(2026, 11, 20))
    pilot.answer(pid, "baseline", date(2026, 12, 1))
    pilot.withdraw(pid, consent_pid, date(2027, 1, 10))
    [job] = pilot.jobs(SHRED_WELLBEING)
    assert job.status == "pending"
    assert job.due_on == date(2027, 2, 9)  # 30 days after withdrawal: the retention schedule
    summary = pilot.run(date(2027, 1, 10))
    assert summary.done == 1
    with ctx.sessions() as session:
        from consent_service.citizens.models import CitizenKey
        from consent_service.wellbeing.models import WellbeingResponse

        assert session.scalars(select(WellbeingResponse)).all() == []
        purposes = session.scalars(select(CitizenKey.purpose)).all()
    assert purposes == ["identity"]
    [deleted] = pilot.events("wellbeing.deleted")
    assert '"wellbeing_answers":1' in deleted.details
    assert '"hash":' in deleted.details
    assert pilot.open_tasks(pid) == []  # no follow-up after a withdrawal
    assert [j.status for j in pilot.jobs(FOLLOW_UP)] == ["dropped"]
    assert pilot.run(date(2027, 1, 11)).done == 0  # nothing left to do


def test_jobs_table_never_holds_personal_data(pilot: Pilot, ctx: AppContext) -> None:
    _with_journal_consent(pilot)
    pilot.run(EXPIRY - timedelta(days=60))
    with ctx.sessions() as session:
        rows = session.scalars(select(Job)).all()
    text = " ".join(f"{j.key} {j.outcome} {j.last_error}" for j in rows)
    assert "Ayşe" not in text
    assert "Yılmaz" not in text


def test_run_due_and_worker_once_from_the_command_line(
    pilot: Pilot,
    ctx: AppContext,
    test_keys: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The commands run on the wall clock: a withdrawal recorded in the past leaves a
    deletion job that is due now; the worker runs it once, the cron pass finds nothing."""
    pilot.at(REFERRED)
    pid = pilot.citizen()
    pilot.refer(pid, REFERRED)
    consent_pid = pilot.sign(pid, "wellbeing", date(2026, 11, 10))
    pilot.answer(pid, "baseline", date(2026, 11, 11))
    pilot.withdraw(pid, consent_pid, date(2026, 11, 12))
    monkeypatch.setenv("CONSENT_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("CONSENT_DATABASE_URL", ctx.settings.database_url)
    for name, value in test_keys.items():
        monkeypatch.setenv(f"CONSENT_{name.upper()}", value)
    capsys.readouterr()
    assert main(["worker", "--once"]) == 0
    assert ": 1 done, 0 dropped, 0 to retry, 0 failed" in capsys.readouterr().out
    assert main(["run-due"]) == 0
    assert capsys.readouterr().out.strip() == "jobs: 0 done, 0 dropped, 0 to retry, 0 failed"
    assert [j.status for j in pilot.jobs(SHRED_WELLBEING)] == ["done"]
    assert len(pilot.events("wellbeing.deleted")) == 1

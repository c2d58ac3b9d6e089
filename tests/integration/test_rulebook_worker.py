"""The worker and the rulebook (issue 17): a lapsed sign-off is recorded once per sign-off
and state of the files (``rulebook.lapsed``) and alerts the DPO once, also with workers
in parallel; the nightly run of the scenarios (``CONSENT_RULES_VERIFY_HOUR``) happens once
per local day after that hour, never when unset. Rules in a copied folder: the real files
are never touched. The nightly tests replace the subprocess run by a recorded list (the
run itself is tested in test_rules_verify.py)."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from consent_service.audit.models import AuditAlert, AuditEvent
from consent_service.audit.recorder import SYSTEM, Actor
from consent_service.clock import FixedClock
from consent_service.config import REPO_ROOT
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.rulebook import service, tasks, verify
from consent_service.rulebook.models import RulebookVerification
from consent_service.rulebook.service import ScenarioOutcome
from consent_service.worker.runner import housekeeping
from tests.conftest import enrolled_person, make_settings

RULE_FOLDERS = ("features", "policies", "retention", "templates")


@pytest.fixture
def rules_root(tmp_path: Path) -> Path:
    root = tmp_path / "rules"
    for folder in RULE_FOLDERS:
        shutil.copytree(REPO_ROOT / folder, root / folder)
    return root


def _context(
    db_url: str, keys: dict[str, str], clock: FixedClock, root: Path, **extra: object
) -> AppContext:
    return AppContext.build(make_settings(db_url, keys, rules_root=root, **extra), clock)


@pytest.fixture
def rctx(
    db_url: str, test_keys: dict[str, str], clock: FixedClock, rules_root: Path
) -> Iterator[AppContext]:
    context = _context(db_url, test_keys, clock, rules_root)
    yield context
    context.engine.dispose()


def _approve(ctx: AppContext, root: Path) -> None:
    jurist = enrolled_person(ctx, "legal_adviser")
    actor = Actor().as_user(jurist.user_id, jurist.username, jurist.organisation_id)
    with session_scope(ctx.sessions) as s:
        service.approve(
            s, ctx.deps, actor, jurist.user_id, jurist.organisation_id, root, "Godkendt."
        )


def _change(root: Path, line: str = "# ændret\n") -> None:
    path = root / "policies" / "cohorts.yaml"
    path.write_text(path.read_text(encoding="utf-8") + line, encoding="utf-8")


def _events(ctx: AppContext, action: str) -> list[AuditEvent]:
    with ctx.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _alerts(ctx: AppContext) -> list[AuditAlert]:
    with ctx.sessions() as s:
        return list(s.scalars(select(AuditAlert).where(AuditAlert.rule == "rulebook_lapsed")))


def _pass(ctx: AppContext, clock: FixedClock) -> None:
    clock.advance(timedelta(minutes=1))
    housekeeping(ctx.sessions, ctx.deps)


def test_a_lapse_is_recorded_once_per_sign_off_and_files_and_alerts_once(
    rctx: AppContext, clock: FixedClock, rules_root: Path
) -> None:
    _pass(rctx, clock)  # never signed off: nothing lapses
    _approve(rctx, rules_root)
    _pass(rctx, clock)  # unchanged
    assert _events(rctx, "rulebook.lapsed") == []

    _change(rules_root)
    for _ in range(3):
        _pass(rctx, clock)
    [event] = _events(rctx, "rulebook.lapsed")
    details = json.loads(event.details)
    assert details["digest"] == service.rules_digest(rules_root)
    assert details["changed"] == 1
    assert (event.resource_type, event.outcome) == ("rulebook", "success")
    [alert] = _alerts(rctx)
    assert alert.event_count == 1

    _change(rules_root, "# igen\n")  # another state of the files: recorded again
    _pass(rctx, clock)
    _pass(rctx, clock)
    assert len(_events(rctx, "rulebook.lapsed")) == 2

    _approve(rctx, rules_root)  # a new sign-off covers it: nothing more
    _pass(rctx, clock)
    assert len(_events(rctx, "rulebook.lapsed")) == 2


def test_workers_in_parallel_record_the_lapse_once(
    db_url: str, test_keys: dict[str, str], clock: FixedClock, rules_root: Path
) -> None:
    workers = [_context(db_url, test_keys, clock, rules_root) for _ in range(4)]
    _approve(workers[0], rules_root)
    _change(rules_root)
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def work(ctx: AppContext) -> None:
        try:
            start.wait()
            tasks.note_lapse(ctx.sessions, ctx.deps, SYSTEM)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(_events(workers[0], "rulebook.lapsed")) == 1
    for w in workers:
        w.engine.dispose()


def test_a_broken_rule_file_does_not_stop_the_workers_pass(
    rctx: AppContext, clock: FixedClock, rules_root: Path
) -> None:
    _approve(rctx, rules_root)
    (rules_root / "policies" / "rulebook.yaml").write_text("version: [\n", encoding="utf-8")
    _pass(rctx, clock)  # the rest of housekeeping still runs
    assert _events(rctx, "rulebook.lapsed") == []


# --- the nightly run -----------------------------------------------------------------------

OUTCOMES = [ScenarioOutcome("features/cpr.feature", "Et ciffer for lidt", "passed")]


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Each nightly run's rules root, instead of running the subprocess."""
    seen: list[Path] = []

    def run(root: Path, features: object = (), *, timeout: float = 0) -> list[ScenarioOutcome]:
        seen.append(root)
        return OUTCOMES

    monkeypatch.setattr(verify, "run_scenarios", run)
    return seen


def _at(clock: FixedClock, when: datetime) -> None:
    clock.advance(when - clock.now())


def test_no_nightly_run_unless_enabled(
    rctx: AppContext, clock: FixedClock, runs: list[Path]
) -> None:
    _pass(rctx, clock)
    assert runs == []
    assert _events(rctx, "rulebook.verify_started") == []


def test_the_nightly_run_happens_once_per_local_day_after_the_hour(
    db_url: str, test_keys: dict[str, str], clock: FixedClock, rules_root: Path,
    runs: list[Path],
) -> None:  # fmt: skip
    ctx = _context(db_url, test_keys, clock, rules_root, rules_verify_hour=2)
    _at(clock, datetime(2026, 11, 24, 0, 30, tzinfo=UTC))  # 01:30 in Copenhagen: too early
    _pass(ctx, clock)
    assert runs == []
    _at(clock, datetime(2026, 11, 24, 1, 5, tzinfo=UTC))  # 02:05 local
    _pass(ctx, clock)
    _pass(ctx, clock)
    _at(clock, datetime(2026, 11, 24, 22, 0, tzinfo=UTC))  # 23:00 local, same day
    _pass(ctx, clock)
    assert runs == [rules_root]
    [started] = _events(ctx, "rulebook.verify_started")
    [verified] = _events(ctx, "rulebook.verified")
    assert json.loads(started.details)["run"] == json.loads(verified.details)["run"]
    with ctx.sessions() as s:
        [row] = s.scalars(select(RulebookVerification)).all()
    assert row.run_id == started.resource_id
    _at(clock, datetime(2026, 11, 25, 1, 1, tzinfo=UTC))  # the next day, 02:01 local
    _pass(ctx, clock)
    assert len(runs) == 2
    ctx.engine.dispose()


def test_a_nightly_run_that_cannot_happen_is_not_retried_that_day(
    db_url: str, test_keys: dict[str, str], clock: FixedClock, rules_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    tries: list[int] = []

    def unavailable(*args: object, **kwargs: object) -> list[ScenarioOutcome]:
        tries.append(1)
        raise verify.VerifyUnavailable("cannot run the scenarios: pytest_bdd is missing")

    monkeypatch.setattr(verify, "run_scenarios", unavailable)
    ctx = _context(db_url, test_keys, clock, rules_root, rules_verify_hour=0)
    _pass(ctx, clock)
    _pass(ctx, clock)
    assert len(tries) == 1
    assert len(_events(ctx, "rulebook.verify_started")) == 1
    assert _events(ctx, "rulebook.verified") == []
    ctx.engine.dispose()

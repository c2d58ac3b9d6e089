"""``consent-service rules verify`` (issue 17): the Danish scenarios run against the
installed service in a pytest subprocess on a scratch SQLite database, each scenario's
outcome recorded with the code version and the rules' digest, audited; nothing recorded
when they cannot run. The runs here use a tiny synthetic rules root (a feature, its steps)
except one, which runs features/cpr.feature of this checkout end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import Actor
from consent_service.cli import main
from consent_service.config import REPO_ROOT
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.errors import InvalidInput
from consent_service.rulebook import book, service, tasks, verify
from consent_service.rulebook.models import RulebookVerification
from consent_service.rulebook.service import ScenarioOutcome

RULE_FOLDERS = ("features", "policies", "retention", "templates")
OPERATOR = Actor(username="cli:test", source_ip="local")

TINY_FEATURE = """# language: da
Egenskab: Lige tal
  Scenarie: To er lige
    Givet tallet 2
    Så er tallet lige

  Scenarie: Tre er ikke lige
    Givet tallet 3
    Så er tallet lige

  Abstrakt Scenario: Tallet <tal> er lige
    Givet tallet <tal>
    Så er tallet lige

    Eksempler:
      | tal |
      | 4   |
      | 5   |

  Abstrakt Scenario: Tallet <tal> er også lige
    Givet tallet <tal>
    Så er tallet lige

    Eksempler:
      | tal |
      | 6   |
      | 8   |
"""
OTHER_FEATURE = """# language: da
Egenskab: Ulige tal
  Scenarie: Syv er ulige
    Givet tallet 7
    Så er tallet ulige
"""
TINY_STEPS = """
import pytest
from pytest_bdd import given, parsers, then


@given(parsers.parse("tallet {n:d}"), target_fixture="number")
def _number(n):
    return n


@then("er tallet lige")
def _even(number):
    assert number % 2 == 0


@then("er tallet ulige")
def _odd(number):
    assert number % 2 == 1
"""
TINY_EXPECTED = [
    ScenarioOutcome("features/lige.feature", "Tallet <tal> er lige", "failed"),
    ScenarioOutcome("features/lige.feature", "Tallet <tal> er også lige", "passed"),
    ScenarioOutcome("features/lige.feature", "To er lige", "passed"),
    ScenarioOutcome("features/lige.feature", "Tre er ikke lige", "failed"),
    ScenarioOutcome("features/ulige.feature", "Syv er ulige", "passed"),
]


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    """A rules root: the real rule files (for the digest), plus two synthetic features
    and their steps under tests/bdd."""
    root = tmp_path / "rules"
    for folder in RULE_FOLDERS:
        shutil.copytree(REPO_ROOT / folder, root / folder)
    (root / "features" / "lige.feature").write_text(TINY_FEATURE, encoding="utf-8")
    (root / "features" / "ulige.feature").write_text(OTHER_FEATURE, encoding="utf-8")
    with (root / "policies" / "rulebook.yaml").open("a", encoding="utf-8") as mapping:
        mapping.write(
            "\n  lige.feature: {laws: [own_rules]}\n  ulige.feature: {laws: [own_rules]}\n"
        )
    bdd = root / "tests" / "bdd"
    bdd.mkdir(parents=True)
    (bdd / "conftest.py").write_text(TINY_STEPS, encoding="utf-8")
    (bdd / "test_lige.py").write_text(
        'from pytest_bdd import scenarios\n\nscenarios("../../features/lige.feature")\n'
        'scenarios("../../features/ulige.feature")\n',
        encoding="utf-8",
    )
    return root


def _rows(ctx: AppContext) -> list[RulebookVerification]:
    with ctx.sessions() as s:
        return list(s.scalars(select(RulebookVerification).order_by(RulebookVerification.id)))


def _events(ctx: AppContext, action: str) -> list[AuditEvent]:
    with ctx.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _use_service(
    monkeypatch: pytest.MonkeyPatch, ctx: AppContext, keys: dict[str, str], root: Path
) -> None:
    """The CLI's settings from the environment: this test's database and keys."""
    monkeypatch.setenv("CONSENT_ENV_FILE", str(root.parent / "absent.env"))
    monkeypatch.setenv("CONSENT_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("CONSENT_RULES_ROOT", str(root))
    monkeypatch.setenv("CONSENT_AUDIT_ORIGIN", ctx.settings.audit_origin)
    for name, value in keys.items():
        monkeypatch.setenv(f"CONSENT_{name.upper()}", value)


def test_the_plugin_writes_each_scenarios_outcome(tiny_root: Path, tmp_path: Path) -> None:
    """A scenario passes only if every run of it passed (an outline: every example); the
    feature is named by its path from the rules root, the scenario as written."""
    out = tmp_path / "outcomes.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(tiny_root / "tests" / "bdd"), "-q",
         "-p", verify.PLUGIN, "--rules-verify-json", str(out),
         "--rules-verify-root", str(tiny_root), "-p", "no:cacheprovider",
         "--basetemp", str(tmp_path / "base")],
        cwd=tiny_root, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout  # some failed
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data == {"scenarios": [o.__dict__ for o in TINY_EXPECTED]}


def test_one_feature_only(tiny_root: Path) -> None:
    assert verify.run_scenarios(tiny_root, ["features/ulige.feature"]) == [TINY_EXPECTED[-1]]


def test_the_cli_records_every_outcome_and_the_run(
    ctx: AppContext,
    test_keys: dict[str, str],
    tiny_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One row per scenario with the run, version, digest and time; ``rulebook.verified``
    with the counts; exit code 1 because scenarios failed, and they are named."""
    _use_service(monkeypatch, ctx, test_keys, tiny_root)
    assert main(["rules", "verify"]) == 1
    out = capsys.readouterr().out
    assert "FAILED features/lige.feature: Tre er ikke lige" in out
    assert "3 scenarios passed, 2 failed" in out
    rows = _rows(ctx)
    assert sorted((r.feature, r.scenario, r.outcome) for r in rows) == [
        (o.feature, o.scenario, o.outcome) for o in TINY_EXPECTED
    ]
    digest = service.rules_digest(tiny_root)
    assert {r.run_id for r in rows} == {rows[0].run_id}
    assert {r.rules_digest for r in rows} == {digest}
    assert all(r.code_version.startswith("0.1.0") for r in rows)
    [event] = _events(ctx, "rulebook.verified")
    assert json.loads(event.details) == {
        "run": rows[0].run_id, "passed": 3, "failed": 2, "digest": digest,
    }  # fmt: skip
    assert event.resource_type == "rulebook"
    assert event.resource_id == rows[0].run_id


@pytest.mark.parametrize("broken", ["no pytest-bdd", "no tests", "no such feature"])
def test_cannot_run_says_why_and_records_nothing(
    ctx: AppContext,
    test_keys: dict[str, str],
    tiny_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    broken: str,
) -> None:
    _use_service(monkeypatch, ctx, test_keys, tiny_root)
    args = ["rules", "verify"]
    if broken == "no pytest-bdd":
        real = verify.importlib.util.find_spec
        monkeypatch.setattr(
            verify.importlib.util, "find_spec",
            lambda name, *a: None if name == "pytest_bdd" else real(name, *a),
        )  # fmt: skip
    elif broken == "no tests":
        shutil.rmtree(tiny_root / "tests")
    else:
        args += ["--feature", "ingen.feature"]
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    expected = {
        "no pytest-bdd": "pytest_bdd is missing; install the test extras",
        "no tests": "no tests/bdd under the rules root",
        "no such feature": "no feature file features/ingen.feature",
    }[broken]
    assert expected in lines[0]
    assert _rows(ctx) == []
    assert _events(ctx, "rulebook.verified") == []


def test_a_failed_recording_leaves_neither_rows_nor_event(ctx: AppContext) -> None:
    """Rows and their audit event commit together: an unknown outcome records nothing."""
    bad = [TINY_EXPECTED[0], ScenarioOutcome("features/x.feature", "x", "skipped")]
    with pytest.raises(InvalidInput, match="unknown outcome"), session_scope(ctx.sessions) as s:
        service.record_verification(s, ctx.deps, OPERATOR, "r1", bad, "0.1.0", "d" * 64)
    assert _rows(ctx) == []
    assert _events(ctx, "rulebook.verified") == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_end_to_end_the_cpr_feature_against_the_installed_service(
    ctx: AppContext,
    test_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The one real run: features/cpr.feature of this checkout with its real steps, in a
    subprocess; every scenario of it passes and is recorded (the service's database
    engine does not matter to the run, so SQLite only)."""
    monkeypatch.setenv("CONSENT_ENV_FILE", str(Path(os.devnull)))
    monkeypatch.setenv("CONSENT_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("CONSENT_AUDIT_ORIGIN", ctx.settings.audit_origin)
    for name, value in test_keys.items():
        monkeypatch.setenv(f"CONSENT_{name.upper()}", value)
    assert main(["rules", "verify", "--feature", "cpr.feature"]) == 0, capsys.readouterr()
    rows = _rows(ctx)
    cpr = book.parse_feature((REPO_ROOT / "features/cpr.feature").read_text("utf-8"), "cpr")
    assert {(r.feature, r.scenario) for r in rows} == {
        ("features/cpr.feature", s.name) for s in cpr.scenarios
    }
    assert {r.outcome for r in rows} == {"passed"}
    assert len(_events(ctx, "rulebook.verified")) == 1


def test_nothing_ran_records_nothing(
    ctx: AppContext, tiny_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify, "run_scenarios", lambda *a, **k: [])
    with pytest.raises(verify.VerifyUnavailable, match="no scenario ran"):
        tasks.verify_and_record(ctx.sessions, ctx.deps, OPERATOR, tiny_root)
    assert _rows(ctx) == []


def test_the_scratch_run_uses_sqlite_only(tmp_path: Path) -> None:
    """The environment ``run_scenarios`` gives pytest narrows the database fixture to
    SQLite: no scenario of the run touches a PostgreSQL server."""
    env = verify._scratch_env(tmp_path)
    assert not any(k.startswith("CONSENT_") and k != "CONSENT_TEST_ENGINES" for k in env)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/bdd/test_rulebook.py", "--collect-only", "-q",
         "-p", "no:cacheprovider"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    ids = [line for line in done.stdout.splitlines() if "::" in line]
    assert ids, done.stdout
    assert all("[sqlite]" in i for i in ids), ids

"""Running the Danish scenarios against the installed service: pytest, in a subprocess,
over ``<rules root>/tests/bdd`` with the very step code the tests use, nothing mocked, on
a scratch SQLite database in a temporary folder (never the service's own database: the
steps create citizens). The plugin ``verify_plugin`` writes each scenario's outcome to a
JSON file, read back here. No database access here; ``tasks`` records the run."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from consent_service.rulebook.service import OUTCOMES, ScenarioOutcome

PLUGIN = "consent_service.rulebook.verify_plugin"
SCENARIO_TESTS = "tests/bdd"
# The settings and test switches of the service are not the scratch run's: every
# CONSENT_* variable is dropped, then the scenarios are told to use SQLite only.
SCRATCH_ENV = {"CONSENT_TEST_ENGINES": "sqlite", "PYTHONDONTWRITEBYTECODE": "1"}
DEFAULT_TIMEOUT = 3600.0
INSTALL_HINT = "install the test extras: pip install 'consent-service[test]'"


class VerifyUnavailable(Exception):
    """The scenarios cannot be run here; one line saying why and what to do."""


def check_tools(root: Path) -> None:
    """Raise ``VerifyUnavailable`` unless pytest, pytest-bdd and the scenarios' tests are
    there."""
    for module in ("pytest", "pytest_bdd"):
        if importlib.util.find_spec(module) is None:
            raise VerifyUnavailable(
                f"cannot run the scenarios: {module} is missing; {INSTALL_HINT}"
            )
    if not (root / SCENARIO_TESTS / "conftest.py").is_file():
        raise VerifyUnavailable(
            f"cannot run the scenarios: no {SCENARIO_TESTS} under the rules root {root}; "
            "use a checkout of the repository as CONSENT_RULES_ROOT"
        )


def code_version(root: Path) -> str:
    """The installed package's version, with the commit of the rules root's checkout if it
    is one (``0.1.0+git.1a2b3c4d5e6f``)."""
    try:
        version = importlib.metadata.version("consent-service")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    try:
        found = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],  # noqa: S607
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return version
    commit = found.stdout.strip()
    if found.returncode != 0 or not commit.isalnum():
        return version
    return f"{version}+git.{commit}"[:100]


def _scratch_env(temp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    env.update(SCRATCH_ENV, TMPDIR=str(temp))
    return env


def _read_outcomes(path: Path) -> list[ScenarioOutcome]:
    data = json.loads(path.read_text(encoding="utf-8"))
    outcomes = []
    for row in data["scenarios"]:
        if row["outcome"] not in OUTCOMES:
            raise VerifyUnavailable(f"the scenario run wrote an unknown outcome {row['outcome']!r}")
        outcomes.append(ScenarioOutcome(str(row["feature"]), str(row["scenario"]), row["outcome"]))
    return outcomes


def run_scenarios(
    root: Path, features: Sequence[str] = (), *, timeout: float = DEFAULT_TIMEOUT
) -> list[ScenarioOutcome]:
    """Run the scenarios under ``root`` (only those of ``features``, paths from ``root``,
    if given) and return each one's outcome. ``VerifyUnavailable`` if they cannot run or
    the run breaks off before it has outcomes (a usage error, a timeout, a crash)."""
    root = root.resolve()
    check_tools(root)
    with tempfile.TemporaryDirectory(prefix="rules-verify-") as scratch:
        temp = Path(scratch)
        out = temp / "outcomes.json"
        args = [
            sys.executable, "-m", "pytest", str(root / SCENARIO_TESTS),
            "-p", PLUGIN, "--rules-verify-json", str(out), "--rules-verify-root", str(root),
            "-p", "no:cacheprovider", "--basetemp", str(temp / "pytest"),
            "-q", "--no-header", "-o", "addopts=",
        ]  # fmt: skip
        for feature in features:
            args += ["--rules-verify-feature", feature]
        try:
            done = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments, no shell
                args, cwd=root, env=_scratch_env(temp), capture_output=True, text=True,
                timeout=timeout, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise VerifyUnavailable(f"the scenarios did not finish within {timeout:g} s") from exc
        # pytest: 0 all passed, 1 some failed, 5 none collected; anything else broke off.
        if done.returncode not in (0, 1, 5) or not out.is_file():
            last = (done.stdout.strip().splitlines() or ["no output"])[-1]
            raise VerifyUnavailable(
                f"the scenario run broke off (pytest exit code {done.returncode}): {last}"
            )
        return _read_outcomes(out)

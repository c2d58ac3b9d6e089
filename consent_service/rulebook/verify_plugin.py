"""A pytest plugin for ``consent-service rules verify``: loaded into the pytest run of the
Danish scenarios (``-p consent_service.rulebook.verify_plugin``), it writes each
scenario's outcome to a JSON file, and can narrow the run to some feature files.

The JSON file (``--rules-verify-json``) holds ``{"scenarios": [{"feature": "features/
cpr.feature", "scenario": "...", "outcome": "passed"|"failed"}, ...]}``: the feature by
its path from the rules root (``--rules-verify-root``), the scenario by its name as
written (an outline's name with its ``<placeholders>``, as the Regelsamling shows it). A
scenario run several times (each example of an outline, each database engine) passed
only if every run passed; one whose runs were all skipped is left out. Only pytest and
pytest-bdd load this module, so it may import them (test extras)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd.scenario import scenario_wrapper_template_registry

OUTCOMES = ("passed", "failed")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rules-verify", "consent-service rules verify")
    group.addoption("--rules-verify-json", help="write each scenario's outcome to this file")
    group.addoption("--rules-verify-root", help="the rules root feature paths are relative to")
    group.addoption(
        "--rules-verify-feature",
        action="append",
        default=[],
        help="run only the scenarios of this feature file (path from the rules root); repeatable",
    )


def _scenario_of(item: pytest.Item, root: Path) -> tuple[str, str] | None:
    """(feature path from ``root``, scenario name as written) of a scenario's test item."""
    function = getattr(item, "obj", None)
    if function is None:
        return None
    try:
        template = scenario_wrapper_template_registry.get(function)
    except TypeError:  # not weakly referenceable: no scenario
        return None
    if template is None:
        return None
    path = Path(template.feature.filename).resolve()
    try:
        feature = path.relative_to(root).as_posix()
    except ValueError:
        feature = path.name
    return feature, template.name


class ScenarioOutcomes:
    """Collects the outcome of every scenario's test items and writes them at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.out = Path(config.getoption("rules_verify_json"))
        root = config.getoption("rules_verify_root") or str(config.rootpath)
        self.root = Path(root).resolve()
        self.only = {f.strip("/") for f in config.getoption("rules_verify_feature")}
        self.keys: dict[str, tuple[str, str]] = {}  # nodeid -> scenario
        self.outcomes: dict[tuple[str, str], set[str]] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        kept, dropped = [], []
        for item in items:
            key = _scenario_of(item, self.root)
            if key is None or (self.only and key[0] not in self.only):
                dropped.append(item)
                continue
            self.keys[item.nodeid] = key
            kept.append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        key = self.keys.get(report.nodeid)
        if key is None:
            return
        seen = self.outcomes.setdefault(key, set())
        if report.failed:
            seen.add("failed")
        elif report.when == "call" and report.passed:
            seen.add("passed")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        scenarios: list[dict[str, Any]] = []
        for (feature, name), seen in sorted(self.outcomes.items()):
            if not seen:
                continue  # every run skipped: not verified either way
            outcome = "failed" if "failed" in seen else "passed"
            scenarios.append({"feature": feature, "scenario": name, "outcome": outcome})
        self.out.write_text(
            json.dumps({"scenarios": scenarios}, ensure_ascii=False, indent=1), encoding="utf-8"
        )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("rules_verify_json"):
        config.pluginmanager.register(ScenarioOutcomes(config), "rules-verify-outcomes")

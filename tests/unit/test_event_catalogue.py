"""audit/events.yaml lists exactly the event types the code emits, with the details keys
they carry; the catalogue validates."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from consent_service.audit.catalogue import (
    ACTION_PATTERN,
    EventCatalogueError,
    load_event_catalogue,
)

PACKAGE = Path(__file__).resolve().parents[2] / "consent_service"


def _strings(node: ast.expr) -> list[str]:
    """The string constants an expression can evaluate to: a literal, either branch of a
    conditional expression, or any value or the default of a literal dict's ``get``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and isinstance(node.func.value, ast.Dict)
    ):
        values = [v for v in node.func.value.values if v is not None]
        return [s for v in [*values, *node.args[1:]] for s in _strings(v)]
    return []


def emitted_actions(root: Path) -> dict[str, set[str]]:
    """Every audit action the code under ``root`` can emit, with the details keys written
    next to it: ``action=`` keyword literals (and conditional literals), and literals
    assigned to a local named ``action`` (passed on as ``action=action``)."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                keywords = {k.arg: k.value for k in node.keywords if k.arg}
                if "action" not in keywords:
                    continue
                names = _strings(keywords["action"])
                details = keywords.get("details")
                keys = (
                    {k.value for k in details.keys if isinstance(k, ast.Constant)}
                    if isinstance(details, ast.Dict)
                    else set()
                )
                for name in names:
                    if re.fullmatch(ACTION_PATTERN, name):
                        found[name] |= {str(k) for k in keys}
            elif isinstance(node, ast.Assign):
                if any(isinstance(t, ast.Name) and t.id == "action" for t in node.targets):
                    for name in _strings(node.value):
                        if re.fullmatch(ACTION_PATTERN, name):
                            found.setdefault(name, set())
    return dict(found)


def differences(emitted: set[str], catalogued: set[str]) -> tuple[set[str], set[str]]:
    """(emitted but not catalogued, catalogued but never emitted)."""
    return emitted - catalogued, catalogued - emitted


def test_the_catalogue_lists_exactly_what_the_code_emits() -> None:
    emitted = set(emitted_actions(PACKAGE))
    missing, unused = differences(emitted, set(load_event_catalogue().actions))
    assert not missing, f"emitted but not in audit/events.yaml: {sorted(missing)}"
    assert not unused, f"in audit/events.yaml but never emitted: {sorted(unused)}"


def test_details_keys_are_declared_fields() -> None:
    catalogue = load_event_catalogue()
    undeclared = {
        action: sorted(keys - set(catalogue.events[action].fields))
        for action, keys in emitted_actions(PACKAGE).items()
        if action in catalogue.events and keys - set(catalogue.events[action].fields)
    }
    assert undeclared == {}


def test_the_comparison_catches_both_directions(tmp_path: Path) -> None:
    code = tmp_path / "pkg"
    code.mkdir()
    (code / "m.py").write_text(
        "def f(audit, s, a, ok):\n"
        "    audit.record(s, a, action='thing.done' if ok else 'thing.failed', details={'k': 1})\n"
        "    action = 'thing.other'\n"
        "    audit.record(s, a, action=action)\n"
        "    action = {1: 'thing.one', 2: 'thing.two'}.get(ok, 'thing.else')\n"
        "    parser.add_argument('--x', action='store_true')\n",
        encoding="utf-8",
    )
    emitted = emitted_actions(code)
    picked = {"thing.one": set(), "thing.two": set(), "thing.else": set()}
    assert emitted == {"thing.done": {"k"}, "thing.failed": {"k"}, "thing.other": set(), **picked}
    missing, unused = differences(set(emitted), {"thing.done", "thing.gone", *picked})
    assert missing == {"thing.failed", "thing.other"}
    assert unused == {"thing.gone"}


def test_citizen_events_have_citizen_wording() -> None:
    catalogue = load_event_catalogue()
    for action in ("citizen.read", "consent.recorded", "audit.citizen_lookup"):
        assert catalogue.events[action].citizen_da is not None


def test_retention_deadlines() -> None:
    catalogue = load_event_catalogue()
    at = datetime(2026, 8, 31, 12, tzinfo=UTC)
    assert catalogue.retention_deadline("citizen.read", at) == datetime(2027, 2, 28, 12, tzinfo=UTC)
    kept = catalogue.retention_deadline("consent.recorded", at)
    assert kept is not None
    assert kept.year == 2033
    assert catalogue.retention_deadline("not.catalogued", at) is None


def test_a_broken_catalogue_names_the_field(tmp_path: Path) -> None:
    source = (PACKAGE.parent / "audit" / "events.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "events.yaml"
    broken.write_text(source.replace("retention: {months: 6}", "retention: {weeks: 6}", 1))
    with pytest.raises(EventCatalogueError, match="retention"):
        load_event_catalogue(broken)

"""The layering, checked rather than remembered (STYLE.md, "Reacting to a change without
importing upward").

- The import-linter contracts in ``pyproject.toml`` (``[tool.importlinter]``): the HTTP edge
  above services above repositories and rules; no endpoint module imports another;
  citizens, consents and wellbeing below the scheduler; the unit of work alone; pure rules.
- No import cycle between modules, and none between the packages of ``consent_service``
  once the HTTP edge (endpoints, pages, the app, the CLIs) is set aside: the edge sits on
  top and may import any domain, so it is no part of a cycle between domains.

grimp (import-linter's graph) counts function-level imports too, so an import moved into a
function to dodge a cycle is still seen.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "consent_service"

# Modules of the HTTP and command-line edge: they sit above every domain.
EDGE = re.compile(
    r"(\.endpoints$|_endpoints$|\.cli$|^consent_service\.cli(\.|$)"
    r"|^consent_service\.(app|asgi)$|^consent_service\.web\.pages$)"
)

# Package-level imports that lie on a cycle between packages today (importer -> imported,
# both below ``consent_service``). This list only shrinks: an entry that is no longer on a
# cycle fails the test below, so remove it when the import that made it goes.
KNOWN_PACKAGE_CYCLE_EDGES: frozenset[str] = frozenset()


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, cache_dir=None)


def _reaches(edges: Mapping[str, Iterable[str]], start: str, goal: str) -> bool:
    seen, todo = {start}, [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def _on_cycle(edges: Mapping[str, Iterable[str]]) -> set[tuple[str, str]]:
    """Every edge a -> b for which b leads back to a."""
    return {(a, b) for a, targets in edges.items() for b in targets if _reaches(edges, b, a)}


def _package(module: str) -> str:
    return module.split(".")[1]


def test_import_contracts_are_kept() -> None:
    """``lint-imports`` with the contracts of pyproject.toml; its report on failure."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": str(lint_imports.parent)},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_unit_of_work_contract_names_every_top_level_module(graph: grimp.ImportGraph) -> None:
    """The "unit of work alone" contract lists what it forbids; a new top-level module or
    package must be on that list too."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (alone,) = [c for c in contracts if c["id"] == "unit-of-work-alone"]
    top_level = {".".join(m.split(".")[:2]) for m in graph.modules if m != PACKAGE}
    missing = sorted(top_level - set(alone["forbidden_modules"]) - {"consent_service.unit_of_work"})
    assert not missing, "add to the unit-of-work-alone contract: " + ", ".join(missing)


def test_no_import_cycle_between_modules(graph: grimp.ImportGraph) -> None:
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    cycles = sorted(f"{a} -> {b}" for a, b in _on_cycle(edges))
    assert not cycles, "imports on a cycle:\n" + "\n".join(cycles)


def test_no_import_cycle_between_packages(graph: grimp.ImportGraph) -> None:
    """Packages (``consent_service.<name>``, a top-level module counts as one) form no
    cycle, the HTTP edge aside; each import on a cycle is reported with its modules."""
    inner = {m for m in graph.modules if m != PACKAGE and not EDGE.search(m)}
    edges: dict[str, set[str]] = {}
    witnesses: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for module in inner:
        for imported in graph.find_modules_directly_imported_by(module) & inner:
            a, b = _package(module), _package(imported)
            if a != b:
                edges.setdefault(a, set()).add(b)
                witnesses.setdefault((a, b), []).append((module, imported))
    on_cycle = {f"{a} -> {b}": (a, b) for a, b in _on_cycle(edges)}
    new = sorted(set(on_cycle) - KNOWN_PACKAGE_CYCLE_EDGES)
    report = [
        f"{edge}\n" + "\n".join(f"    {_where(graph, *w)}" for w in sorted(witnesses[pair])[:5])
        for edge, pair in sorted(on_cycle.items())
        if edge in new
    ]
    assert not new, "package imports on a cycle:\n" + "\n".join(report)
    gone = sorted(KNOWN_PACKAGE_CYCLE_EDGES - set(on_cycle))
    assert not gone, "no longer on a cycle: remove from KNOWN_PACKAGE_CYCLE_EDGES:\n" + "\n".join(
        gone
    )


def _where(graph: grimp.ImportGraph, importer: str, imported: str) -> str:
    """``path:line: importer -> imported`` for a report."""
    relative = Path(*importer.split("."))
    path = relative / "__init__.py" if (ROOT / relative).is_dir() else relative.with_suffix(".py")
    details = graph.get_import_details(importer=importer, imported=imported)
    line = details[0]["line_number"] if details else 0
    return f"{path}:{line}: {importer} -> {imported}"


def test_every_endpoint_module_is_named_in_the_edge_contracts(graph: grimp.ImportGraph) -> None:
    """The edge contracts list endpoint modules by name (import-linter's wildcards match
    whole names only): a new ``*endpoints`` module must be listed, or it escapes them."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}
    endpoint_modules = {m for m in graph.modules if m.rsplit(".", 1)[-1].endswith("endpoints")}
    independent = contracts["endpoints-independent"]["modules"]
    on_top = contracts["edge-on-top"]["forbidden_modules"]
    calling = contracts["endpoints-call-services"]["source_modules"]
    layer_names = contracts["domain-layers"]["layers"][0]
    for module in sorted(endpoint_modules):
        name = module.rsplit(".", 1)[-1]
        generic = module.replace(module.split(".")[1], "*", 1)
        assert module in independent or generic in independent, f"{module}: endpoints-independent"
        assert module in on_top or generic in on_top, f"{module}: edge-on-top"
        assert module in calling or generic in calling, f"{module}: endpoints-call-services"
        assert f"({name})" in layer_names, f"{module}: domain-layers' top layer"


def test_package_floors_name_every_top_level_package(graph: grimp.ImportGraph) -> None:
    """The "package-floors" contract puts every top-level package or module on a floor; a
    new one must be placed too, or the contract says nothing about it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (floors,) = [
        c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "package-floors"
    ]
    placed = {name.strip() for layer in floors["layers"] for name in re.split(r"[:|]", layer)}
    top_level = {".".join(m.split(".")[:2]) for m in graph.modules if m != PACKAGE}
    missing = sorted(top_level - placed)
    assert not missing, "put on a floor of the package-floors contract: " + ", ".join(missing)

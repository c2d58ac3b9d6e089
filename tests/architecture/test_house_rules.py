"""House rules a linter does not know, as small AST checks (Polar keeps its own the same way).

1. No function-level import in ``consent_service/``, unless the line says why with
   ``# import-inside: <reason>`` naming a third-party reason (a heavy optional library).
2. No query outside a repository: ``select(``, ``insert(``, ``update(``, ``delete(``,
   ``text(`` (SQLAlchemy's) and ``.execute(`` are written only in ``*/repository.py``, a named
   query module (``*_query.py``, ``queries.py`` or a ``queries/`` package), the migrations,
   ``db.py`` and the short allowlist below.
3. No module above 450 lines unless its docstring says "Longer than 450 lines because ...".
4. No wall clock outside ``consent_service/clock.py``: no ``date.today()``,
   ``datetime.now()``, ``datetime.utcnow()`` (``datetime.today()``) and no ``.now().date()``
   (the UTC date); time comes from the injected ``Clock``, and the date people see or give
   from ``legal_today(clock)``, the date in Copenhagen.

Each rule reports ``path:line`` of every violation. ``KNOWN_*`` lists today's violations,
which other work removes: the lists only shrink, and an entry that no longer occurs fails
the test too, so it is removed as soon as its fix lands.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "consent_service"
MAX_LINES = 450
LONG_REASON = "Longer than 450 lines because"
IMPORT_INSIDE = "# import-inside:"
QUERY_CALLS = frozenset({"select", "insert", "update", "delete", "text"})

# Modules that may hold SQL although they are no repository, each for a named reason.
QUERY_ALLOWLIST: dict[str, str] = {
    # The hash chain's writer: staging, the head read and the seal under the chain lock
    # are the audit log's storage, written once here.
    "consent_service/audit/recorder.py": "audit chain storage",
    # A `limits` storage backend: its own table, in short transactions of its own.
    "consent_service/web/limits_storage.py": "rate-limit storage backend",
    # The witness's own SQLite file (sqlite3), not the service's database.
    "consent_service/witness/store.py": "witness state file",
    # Start-up checks on a bare connection: schema version, key check, the login's rights.
    "consent_service/startup.py": "start-up checks",
    # The log's purge: a planning read, and on PostgreSQL the database function that alone
    # may delete events (migration 0006); storage of the chain, like the recorder.
    "consent_service/audit/retention.py": "audit purge beside its database function",
}

# Rule 1, "path:function" (the outermost function holding the import). Only shrinks.
KNOWN_FUNCTION_IMPORTS: frozenset[str] = frozenset({})

# Rule 2, "path:function" ("path:<module>" for module-level statements). Only shrinks.
KNOWN_QUERIES: frozenset[str] = frozenset({})

# Rule 3, "path". Only shrinks.
KNOWN_LONG_MODULES: frozenset[str] = frozenset({})

# Rule 4: the one module that reads the wall clock.
CLOCK_MODULE = "consent_service/clock.py"
WALL_CLOCK_CALLS = {"date": {"today"}, "datetime": {"now", "utcnow", "today"}}

# Rule 4, "path:function". Only shrinks.
KNOWN_WALL_CLOCKS: frozenset[str] = frozenset({})


@dataclass(frozen=True)
class Violation:
    """One finding: the key KNOWN_* lists use, and where it is."""

    key: str
    where: str


def _modules() -> Iterator[tuple[str, str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        source = path.read_text(encoding="utf-8")
        yield relative, source, ast.parse(source, filename=relative)


def _walk_functions(
    node: ast.AST, outer: str | None = None
) -> Iterator[tuple[str | None, ast.AST]]:
    """Every node with the name of the outermost function around it (None: module level)."""
    for child in ast.iter_child_nodes(node):
        name = outer
        if outer is None and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            name = child.name
        yield name, child
        yield from _walk_functions(child, name)


def _check(found: list[Violation], known: frozenset[str], rule: str) -> None:
    new = sorted(v.where for v in found if v.key not in known)
    assert not new, f"{rule}:\n" + "\n".join(new)
    gone = sorted(known - {v.key for v in found})
    assert not gone, f"{rule}: fixed, remove from the KNOWN list:\n" + "\n".join(gone)


def function_level_imports() -> list[Violation]:
    """Imports inside a function whose line does not name a reason."""
    found = []
    for path, source, tree in _modules():
        lines = source.splitlines()
        for function, node in _walk_functions(tree):
            if function is None or not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            line = lines[node.lineno - 1]
            if IMPORT_INSIDE in line and line.split(IMPORT_INSIDE, 1)[1].strip():
                continue
            found.append(Violation(f"{path}:{function}", f"{path}:{node.lineno} ({function})"))
    return found


def _query_module(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return (
        name in ("repository.py", "queries.py", "db.py")
        or name.endswith("_query.py")
        or "/queries/" in path
        or path.startswith("consent_service/migrations/")
        or path in QUERY_ALLOWLIST
    )


def _sqlalchemy_names(tree: ast.Module) -> set[str]:
    """The local names of SQLAlchemy's select/insert/update/delete/text in a module."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            names |= {a.asname or a.name for a in node.names if a.name in QUERY_CALLS}
    return names


def queries_outside_repositories() -> list[Violation]:
    """SQLAlchemy statement constructors and ``.execute(`` calls outside query modules."""
    found = []
    for path, _, tree in _modules():
        if _query_module(path):
            continue
        sql_names = _sqlalchemy_names(tree)
        if path.endswith("/models.py"):
            sql_names.discard("text")  # a server default in a schema declaration, no query
        for function, node in _walk_functions(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            is_query = (isinstance(func, ast.Name) and func.id in sql_names) or (
                isinstance(func, ast.Attribute) and func.attr == "execute"
            )
            if is_query:
                where = function or "<module>"
                found.append(Violation(f"{path}:{where}", f"{path}:{node.lineno} ({where})"))
    return found


def long_modules() -> list[Violation]:
    """Modules above MAX_LINES lines whose docstring gives no reason."""
    found = []
    for path, source, tree in _modules():
        count = len(source.splitlines())
        if count > MAX_LINES and LONG_REASON not in (ast.get_docstring(tree) or ""):
            found.append(Violation(path, f"{path}:1 ({count} lines)"))
    return found


def _wall_clock_call(node: ast.Call) -> str | None:
    """``date.today()``, ``datetime.now()`` and the like, or ``<x>.now().date()``."""
    func = node.func
    if not isinstance(func, ast.Attribute):
        return None
    owner = func.value
    owner_name = (
        owner.id
        if isinstance(owner, ast.Name)
        else owner.attr
        if isinstance(owner, ast.Attribute)
        else None
    )
    if owner_name in WALL_CLOCK_CALLS and func.attr in WALL_CLOCK_CALLS[owner_name]:
        return f"{owner_name}.{func.attr}()"
    if (
        func.attr == "date"
        and isinstance(owner, ast.Call)
        and isinstance(owner.func, ast.Attribute)
        and owner.func.attr == "now"
    ):
        return ".now().date()"
    return None


def wall_clock_reads() -> list[Violation]:
    """Reads of the wall clock, or of the UTC date, outside the clock module."""
    found = []
    for path, _, tree in _modules():
        if path == CLOCK_MODULE:
            continue
        for function, node in _walk_functions(tree):
            what = _wall_clock_call(node) if isinstance(node, ast.Call) else None
            if what:
                where = function or "<module>"
                found.append(
                    Violation(f"{path}:{where}", f"{path}:{node.lineno} ({where}: {what})")
                )
    return found


def test_no_function_level_import() -> None:
    _check(function_level_imports(), KNOWN_FUNCTION_IMPORTS, "function-level imports")


def test_no_query_outside_repositories() -> None:
    _check(queries_outside_repositories(), KNOWN_QUERIES, "queries outside a repository")


def test_no_long_module_without_reason() -> None:
    _check(long_modules(), KNOWN_LONG_MODULES, f"modules above {MAX_LINES} lines")


def test_no_wall_clock_outside_the_clock() -> None:
    _check(wall_clock_reads(), KNOWN_WALL_CLOCKS, "wall clock outside clock.py")

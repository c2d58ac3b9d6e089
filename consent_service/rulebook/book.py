"""The rulebook as files: the mapping ``policies/rulebook.yaml`` (validated like every rule
file), the features parsed with the official Gherkin parser, the files a sign-off covers
with their SHA-256, and line diffs of what changed since. Reads files only; no database."""

from __future__ import annotations

import difflib
import functools
import hashlib
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gherkin.errors import CompositeParserException, ParserException
from gherkin.parser import Parser
from gherkin.token_scanner import TokenScanner
from pydantic import BaseModel, ConfigDict, Field, model_validator

from consent_service.config import REPO_ROOT
from consent_service.rulefile import load_yaml_model

RULEBOOK_PATH = "policies/rulebook.yaml"
FEATURES_DIR = "features"
# The files a sign-off covers besides the features and the rule files the mapping names:
# every policy, the retention schedule and every consent text as published.
COVERED_GLOBS = ("policies/*.yaml", "retention/schedule.yaml", "templates/consent/**/*")
# Rule files are small text files; anything larger is not one.
MAX_FILE_BYTES = 512 * 1024


class RulebookError(ValueError):
    """The rulebook mapping or a feature is broken; one line naming the file and the field."""


class FeatureMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    laws: list[str] = Field(min_length=1)
    rules: list[str] = Field(default_factory=list)


class RulebookSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    laws: dict[str, str] = Field(min_length=1)
    features: dict[str, FeatureMap] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_laws(self) -> RulebookSpec:
        for name, mapping in self.features.items():
            unknown = [law for law in mapping.laws if law not in self.laws]
            if unknown:
                raise ValueError(f"features.{name}.laws: unknown law {unknown[0]!r}")
            for rule in mapping.rules:
                if rule.startswith("/") or ".." in Path(rule).parts or "\\" in rule:
                    raise ValueError(
                        f"features.{name}.rules: {rule!r} is no path in the repository"
                    )
        return self


def load_rulebook(root: Path, *, strict: bool = True) -> RulebookSpec:
    """The mapping under ``root``, checked against the files there (``strict``, as at
    start-up): every feature file is mapped, every mapped feature and every named rule file
    exists, every feature parses. Not strict: the mapping alone, for showing a running
    service's files as they are now (a file removed since the start shows as removed)."""
    path = root / RULEBOOK_PATH
    spec = load_yaml_model(path, RulebookSpec, "rulebook", RulebookError)
    if not strict:
        return spec
    present = {p.name for p in (root / FEATURES_DIR).glob("*.feature")}
    unmapped = sorted(present - set(spec.features))
    if unmapped:
        raise RulebookError(f"{path}: invalid rulebook: features: {unmapped[0]} is not mapped")
    for name, mapping in spec.features.items():
        if name not in present:
            raise RulebookError(f"{path}: invalid rulebook: features.{name}: no such feature file")
        for rule in mapping.rules:
            if not (root / rule).is_file():
                raise RulebookError(
                    f"{path}: invalid rulebook: features.{name}.rules: no file {rule}"
                )
        parse_feature((root / FEATURES_DIR / name).read_text(encoding="utf-8"), name)
    return spec


@functools.cache
def default_rulebook() -> RulebookSpec:
    """The repository's rulebook, validated once per process (at start-up)."""
    return load_rulebook(REPO_ROOT)


# --- features ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    name: str = ""


@dataclass(frozen=True)
class Step:
    keyword: str
    text: str
    table: Table | None = None
    doc: str | None = None


@dataclass(frozen=True)
class Scenario:
    keyword: str
    name: str
    rule: str
    description: str
    steps: tuple[Step, ...]
    examples: tuple[Table, ...]

    @property
    def fingerprint(self) -> str:
        """A digest of what the scenario says (not where it stands in the file)."""
        return hashlib.sha256(repr((self.rule, self.steps, self.examples)).encode()).hexdigest()


@dataclass(frozen=True)
class Feature:
    file: str
    title: str
    description: str
    background: tuple[Step, ...]
    scenarios: tuple[Scenario, ...]
    rules: tuple[str, ...] = field(default=())


def _table(rows: list[dict[str, Any]], name: str = "") -> Table:
    cells = [tuple(str(c["value"]) for c in row["cells"]) for row in rows]
    return Table(header=cells[0] if cells else (), rows=tuple(cells[1:]), name=name)


def _steps(raw: list[dict[str, Any]]) -> tuple[Step, ...]:
    steps = []
    for s in raw:
        table = _table(s["dataTable"]["rows"]) if s.get("dataTable") else None
        doc = s["docString"]["content"] if s.get("docString") else None
        steps.append(Step(s["keyword"].strip(), s["text"], table, doc))
    return tuple(steps)


def _scenario(raw: dict[str, Any], rule: str) -> Scenario:
    examples = tuple(
        _table(([ex["tableHeader"]] if ex.get("tableHeader") else []) + ex.get("tableBody", []),
               ex.get("name", ""))
        for ex in raw.get("examples", [])
    )  # fmt: skip
    return Scenario(
        raw["keyword"].strip(), raw["name"], rule, raw.get("description", "").strip(),
        _steps(raw["steps"]), examples,
    )  # fmt: skip


@functools.lru_cache(maxsize=256)
def parse_feature(text: str, file: str) -> Feature:
    """A feature file as the Gherkin parser reads it (the file's ``# language:`` line).
    Remembered per text and name (the result is immutable): every start of the service,
    and each rulebook page, parses the same twenty files again."""
    try:
        document = Parser().parse(TokenScanner(text))
    except (ParserException, CompositeParserException) as exc:
        raise RulebookError(f"{FEATURES_DIR}/{file}: cannot parse the feature: {exc}") from exc
    raw = document.get("feature")
    if not raw:
        raise RulebookError(f"{FEATURES_DIR}/{file}: cannot parse the feature: no feature")
    background: tuple[Step, ...] = ()
    scenarios: list[Scenario] = []
    rules: list[str] = []

    def walk(children: list[dict[str, Any]], rule: str) -> None:
        nonlocal background
        for child in children:
            if "background" in child:
                background += _steps(child["background"]["steps"])
            elif "scenario" in child:
                scenarios.append(_scenario(child["scenario"], rule))
            elif "rule" in child:
                rules.append(child["rule"]["name"])
                walk(child["rule"]["children"], child["rule"]["name"])

    children: list[dict[str, Any]] = list(raw["children"])  # type: ignore[arg-type]
    walk(children, "")
    return Feature(file, raw["name"], raw.get("description", "").strip(), background,
                   tuple(scenarios), tuple(rules))  # fmt: skip


# --- files and hashes ----------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _covered_paths(root: Path, spec: RulebookSpec) -> list[str]:
    paths = {f"{FEATURES_DIR}/{name}" for name in spec.features}
    paths |= {rule for mapping in spec.features.values() for rule in mapping.rules}
    for pattern in COVERED_GLOBS:
        paths |= {p.relative_to(root).as_posix() for p in root.glob(pattern) if p.is_file()}
    paths.add(RULEBOOK_PATH)
    return sorted(paths)


def _read(root: Path, rel: str) -> bytes:
    data = (root / rel).read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise RulebookError(f"{rel}: larger than a rule file can be")
    return data


def covered_files(root: Path, spec: RulebookSpec) -> dict[str, bytes]:
    """Every file a sign-off covers, by its path from ``root``, sorted: the features, the
    mapping, every rule file it names, every policy, the retention schedule and every
    consent text. A file removed while the service runs is left out (shown as removed)."""
    return {rel: _read(root, rel) for rel in _covered_paths(root, spec) if (root / rel).is_file()}


# A file's size, modification and change time and inode: a write, a replacement or a
# restored copy changes at least one of them (only two writes of equal size within one tick
# of the file system's clock look alike; the next write is seen).
FileStamp = tuple[int, int, int, int]


def _file_stamp(path: Path) -> FileStamp | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@dataclass(frozen=True)
class _Seen:
    """What ``covered_hashes`` last found under ``root``: the mapping read under the stamp
    of ``policies/rulebook.yaml``, and each covered file's SHA-256 under its stamp."""

    root: Path
    spec_stamp: FileStamp | None
    spec: RulebookSpec
    hashes: dict[str, tuple[FileStamp, str]]


_seen: _Seen | None = None


def covered_hashes(root: Path) -> dict[str, str]:
    """The SHA-256 of every covered file as it is now, by path (``covered_files``, hashed),
    for the home pages' notice of a lapsed sign-off.

    The files may change while the service runs (that is how a sign-off lapses), so every
    call looks at each covered file's stamp (``FileStamp``) and reads and hashes again only
    a file whose stamp differs from the last call's, or that is new; the stamp is taken
    before the file is read, so a file written meanwhile is read again next time. The
    sign-off, the Regelsamling and the lapse alert read the files themselves."""
    global _seen
    last = _seen if _seen is not None and _seen.root == root else None
    spec_stamp = _file_stamp(root / RULEBOOK_PATH)
    if last is not None and spec_stamp is not None and spec_stamp == last.spec_stamp:
        spec = last.spec
    else:
        spec = load_rulebook(root, strict=False)
    known = last.hashes if last is not None else {}
    hashes: dict[str, tuple[FileStamp, str]] = {}
    for rel in _covered_paths(root, spec):
        stamp = _file_stamp(root / rel)
        if stamp is None:
            continue  # removed while the service runs
        seen = known.get(rel)
        hashes[rel] = (
            seen if seen is not None and seen[0] == stamp else (stamp, sha256(_read(root, rel)))
        )
    _seen = _Seen(root, spec_stamp, spec, hashes)
    return {rel: sha for rel, (_, sha) in hashes.items()}


def as_text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


# --- what changed --------------------------------------------------------------------------

FileStatus = Literal["approved", "changed", "new", "removed", "unapproved"]


@dataclass(frozen=True)
class DiffLine:
    kind: Literal["hunk", "ins", "del", "same"]
    text: str


def diff_lines(old: str, new: str, context: int = 2) -> list[DiffLine]:
    """The lines that differ (``ins``/``del``), with ``context`` lines around each change
    and a ``hunk`` line giving where; empty when the texts are equal."""
    lines: list[DiffLine] = []
    for line in difflib.unified_diff(
        old.splitlines(), new.splitlines(), "godkendt", "nu", n=context, lineterm=""
    ):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            lines.append(DiffLine("hunk", line))
        elif line.startswith("+"):
            lines.append(DiffLine("ins", line[1:]))
        elif line.startswith("-"):
            lines.append(DiffLine("del", line[1:]))
        else:
            lines.append(DiffLine("same", line[1:]))
    return lines


def file_status(approved: dict[str, str] | None, path: str, current: bytes | None) -> FileStatus:
    """How a file stands against the approved set (``approved`` maps path to SHA-256)."""
    if approved is None:
        return "unapproved"
    if current is None:
        return "removed"
    if path not in approved:
        return "new"
    return "approved" if approved[path] == sha256(current) else "changed"

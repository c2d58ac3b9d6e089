"""The rulebook's use cases: the Regelsamling as it stands against the newest sign-off
(what is approved, changed since, new or removed, with diffs), and the legal adviser's
sign-off of it all (the step-up is the caller's, before this runs)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from pathlib import Path

from sqlalchemy.orm import Session

from consent_service import labels
from consent_service.audit.recorder import Actor
from consent_service.clock import LEGAL_TZ, legal_today
from consent_service.errors import InvalidInput
from consent_service.identity.users import display_names
from consent_service.rulebook import book
from consent_service.rulebook import repository as repo
from consent_service.rulebook.models import (
    RulebookApproval,
    RulebookApprovedFile,
    RulebookVerification,
)
from consent_service.services import ServiceDeps

MAX_COMMENT = 1000
SHORT = 12  # characters of a SHA-256 shown on the page


@dataclass(frozen=True)
class FileView:
    path: str  # never shown: pages name a file in Danish (``name``)
    sha256: str
    status: book.FileStatus
    diff: list[book.DiffLine] = field(default_factory=list)
    name: str = ""

    @property
    def short(self) -> str:
        return self.sha256[:SHORT]


@dataclass(frozen=True)
class RunView:
    """A scenario's newest run against the service: its outcome, when, and whether it ran
    with the rule files as they are now."""

    outcome: str  # passed | failed
    at: datetime
    current_rules: bool


@dataclass(frozen=True)
class ScenarioView:
    scenario: book.Scenario
    status: book.FileStatus
    rules: list[FileView]
    last_passed: datetime | None = None
    latest: RunView | None = None


@dataclass(frozen=True)
class FeatureView:
    feature: book.Feature
    anchor: str
    file: FileView
    laws: list[str]
    scenarios: list[ScenarioView]
    removed_scenarios: list[str]
    description: str  # the feature's, rule files named in Danish instead of by path


@dataclass(frozen=True)
class LawGroup:
    code: str
    title: str
    features: list[FeatureView]  # shown under this law (their first)
    also: list[FeatureView]  # implementing it too, shown under another law


@dataclass(frozen=True)
class RulebookView:
    approval: RulebookApproval | None
    approver: str
    groups: list[LawGroup]
    files: list[FileView]  # every covered file, with those removed since the sign-off
    digest: str

    @property
    def changed(self) -> list[FileView]:
        return [f for f in self.files if f.status in ("changed", "new", "removed")]

    @property
    def lapsed(self) -> bool:
        return self.approval is not None and bool(self.changed)


def name_da(path: str, titles: dict[str, str]) -> str:
    """A covered file in Danish: a rule file by its label, a feature by its title, a
    consent text by its kind and version; anything else as a new rule file."""
    known = labels.group("rule_files")
    if path in known:
        return known[path]
    if path in titles:
        return f"Scenarier: {titles[path]}"
    parts = path.split("/")
    if len(parts) == 5 and parts[:2] == ["templates", "consent"] and parts[4].endswith(".md"):
        version = parts[4].removesuffix(".md").removeprefix("v")
        return f"Ny samtykketekst, version {version}"
    return "Anden regelfil"


def _readable(text: str) -> str:
    """``text`` with each labelled rule file's path replaced by its Danish name."""
    for path, name in labels.group("rule_files").items():
        text = text.replace(path, name.lower() if name[0].isupper() else name)
    return text


def digest_of(hashes: dict[str, str]) -> str:
    """One SHA-256 over every covered file's path and SHA-256, in path order."""
    lines = "".join(f"{path} {sha}\n" for path, sha in sorted(hashes.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def _approved(session: Session) -> tuple[RulebookApproval | None, dict[str, RulebookApprovedFile]]:
    approval = repo.latest_approval(session)
    if approval is None:
        return None, {}
    return approval, {f.path: f for f in repo.approved_files(session, approval.id)}


def _file_view(
    path: str, current: bytes | None, approved: dict[str, RulebookApprovedFile] | None
) -> FileView:
    hashes = None if approved is None else {p: f.sha256 for p, f in approved.items()}
    status = book.file_status(hashes, path, current)
    diff: list[book.DiffLine] = []
    if status in ("changed", "removed") and approved is not None:
        diff = book.diff_lines(approved[path].text, book.as_text(current or b""))
    elif status == "new":
        diff = book.diff_lines("", book.as_text(current or b""))
    if current is not None:
        sha = book.sha256(current)
    else:
        sha = approved[path].sha256 if approved and path in approved else ""
    return FileView(path, sha, status, diff)


def lapse_state(session: Session, root: Path) -> tuple[bool, bool]:
    """(signed off at all, changed since the newest sign-off): for the home pages."""
    approval, approved = _approved(session)
    if approval is None:
        return False, False
    return True, book.covered_hashes(root) != {path: f.sha256 for path, f in approved.items()}


def rulebook_view(session: Session, root: Path) -> RulebookView:
    """The Regelsamling: every feature by its first law, each scenario with the rule files
    it rests on and whether it still stands as signed off."""
    spec = book.load_rulebook(root, strict=False)
    current = book.covered_files(root, spec)
    approval, approved_rows = _approved(session)
    approved = approved_rows if approval is not None else None
    paths = sorted(set(current) | set(approved_rows))
    titles: dict[str, str] = {}
    for name in spec.features:
        path = f"{book.FEATURES_DIR}/{name}"
        text = current.get(path)
        if text is None and path in approved_rows:
            text = approved_rows[path].text.encode()
        if text is not None:
            try:
                titles[path] = book.parse_feature(book.as_text(text), name).title
            except book.RulebookError:
                titles[path] = name
    files = {
        p: replace(_file_view(p, current.get(p), approved), name=name_da(p, titles)) for p in paths
    }
    passed = repo.last_passed(session)
    latest = repo.latest_runs(session)
    digest = digest_of({p: book.sha256(d) for p, d in current.items()})

    features: dict[str, FeatureView] = {}
    for name, mapping in spec.features.items():
        path = f"{book.FEATURES_DIR}/{name}"
        if path not in current:
            continue  # removed: the list of files says so
        feature = book.parse_feature(book.as_text(current[path]), name)
        old: dict[str, str] = {}
        if approved is not None and path in approved:
            try:
                was = book.parse_feature(approved[path].text, name)
                old = {s.name: s.fingerprint for s in was.scenarios}
            except book.RulebookError:
                old = {}
        rules = [
            files.get(rule) or FileView(rule, "", "removed", name=name_da(rule, titles))
            for rule in mapping.rules
        ]
        rules_moved = any(r.status in ("changed", "new", "removed") for r in rules)
        scenarios = []
        for scenario in feature.scenarios:
            if approved is None:
                status: book.FileStatus = "unapproved"
            elif scenario.name not in old:
                status = "new"
            elif old[scenario.name] != scenario.fingerprint or rules_moved:
                status = "changed"
            else:
                status = "approved"
            ok = passed.get((path, scenario.name))
            run = latest.get((path, scenario.name))
            newest = None
            if run is not None:
                newest = RunView(run.outcome, run.verified_at, run.rules_digest == digest)
            scenarios.append(
                ScenarioView(scenario, status, rules, ok.verified_at if ok else None, newest)
            )
        removed = sorted(set(old) - {s.name for s in feature.scenarios})
        features[name] = FeatureView(
            feature, f"regel-{name.removesuffix('.feature')}", files[path],
            [spec.laws[law] for law in mapping.laws], scenarios, removed,
            _readable(feature.description),
        )  # fmt: skip

    groups = [
        LawGroup(
            code,
            title,
            [features[n] for n, m in spec.features.items() if n in features and m.laws[0] == code],
            [features[n] for n, m in spec.features.items() if n in features and code in m.laws[1:]],
        )
        for code, title in spec.laws.items()
    ]
    approver = ""
    if approval is not None:
        names = display_names(session, approval.organisation_id, [approval.approved_by])
        approver = names.get(approval.approved_by, "")
    return RulebookView(approval, approver, groups, list(files.values()), digest)


def approve(
    session: Session, deps: ServiceDeps, actor: Actor, user_id: int, organisation_id: int,
    root: Path, comment: str,
) -> RulebookApproval:  # fmt: skip
    """Sign the rulebook off as it stands now: every covered file's SHA-256 and text, with
    the comment; audited in the same transaction."""
    comment = comment.strip()
    if not comment:
        raise InvalidInput("Skriv en kommentar til godkendelsen.", field="comment")
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(f"Skriv højst {MAX_COMMENT} tegn.", field="comment")
    current = book.covered_files(root, book.load_rulebook(root, strict=False))
    previous, before = _approved(session)
    hashes = {path: book.sha256(data) for path, data in current.items()}
    changed = sorted(
        p for p in set(hashes) | set(before)
        if p not in hashes or p not in before or before[p].sha256 != hashes[p]
    )  # fmt: skip
    approval = RulebookApproval(
        approved_at=deps.clock.now(),
        approved_by=user_id,
        organisation_id=organisation_id,
        comment=comment,
        digest=digest_of(hashes),
    )
    session.add(approval)
    session.flush()
    session.add_all(
        RulebookApprovedFile(
            approval_id=approval.id, path=path, sha256=hashes[path], text=book.as_text(data)
        )
        for path, data in current.items()
    )
    deps.audit.record(
        session,
        actor,
        action="rulebook.approved",
        outcome="success",
        resource_type="rulebook",
        resource_id=str(approval.id),
        details={
            "files": len(current),
            "digest": approval.digest,
            "changed": len(changed) if previous is not None else len(current),
        },
    )
    session.flush()
    return approval


# --- runs of the scenarios against the service ----------------------------------------------


@dataclass(frozen=True)
class ScenarioOutcome:
    """One scenario's outcome in a run: its feature file (path from the rules root), its
    name as written, and ``passed`` or ``failed``."""

    feature: str
    scenario: str
    outcome: str


OUTCOMES = ("passed", "failed")


def rules_digest(root: Path) -> str:
    """The digest over every covered file as it is now (what a sign-off would store)."""
    current = book.covered_files(root, book.load_rulebook(root, strict=False))
    return digest_of({path: book.sha256(data) for path, data in current.items()})


def record_verification(
    session: Session, deps: ServiceDeps, actor: Actor, run_id: str,
    outcomes: Sequence[ScenarioOutcome], code_version: str, digest: str,
) -> tuple[int, int]:  # fmt: skip
    """Record a run of the scenarios: one row per scenario and ``rulebook.verified`` with
    the counts, in the same transaction. Returns (passed, failed)."""
    bad = next((o for o in outcomes if o.outcome not in OUTCOMES), None)
    if bad is not None:
        raise InvalidInput(f"unknown outcome {bad.outcome!r}")
    now = deps.clock.now()
    session.add_all(
        RulebookVerification(
            run_id=run_id, feature=o.feature[:200], scenario=o.scenario[:500],
            outcome=o.outcome, code_version=code_version[:100], rules_digest=digest,
            verified_at=now,
        )
        for o in outcomes
    )  # fmt: skip
    passed = sum(1 for o in outcomes if o.outcome == "passed")
    failed = len(outcomes) - passed
    deps.audit.record(
        session,
        actor,
        action="rulebook.verified",
        outcome="success",
        resource_type="rulebook",
        resource_id=run_id,
        details={"run": run_id, "passed": passed, "failed": failed, "digest": digest},
    )
    session.flush()
    return passed, failed


def start_nightly_run(
    session: Session, deps: ServiceDeps, actor: Actor, hour: int, run_id: str
) -> bool:
    """Whether tonight's run of the scenarios is due now and claimed by the caller: once per
    local day, at or after ``hour`` (Copenhagen time). The claim is ``rulebook.verify_started``,
    recorded under a lock, so one worker of several runs it."""
    today = legal_today(deps.clock)
    due_from = datetime.combine(today, time(hour), tzinfo=LEGAL_TZ)
    if deps.clock.now() < due_from:
        return False
    repo.lock_rulebook_notes(session)
    started = repo.newest_event_at(session, "rulebook.verify_started")
    if started is not None and started >= due_from:
        return False
    deps.audit.record(
        session,
        actor,
        action="rulebook.verify_started",
        outcome="success",
        resource_type="rulebook",
        resource_id=run_id,
        details={"run": run_id},
    )
    session.flush()
    return True


def record_lapse(session: Session, deps: ServiceDeps, actor: Actor, root: Path) -> bool:
    """If the newest sign-off has lapsed (a covered file changed since), record
    ``rulebook.lapsed`` once for that sign-off and the files as they are now (an alert
    rule tells the DPO). Returns whether it recorded one."""
    approval, approved = _approved(session)
    if approval is None:
        return False
    current = book.covered_files(root, book.load_rulebook(root, strict=False))
    hashes = {path: book.sha256(data) for path, data in current.items()}
    was = {path: f.sha256 for path, f in approved.items()}
    if hashes == was:
        return False
    digest = digest_of(hashes)
    repo.lock_rulebook_notes(session)
    for details in repo.event_details_about(
        session, "rulebook.lapsed", "rulebook", str(approval.id)
    ):
        if json.loads(details).get("digest") == digest:
            return False
    changed = sum(1 for p in set(hashes) | set(was) if hashes.get(p) != was.get(p))
    deps.audit.record(
        session,
        actor,
        action="rulebook.lapsed",
        outcome="success",
        resource_type="rulebook",
        resource_id=str(approval.id),
        details={"approval": approval.id, "digest": digest, "changed": changed},
    )
    session.flush()
    return True

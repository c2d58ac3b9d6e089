"""The start of a service process, in the audit log: which rules it runs with.

Every start records ``system.started`` with the SHA-256 of each reviewed rule file
(policies, audit catalogue and alert rules, retention schedule, the register of published
consent texts) and of the non-secret settings. When a hash differs from the previous
start's, ``policy.changed`` names the files (not their content), so the DPO can see when
the rules a decision was made under changed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy.orm import Session

from consent_service.audit import repository as repo
from consent_service.audit.recorder import SYSTEM, AuditRecorder
from consent_service.config import REPO_ROOT, Settings

RULE_GLOBS = ("audit/*.yaml", "retention/*.yaml", "templates/consent/PUBLISHED.yaml")
SECRET_SETTINGS = frozenset({"master_key", "index_key", "signing_key", "database_url"})


def rule_files(settings: Settings) -> dict[str, str]:
    """Relative path -> SHA-256 of every rule file the service reads."""
    paths = sorted(settings.policy_dir.glob("*.yaml"))
    for pattern in RULE_GLOBS:
        paths += sorted(REPO_ROOT.glob(pattern))
    return {_name(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def _name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return path.name


def settings_hash(settings: Settings) -> str:
    public = settings.model_dump(exclude=set(SECRET_SETTINGS), mode="json")
    canonical = json.dumps(public, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def record_start(session: Session, settings: Settings, audit: AuditRecorder) -> list[str]:
    """Record this start; returns the rule files changed since the previous start."""
    files = rule_files(settings)
    current = {"files": files, "settings": settings_hash(settings)}
    previous = repo.newest_details_of(session, "system.started")
    changed: list[str] = []
    if previous is not None:
        before = json.loads(previous)
        old_files: dict[str, str] = before.get("files", {})
        changed = sorted(
            name for name in set(files) | set(old_files) if files.get(name) != old_files.get(name)
        )
        if before.get("settings") != current["settings"]:
            changed.append("settings")
    audit.record(session, SYSTEM, action="system.started", outcome="success", details=current)
    if changed:
        audit.record(
            session,
            SYSTEM,
            action="policy.changed",
            outcome="success",
            details={"changed": changed},
        )
    return changed

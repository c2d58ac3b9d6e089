"""Each start is audited with the hashes of the rule files; a changed file between two
starts is named in a policy.changed event."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sqlalchemy import select

from consent_service.audit.models import AuditEvent
from consent_service.audit.system import record_start
from consent_service.config import REPO_ROOT, Settings
from consent_service.context import AppContext
from consent_service.db import session_scope


def _actions(ctx: AppContext) -> list[tuple[str, dict[str, object]]]:
    with ctx.sessions() as s:
        return [
            (e.action, json.loads(e.details))
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.in_(["system.started", "policy.changed"]))
                .order_by(AuditEvent.seq)
            )
        ]


def test_a_changed_policy_file_is_named_at_the_next_start(
    ctx: AppContext, settings: Settings, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", policies)
    local = settings.model_copy(update={"policy_dir": policies})

    with session_scope(ctx.sessions) as session:
        assert record_start(session, local, ctx.audit) == []
    with session_scope(ctx.sessions) as session:
        assert record_start(session, local, ctx.audit) == []  # nothing changed
    access = policies / "access.yaml"
    access.write_text(access.read_text() + "\n# reviewed change\n")
    with session_scope(ctx.sessions) as session:
        changed = record_start(session, local, ctx.audit)
    assert changed == ["access.yaml"]

    events = _actions(ctx)
    assert [a for a, _ in events] == [
        "system.started",
        "system.started",
        "system.started",
        "policy.changed",
    ]
    started = events[0][1]
    files = started["files"]
    assert isinstance(files, dict)
    assert "templates/consent/PUBLISHED.yaml" in files
    assert "access.yaml" in files
    dumped = json.dumps(events)
    for secret in ("master_key", "index_key", "signing_key", settings.database_url):
        assert secret not in dumped

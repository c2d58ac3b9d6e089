"""The rulebook's scheduled work and its run of the scenarios: run them against the
installed service and record the outcomes (``consent-service rules verify``, and the
worker at night when ``CONSENT_RULES_VERIFY_HOUR`` is set), and note a lapsed sign-off
for the DPO (the worker, every pass)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy.orm import Session, sessionmaker

from consent_service.audit.recorder import Actor
from consent_service.db import session_scope
from consent_service.rulebook import service, verify
from consent_service.services import ServiceDeps

log = structlog.get_logger()


@dataclass(frozen=True)
class VerifyResult:
    run_id: str
    passed: int
    failed: int
    outcomes: list[service.ScenarioOutcome]


def verify_and_record(
    sessions: sessionmaker[Session], deps: ServiceDeps, actor: Actor, root: Path,
    features: Sequence[str] = (), *, run_id: str | None = None,
    timeout: float = verify.DEFAULT_TIMEOUT,
) -> VerifyResult:  # fmt: skip
    """Run the scenarios (outside any transaction: it takes a while), then record every
    outcome and ``rulebook.verified`` in one transaction. ``verify.VerifyUnavailable`` if
    they cannot run; nothing is recorded then."""
    run_id = run_id or uuid.uuid4().hex
    digest = service.rules_digest(root)
    version = verify.code_version(root)
    outcomes = verify.run_scenarios(root, features, timeout=timeout)
    if not outcomes:
        raise verify.VerifyUnavailable("no scenario ran: nothing to record")
    with session_scope(sessions) as session:
        passed, failed = service.record_verification(
            session, deps, actor, run_id, outcomes, version, digest
        )
    return VerifyResult(run_id, passed, failed, outcomes)


def nightly_verification(
    sessions: sessionmaker[Session], deps: ServiceDeps, actor: Actor
) -> VerifyResult | None:
    """Once per local day after ``rules_verify_hour`` (unset: never), run and record the
    scenarios; one worker of several claims the run. A run that cannot happen is logged
    (one line, no scenario text) and not retried until the next day."""
    hour = deps.settings.rules_verify_hour
    if hour is None:
        return None
    run_id = uuid.uuid4().hex
    with session_scope(sessions) as session:
        if not service.start_nightly_run(session, deps, actor, hour, run_id):
            return None
    try:
        return verify_and_record(
            sessions, deps, actor, deps.settings.rules_root, run_id=run_id,
            timeout=deps.settings.rules_verify_timeout_seconds,
        )  # fmt: skip
    except verify.VerifyUnavailable as exc:
        log.warning("rules verify did not run", run=run_id, problem=str(exc))
        return None


def note_lapse(sessions: sessionmaker[Session], deps: ServiceDeps, actor: Actor) -> bool:
    """Record ``rulebook.lapsed`` once per sign-off and state of the files, if the newest
    sign-off has lapsed."""
    with session_scope(sessions) as session:
        return service.record_lapse(session, deps, actor, deps.settings.rules_root)

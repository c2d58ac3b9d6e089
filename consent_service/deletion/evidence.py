"""The consent evidence's retention-end deletion: what proves each consent and disclosure
(consent records and their history, printed-form records, disclosures, paper custody,
extract manifests) is kept five years after the pilot's end (``retention/schedule.yaml``,
categories ``consent_records``, ``disclosures`` and ``extract_manifests``), then deleted
per organisation, with the citizens' tombstones, when a data controller confirms it with
a fresh code after a dry run.

The rule is held twice, so a stolen application login cannot break it: here (the Danish
refusal, and the only check on SQLite, which has no roles) and on PostgreSQL in the
database itself, where the login has no DELETE on the evidence and only the function
``evidence_purge_expired`` may delete it, from the database's own date and
``evidence_retention``. The deletion needs the pilot-end deletion first (no live citizen).
Each deletion leaves ``retention.evidence_deleted`` in the audit log: rule, rows per
category and a hash, no personal data; the dry run is audited as
``retention.evidence_dry_run``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor, seal_after_commit
from consent_service.clock import legal_today
from consent_service.deletion import evidence_query as query
from consent_service.errors import RuleRefusal
from consent_service.retention.schedule import (
    RetentionSchedule,
    default_schedule,
    evidence_delete_from,
)
from consent_service.services import ServiceDeps

EVIDENCE_RULE = "evidence_end"
# Days the data controller has to carry out a deletion once it is allowed (as at the
# pilot's end: allowed the day after, done within the 30 days of ``citizen_identity``).
CARRY_OUT_DAYS = 30


@dataclass(frozen=True)
class EvidencePlan:
    """The dry run: the organisation's evidence rows per category, from when the deletion
    may be confirmed, by when it should be, and how many citizens are still live (the
    pilot-end deletion must come first)."""

    rows: dict[str, int]
    allowed_from: date
    deadline: date
    live_citizens: int

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def may_delete_on(self, today: date) -> bool:
        return today >= self.allowed_from and self.live_citizens == 0


def evidence_allowed_from(session: Session, schedule: RetentionSchedule | None = None) -> date:
    """The first day the evidence may go: the database's ``evidence_retention`` (what its
    function enforces), or the schedule's day if the table has no complete rule."""
    held = query.delete_from(session)
    return held or evidence_delete_from(schedule or default_schedule(), "consent_records")


def plan_evidence(session: Session, organisation_id: int) -> EvidencePlan:
    """The dry run for one organisation: nothing changes."""
    allowed = evidence_allowed_from(session)
    return EvidencePlan(
        rows=query.evidence_rows(session, organisation_id),
        allowed_from=allowed,
        deadline=allowed + timedelta(days=CARRY_OUT_DAYS),
        live_citizens=query.live_citizens(session, organisation_id),
    )


def dry_run_evidence(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int
) -> EvidencePlan:
    """The dry run as a data controller sees it, audited (``retention.evidence_dry_run``)."""
    plan = plan_evidence(session, organisation_id)
    deps.audit.record(
        session,
        actor,
        action="retention.evidence_dry_run",
        outcome="success",
        resource_type="organisation",
        resource_id=str(organisation_id),
        organisation_id=organisation_id,
        details={"rows": plan.rows},
    )
    return plan


def evidence_digest(organisation_id: int, rows: dict[str, int], on: date) -> str:
    """The deletion record's hash: what was deleted, for which organisation, on which day
    (the JSON ``evidence_purge_expired`` hashes too)."""
    body = {"at": on.isoformat(), "organisation": organisation_id, "rows": rows,
            "rule": EVIDENCE_RULE}  # fmt: skip
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def refusal(plan: EvidencePlan) -> RuleRefusal:
    """Why the deletion may not be confirmed (yet), in Danish."""
    if plan.live_citizens:
        return RuleRefusal(
            "Samtykkeposterne kan først slettes, når borgernes oplysninger er slettet ved "
            "projektets afslutning."
        )
    return RuleRefusal(
        f"Samtykkeposter og udtræksmanifester kan først slettes fra {plan.allowed_from:%d-%m-%Y}."
    )


def run_evidence(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, today: date
) -> dict[str, int]:
    """Delete the organisation's consent evidence at the end of its retention; returns
    the rows per category. The caller has had a data controller confirm with a fresh
    code. Refused (RuleRefusal, nothing changes) before the allowed day or while a
    citizen of the organisation is live; on PostgreSQL the database refuses too."""
    plan = plan_evidence(session, organisation_id)
    if not plan.may_delete_on(today):
        raise refusal(plan)
    if session.get_bind().dialect.name == "postgresql":
        try:
            details: dict[str, Any] = query.purge_in_database(session, organisation_id, actor)
        except query.DatabaseRefused as refused:
            # The database's own date or state disagrees: its refusal stands.
            raise refusal(plan if refused.code == query.LIVE_CITIZENS else _not_yet(plan)) from None
        seal_after_commit(session)
        return {k: int(v) for k, v in details["rows"].items()}
    rows = plan.rows
    if not plan.total:
        return rows
    query.delete_evidence(session, organisation_id)
    deps.audit.record(
        session,
        actor,
        action="retention.evidence_deleted",
        outcome="success",
        resource_type="organisation",
        resource_id=str(organisation_id),
        organisation_id=organisation_id,
        details={
            "rule": EVIDENCE_RULE,
            "rows": rows,
            "hash": evidence_digest(organisation_id, rows, legal_today(deps.clock)),
        },
    )
    return rows


def _not_yet(plan: EvidencePlan) -> EvidencePlan:
    return EvidencePlan(plan.rows, plan.allowed_from, plan.deadline, 0)

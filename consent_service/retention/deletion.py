"""Deleting citizens' data on the retention schedule: crypto-shredding, then the rows.

Deleting a citizen destroys their data keys (``citizen_key``), which no data backup holds,
so the sealed CPR, name, contact data, scans and answers in any older backup can no longer
be decrypted; then the rows go. What proves a consent (GDPR art. 7(1)) stays, without
identity: the consent records and their history, and a tombstone citizen row (no blind
index, no sealed fields). Each deletion leaves a deletion record in the audit log: the
rule, the categories and row counts, when, and a hash of the record; never personal data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.citizens.models import Citizen, CitizenKey, Referral
from consent_service.consents import repository as consents_repo
from consent_service.consents.models import Consent, ConsentEvent, ConsentScan
from consent_service.errors import RuleRefusal
from consent_service.jobs.models import Job, Task
from consent_service.retention.schedule import RetentionSchedule, default_schedule
from consent_service.services import ServiceDeps
from consent_service.wellbeing.models import WellbeingResponse
from consent_service.wellbeing.service import shred_for_consent

PILOT_END_RULE = "pilot_end"


@dataclass(frozen=True)
class DeletionPlan:
    """What a deletion would remove: rows per category (a dry run)."""

    citizens: int
    rows: dict[str, int]
    kept: dict[str, int]
    allowed_from: date
    deadline: date


@dataclass
class DeletionRecord:
    rule: str
    rows: dict[str, int] = field(default_factory=dict)

    def add(self, category: str, count: int) -> None:
        self.rows[category] = self.rows.get(category, 0) + count

    def digest(self, citizen_public_id: str, at: str) -> str:
        body = {"citizen": citizen_public_id, "rule": self.rule, "rows": self.rows, "at": at}
        return hashlib.sha256(
            json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()


def _count(session: Session, stmt: object) -> int:
    return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]


def shred_withdrawn_wellbeing(
    session: Session, deps: ServiceDeps, actor: Actor, citizen: Citizen, consent_id: int
) -> int:
    """After a wellbeing consent is withdrawn: shred and delete the answers given under
    it (retention category ``wellbeing_answers_withdrawn``). Refuses a consent that is
    not a withdrawn wellbeing consent of this citizen."""
    consents_repo.lock_consents_for_ending(session, citizen.organisation_id)
    consent = session.get(Consent, consent_id)
    if consent is None or consent.citizen_id != citizen.id or consent.kind != "wellbeing":
        raise RuleRefusal("Ikke et trivselssamtykke for borgeren.")
    withdrawn = session.scalar(
        select(func.count())
        .select_from(ConsentEvent)
        .where(ConsentEvent.consent_id == consent.id, ConsentEvent.event_type == "withdrawn")
    )
    if not withdrawn:
        raise RuleRefusal("Samtykket er ikke tilbagekaldt.")
    count = shred_for_consent(session, citizen, consent)
    record = DeletionRecord("wellbeing_answers_withdrawn", {"wellbeing_answers": count})
    at = deps.clock.now().isoformat()
    deps.audit.record(
        session,
        actor,
        action="wellbeing.deleted",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        organisation_id=citizen.organisation_id,
        details={
            "consent": consent.public_id,
            "rule": record.rule,
            "rows": record.rows,
            "hash": record.digest(citizen.public_id, at),
        },
    )
    return count


def _citizen_rows(session: Session, citizen_ids: list[int]) -> dict[str, int]:
    def count(model: type, column: object) -> int:
        return _count(
            session,
            select(func.count()).select_from(model).where(column.in_(citizen_ids)),  # type: ignore[attr-defined]
        )

    consent_ids = select(Consent.id).where(Consent.citizen_id.in_(citizen_ids))
    return {
        "citizen_identity": len(citizen_ids),
        "data_keys": count(CitizenKey, CitizenKey.citizen_id),
        "referral": count(Referral, Referral.citizen_id),
        "wellbeing_answers": count(WellbeingResponse, WellbeingResponse.citizen_id),
        "signed_scans": _count(
            session,
            select(func.count())
            .select_from(ConsentScan)
            .where(ConsentScan.consent_id.in_(consent_ids)),
        ),
        "worklist_tasks": count(Task, Task.citizen_id),
    }


def delete_citizen(
    session: Session, deps: ServiceDeps, actor: Actor, citizen: Citizen, rule: str
) -> DeletionRecord:
    """Crypto-shred and delete one citizen's personal data, keeping a tombstone and the
    consent records without identity. Idempotent: a deleted citizen is left as it is.
    Waits for a running extract execution of the organisation, which may hold the
    citizen's keys from its snapshot (consents/repository.py)."""
    consents_repo.lock_consents_for_ending(session, citizen.organisation_id)
    if citizen.deleted_at is not None:
        return DeletionRecord(rule)
    record = DeletionRecord(rule, _citizen_rows(session, [citizen.id]))
    # 1. Crypto-shredding: without the keys nothing sealed for the citizen decrypts,
    #    in this database or in any data backup.
    session.execute(delete(CitizenKey).where(CitizenKey.citizen_id == citizen.id))
    # 2. The rows.
    consent_ids = select(Consent.id).where(Consent.citizen_id == citizen.id)
    session.execute(delete(ConsentScan).where(ConsentScan.consent_id.in_(consent_ids)))
    session.execute(delete(WellbeingResponse).where(WellbeingResponse.citizen_id == citizen.id))
    session.execute(delete(Referral).where(Referral.citizen_id == citizen.id))
    session.execute(delete(Task).where(Task.citizen_id == citizen.id))
    now = deps.clock.now()
    for job in session.scalars(
        select(Job).where(Job.citizen_id == citizen.id, Job.status == "pending")
    ).all():
        job.status, job.outcome, job.finished_at = "dropped", "citizen deleted", now
    # 3. The tombstone: no blind index (the CPR can no longer be found), no sealed data.
    citizen.cpr_index = None
    citizen.cpr_sealed = citizen.name_sealed = None
    citizen.phone_sealed = citizen.email_sealed = None
    citizen.municipality = ""
    citizen.gp_clinic = ""
    citizen.deleted_at = now
    session.flush()
    session.expire(citizen, ["identity_key"])
    deps.audit.record(
        session,
        actor,
        action="citizen.deleted",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        organisation_id=citizen.organisation_id,
        details={
            "rule": rule,
            "rows": record.rows,
            "hash": record.digest(citizen.public_id, now.isoformat()),
        },
    )
    return record


def _live_citizens(session: Session, organisation_id: int) -> list[Citizen]:
    return list(
        session.scalars(
            select(Citizen)
            .where(Citizen.organisation_id == organisation_id, Citizen.deleted_at.is_(None))
            .order_by(Citizen.id)
        ).all()
    )


def plan_pilot_end(
    session: Session, organisation_id: int, schedule: RetentionSchedule | None = None
) -> DeletionPlan:
    """The dry run of the pilot-end deletion for one organisation: nothing changes."""
    schedule = schedule or default_schedule()
    ids = [c.id for c in _live_citizens(session, organisation_id)]
    rows = _citizen_rows(session, ids) if ids else {}
    kept = {
        "consent_records": _count(
            session,
            select(func.count())
            .select_from(Consent)
            .where(Consent.organisation_id == organisation_id),
        )
    }
    identity = schedule.categories["citizen_identity"]
    return DeletionPlan(
        citizens=len(ids),
        rows=rows,
        kept=kept,
        allowed_from=date.fromordinal(schedule.pilot_end.toordinal() + 1),
        deadline=identity.keep.after(schedule.pilot_end),
    )


def run_pilot_end(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, today: date
) -> DeletionRecord:
    """Delete every citizen of the organisation after the pilot has ended. The caller
    has had a data controller confirm with a fresh TOTP code."""
    plan = plan_pilot_end(session, organisation_id)
    if today < plan.allowed_from:
        raise RuleRefusal(
            f"Sletning ved projektets afslutning kan først ske fra {plan.allowed_from:%d-%m-%Y}."
        )
    total = DeletionRecord(PILOT_END_RULE)
    for citizen in _live_citizens(session, organisation_id):
        for category, count in delete_citizen(
            session, deps, actor, citizen, PILOT_END_RULE
        ).rows.items():
            total.add(category, count)
    deps.audit.record(
        session,
        actor,
        action="retention.pilot_end_deleted",
        outcome="success",
        resource_type="organisation",
        resource_id=str(organisation_id),
        organisation_id=organisation_id,
        details={"rule": PILOT_END_RULE, "rows": total.rows, "citizens": plan.citizens},
    )
    return total


def purge_sessions(session: Session, deps: ServiceDeps, actor: Actor) -> int:
    """Delete login sessions that ended (or expired) longer ago than the schedule's
    ``sessions`` period; the audit log keeps the security events. Returns the count."""
    from consent_service.identity.models import UserSession

    keep = default_schedule().categories["sessions"].keep
    now = deps.clock.now()
    today = now.date()
    cutoff = now - (keep.after(today) - today)
    stale = select(UserSession.id).where(
        func.coalesce(UserSession.ended_at, UserSession.expires_at) < cutoff,
        UserSession.expires_at < cutoff,
    )
    ids = list(session.scalars(stale).all())
    if not ids:
        return 0
    session.execute(delete(UserSession).where(UserSession.id.in_(ids)))
    deps.audit.record(
        session,
        actor,
        action="retention.sessions_purged",
        outcome="success",
        details={"rule": "sessions", "rows": len(ids)},
    )
    return len(ids)

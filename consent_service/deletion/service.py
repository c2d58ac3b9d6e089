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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from consent_service.audit.catalogue import default_event_catalogue
from consent_service.audit.recorder import Actor, AuditRecorder
from consent_service.citizens.models import Citizen
from consent_service.clock import LEGAL_TZ, Clock
from consent_service.consents import paper
from consent_service.consents import repository as consents_repo
from consent_service.deletion import evidence_query, repository
from consent_service.deletion.evidence import evidence_allowed_from
from consent_service.errors import RuleRefusal
from consent_service.retention.schedule import RetentionSchedule, default_schedule
from consent_service.services import ServiceDeps
from consent_service.wellbeing.service import shred_for_consent

PILOT_END_RULE = "pilot_end"
UNRECORDED_RULE = "unrecorded"  # a tombstone whose deletion record the audit log no longer has


@dataclass(frozen=True)
class DeletionPlan:
    """What a deletion would remove: rows per category (a dry run); what it keeps
    (``kept``: rows per category) and until when (``kept_until``); and how many signed
    paper originals are not yet recorded as destroyed (they must be destroyed by hand)."""

    citizens: int
    rows: dict[str, int]
    kept: dict[str, int]
    allowed_from: date
    deadline: date
    kept_until: dict[str, date] = field(default_factory=dict)
    paper_originals: int = 0

    def may_delete_on(self, today: date) -> bool:
        """Whether the deletion may be confirmed on ``today``: only after the pilot's end."""
        return today >= self.allowed_from


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


def shred_withdrawn_wellbeing(
    session: Session, deps: ServiceDeps, actor: Actor, citizen: Citizen, consent_id: int
) -> int:
    """After a wellbeing consent is withdrawn: shred and delete the answers given under
    it (retention category ``wellbeing_answers_withdrawn``). Refuses a consent that is
    not a withdrawn wellbeing consent of this citizen."""
    consents_repo.lock_consents_for_ending(session, citizen.organisation_id)
    consent = repository.consent_by_id(session, consent_id)
    if consent is None or consent.citizen_id != citizen.id or consent.kind != "wellbeing":
        raise RuleRefusal("Ikke et trivselssamtykke for borgeren.")
    if not repository.is_withdrawn(session, consent.id):
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


def delete_citizen(
    session: Session, deps: ServiceDeps, actor: Actor, citizen: Citizen, rule: str
) -> DeletionRecord:
    """Crypto-shred and delete one citizen's personal data, keeping a tombstone and the
    consent records without identity. Idempotent: a deleted citizen is left as it is.
    Waits for a running extract execution of the organisation, which may hold the
    citizen's keys from its snapshot (consents/repository.py)."""
    return _erase_citizen(session, deps.clock, deps.audit, actor, citizen, rule)


def _erase_citizen(
    session: Session, clock: Clock, audit: AuditRecorder, actor: Actor, citizen: Citizen, rule: str
) -> DeletionRecord:
    consents_repo.lock_consents_for_ending(session, citizen.organisation_id)
    if citizen.deleted_at is not None:
        return DeletionRecord(rule)
    record = DeletionRecord(rule, repository.citizen_rows(session, [citizen.id]))
    # 1. Crypto-shredding: without the keys nothing sealed for the citizen decrypts,
    #    in this database or in any data backup.
    repository.destroy_citizen_keys(session, citizen.id)
    # 2. The rows.
    repository.delete_citizen_rows(session, citizen.id)
    now = clock.now()
    for job in repository.pending_jobs_of(session, citizen.id):
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
    audit.record(
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


# --- the deletion ledger: deletions a restore of an older backup must apply again --------


@dataclass(frozen=True)
class LedgerEntry:
    """One deletion this database made, as the keys file of a backup carries it: which
    citizen (public id) or which consent's wellbeing answers, by which rule, when. No
    personal data: public ids are pseudonymous."""

    kind: str  # "citizen" or "wellbeing"
    citizen: str
    rule: str
    at: str  # ISO 8601, when the original deletion happened
    consent: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "citizen": self.citizen,
            "rule": self.rule,
            "at": self.at,
            "consent": self.consent,
        }

    @classmethod
    def from_json(cls, item: Any) -> LedgerEntry:
        """Raises ValueError, KeyError or TypeError if ``item`` is not a ledger entry."""
        kind, citizen, rule, at = (str(item[k]) for k in ("kind", "citizen", "rule", "at"))
        consent = item.get("consent")
        if kind not in ("citizen", "wellbeing") or (kind == "wellbeing") != bool(consent):
            raise ValueError("not a ledger entry")
        datetime.fromisoformat(at)
        return cls(kind, citizen, rule, at, str(consent) if consent else None)


def deletion_ledger(conn: Session | Connection) -> list[LedgerEntry]:
    """Every deletion the database holds a record of: each ``wellbeing.deleted`` event,
    then each tombstone (with the rule its ``citizen.deleted`` audit event names)."""
    rules: dict[str, str] = {}
    entries: list[LedgerEntry] = []
    for action, citizen, body, occurred_at in repository.deletion_events(conn):
        rule = str(body.get("rule", UNRECORDED_RULE))
        if action == "citizen.deleted" and citizen:
            rules[citizen] = rule
        elif action == "wellbeing.deleted" and citizen and body.get("consent"):
            entries.append(
                LedgerEntry("wellbeing", citizen, rule, occurred_at.isoformat(), body["consent"])
            )
    for public_id, deleted_at in repository.tombstones(conn):
        at = deleted_at.isoformat() if deleted_at is not None else ""
        entries.append(LedgerEntry("citizen", public_id, rules.get(public_id, UNRECORDED_RULE), at))
    return entries


def reapply_deletions(
    session: Session,
    clock: Clock,
    audit: AuditRecorder,
    actor: Actor,
    ledger: Sequence[LedgerEntry],
) -> list[LedgerEntry]:
    """After a restore: make again every deletion of ``ledger`` that the restored data
    does not have (it was made after the backup was taken), with the same code and rule
    as the first time and audited the same way, so an older backup never brings back a
    deleted citizen's row, blind index or answers. Returns the deletions made again."""
    done: list[LedgerEntry] = []
    for entry in ledger:
        if entry.kind == "citizen":
            citizen = repository.citizen_by_public_id(session, entry.citizen)
            if citizen is None or citizen.deleted_at is not None:
                continue
            _erase_citizen(session, clock, audit, actor, citizen, entry.rule)
            done.append(entry)
            continue
        consent = repository.consent_by_public_id(session, entry.consent)
        if consent is None:
            continue
        owner = session.get(Citizen, consent.citizen_id)
        answers = repository.answers_under_consent(session, consent.id)
        if owner is None or owner.public_id != entry.citizen or not answers:
            continue
        consents_repo.lock_consents_for_ending(session, owner.organisation_id)
        count = shred_for_consent(session, owner, consent)
        record = DeletionRecord(entry.rule, {"wellbeing_answers": count})
        audit.record(
            session,
            actor,
            action="wellbeing.deleted",
            outcome="success",
            resource_type="citizen",
            resource_id=owner.public_id,
            organisation_id=owner.organisation_id,
            details={
                "consent": consent.public_id,
                "rule": record.rule,
                "rows": record.rows,
                "hash": record.digest(owner.public_id, clock.now().isoformat()),
            },
        )
        done.append(entry)
    return done


def plan_pilot_end(
    session: Session, organisation_id: int, schedule: RetentionSchedule | None = None
) -> DeletionPlan:
    """The dry run of the pilot-end deletion for one organisation: nothing changes."""
    schedule = schedule or default_schedule()
    ids = [c.id for c in repository.live_citizens_of(session, organisation_id)]
    rows = repository.citizen_rows(session, ids) if ids else {}
    plans = repository.measurement_plans_of_organisation(session, organisation_id)
    if plans:
        rows = {**rows, "measurement_plans": plans}
    kept, kept_until = _kept(session, organisation_id, len(ids))
    identity = schedule.categories["citizen_identity"]
    return DeletionPlan(
        citizens=len(ids),
        rows=rows,
        kept=kept,
        allowed_from=date.fromordinal(schedule.pilot_end.toordinal() + 1),
        deadline=identity.keep.after(schedule.pilot_end),
        kept_until=kept_until,
        paper_originals=paper.not_destroyed(session, organisation_id),
    )


def _kept(
    session: Session, organisation_id: int, citizens: int
) -> tuple[dict[str, int], dict[str, date]]:
    """What the pilot-end deletion keeps, without identity, and until when: the consent
    evidence until the day before its own deletion may be confirmed (``deletion.evidence``),
    the deletion records (one per citizen, and the summary) as long as the audit
    catalogue keeps them."""
    evidence = evidence_query.evidence_rows(session, organisation_id)
    until = evidence_allowed_from(session) - timedelta(days=1)
    kept = {
        name: evidence[name]
        for name in (
            "consent_records",
            "disclosures",
            "extract_manifests",
            "paper_custody",
            "subject_requests",
            "erasure_proposals",
        )
    }
    kept["deletion_records"] = citizens + 1
    record_until = default_event_catalogue().retention_deadline(
        "citizen.deleted", datetime(2000, 1, 1, tzinfo=LEGAL_TZ)
    )
    kept_until = dict.fromkeys(kept, until)
    if record_until is not None:
        kept_until["deletion_records"] = record_until.astimezone(LEGAL_TZ).date()
    return kept, kept_until


def dry_run_pilot_end(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int
) -> DeletionPlan:
    """The pilot-end deletion's dry run as a data controller sees it: the plan, audited
    (``retention.dry_run``)."""
    plan = plan_pilot_end(session, organisation_id)
    deps.audit.record(
        session,
        actor,
        action="retention.dry_run",
        outcome="success",
        resource_type="organisation",
        resource_id=str(organisation_id),
        details={"citizens": plan.citizens},
    )
    return plan


def run_pilot_end(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, today: date
) -> DeletionRecord:
    """Delete every citizen of the organisation after the pilot has ended. The caller
    has had a data controller confirm with a fresh TOTP code."""
    plan = plan_pilot_end(session, organisation_id)
    if not plan.may_delete_on(today):
        raise RuleRefusal(
            f"Sletning ved projektets afslutning kan først ske fra {plan.allowed_from:%d-%m-%Y}."
        )
    total = DeletionRecord(PILOT_END_RULE)
    for citizen in repository.live_citizens_of(session, organisation_id):
        for category, count in delete_citizen(
            session, deps, actor, citizen, PILOT_END_RULE
        ).rows.items():
            total.add(category, count)
    plans = repository.delete_measurement_plans(session, organisation_id)
    if plans:
        total.add("measurement_plans", plans)
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
    keep = default_schedule().categories["sessions"].keep
    now = deps.clock.now()
    today = now.date()
    cutoff = now - (keep.after(today) - today)
    count = repository.delete_sessions_ended_before(session, cutoff)
    if not count:
        return 0
    deps.audit.record(
        session,
        actor,
        action="retention.sessions_purged",
        outcome="success",
        details={"rule": "sessions", "rows": count},
    )
    return count

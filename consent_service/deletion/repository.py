"""All database queries of the deletions: counting and deleting a citizen's rows in every
domain's tables (the worklist's tasks and pending jobs among them), and reading the
deletion ledger. Deletion is the one job that reaches into every domain's tables, so its
deletes are written here, together, where a reviewer can see what a deletion removes; it
sits above the domains it deletes from (the worker, which runs its scheduled bodies, sits
above it)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.orm import Session

from consent_service.audit.models import AuditEvent
from consent_service.citizens.models import (
    Citizen,
    CitizenChange,
    CitizenKey,
    Referral,
    ReferralContact,
)
from consent_service.consents.models import Consent, ConsentEvent, ConsentForm, ConsentScan
from consent_service.deletion.erasure_models import ErasureProposal
from consent_service.extracts.models import MeasurementPlan
from consent_service.identity.models import UserSession
from consent_service.jobs.models import Job, Task
from consent_service.wellbeing.models import WellbeingResponse


def _count(session: Session, stmt: Any) -> int:
    return int(session.scalar(stmt) or 0)


def _count_where(session: Session, model: type, condition: Any) -> int:
    return _count(session, select(func.count()).select_from(model).where(condition))


def consent_by_id(session: Session, consent_id: int) -> Consent | None:
    """The consent with this id, of any citizen."""
    return session.get(Consent, consent_id)


def consent_by_public_id(session: Session, public_id: str | None) -> Consent | None:
    """The consent with this public id, of any organisation (a restore's ledger)."""
    return session.scalar(select(Consent).where(Consent.public_id == public_id))


def citizen_by_public_id(session: Session, public_id: str) -> Citizen | None:
    """The citizen with this public id, deleted or not, of any organisation: a restore
    re-applies the deletions of the whole database."""
    return session.scalar(select(Citizen).where(Citizen.public_id == public_id))


def is_withdrawn(session: Session, consent_id: int) -> bool:
    """Whether the consent has a ``withdrawn`` event."""
    return bool(
        _count_where(
            session,
            ConsentEvent,
            (ConsentEvent.consent_id == consent_id) & (ConsentEvent.event_type == "withdrawn"),
        )
    )


def answers_under_consent(session: Session, consent_id: int) -> int:
    """How many wellbeing answers were given under the consent."""
    return _count_where(session, WellbeingResponse, WellbeingResponse.consent_id == consent_id)


def measurement_plans_of_organisation(session: Session, organisation_id: int) -> int:
    """How many measurement date overrides the organisation holds (removed at pilot end:
    their reasons are free text a data controller wrote)."""
    return _count_where(
        session, MeasurementPlan, MeasurementPlan.organisation_id == organisation_id
    )


def delete_measurement_plans(session: Session, organisation_id: int) -> int:
    """Delete the organisation's measurement date overrides; returns how many."""
    count = measurement_plans_of_organisation(session, organisation_id)
    session.execute(
        delete(MeasurementPlan).where(MeasurementPlan.organisation_id == organisation_id)
    )
    return count


def citizen_rows(session: Session, citizen_ids: list[int]) -> dict[str, int]:
    """The rows a deletion of these citizens removes, per retention category."""
    consent_ids = select(Consent.id).where(Consent.citizen_id.in_(citizen_ids))
    return {
        "citizen_identity": len(citizen_ids),
        "data_keys": _count_where(session, CitizenKey, CitizenKey.citizen_id.in_(citizen_ids)),
        "citizen_changes": _count_where(
            session, CitizenChange, CitizenChange.citizen_id.in_(citizen_ids)
        ),
        "referral": _count_where(session, Referral, Referral.citizen_id.in_(citizen_ids)),
        "wellbeing_answers": _count_where(
            session, WellbeingResponse, WellbeingResponse.citizen_id.in_(citizen_ids)
        ),
        "signed_scans": _count_where(session, ConsentScan, ConsentScan.consent_id.in_(consent_ids)),
        "worklist_tasks": _count_where(session, Task, Task.citizen_id.in_(citizen_ids)),
    }


def destroy_citizen_keys(session: Session, citizen_id: int) -> None:
    """Crypto-shredding: the citizen's data keys go, so nothing sealed for them decrypts."""
    session.execute(delete(CitizenKey).where(CitizenKey.citizen_id == citizen_id))


def delete_citizen_rows(session: Session, citizen_id: int) -> None:
    """The citizen's scans, printed PDFs, answers, referrals (with their contacts),
    corrections and worklist tasks, and the notes of proposals to erase them (the
    proposals stay, as the erasure's record, without identity)."""
    consent_ids = select(Consent.id).where(Consent.citizen_id == citizen_id)
    session.execute(delete(CitizenChange).where(CitizenChange.citizen_id == citizen_id))
    session.execute(delete(ConsentScan).where(ConsentScan.consent_id.in_(consent_ids)))
    # The printed PDFs carry name and CPR: crypto-shredding makes them unreadable, but they
    # are not kept either (the form rows stay, as evidence of what was printed, by hash).
    session.execute(
        update(ConsentForm).where(ConsentForm.citizen_id == citizen_id).values(pdf_sealed=None)
    )
    session.execute(delete(WellbeingResponse).where(WellbeingResponse.citizen_id == citizen_id))
    referral_ids = select(Referral.id).where(Referral.citizen_id == citizen_id)
    session.execute(delete(ReferralContact).where(ReferralContact.referral_id.in_(referral_ids)))
    session.execute(delete(Referral).where(Referral.citizen_id == citizen_id))
    session.execute(delete(Task).where(Task.citizen_id == citizen_id))
    session.execute(
        update(ErasureProposal)
        .where(ErasureProposal.citizen_id == citizen_id)
        .values(note_sealed=None)
    )


def pending_jobs_of(session: Session, citizen_id: int) -> Sequence[Job]:
    """The citizen's jobs not yet run."""
    return session.scalars(
        select(Job).where(Job.citizen_id == citizen_id, Job.status == "pending")
    ).all()


def live_citizens_of(session: Session, organisation_id: int) -> list[Citizen]:
    """The organisation's citizens not deleted, in id order."""
    return list(
        session.scalars(
            select(Citizen)
            .where(Citizen.organisation_id == organisation_id, Citizen.deleted_at.is_(None))
            .order_by(Citizen.id)
        ).all()
    )


def deletion_events(
    conn: Session | Connection,
) -> Sequence[tuple[str, str | None, dict[str, Any], datetime]]:
    """Every ``citizen.deleted`` and ``wellbeing.deleted`` audit event, in log order:
    (action, citizen public id, details, when)."""
    rows = conn.execute(
        select(
            AuditEvent.action, AuditEvent.resource_id, AuditEvent.details, AuditEvent.occurred_at
        )
        .where(AuditEvent.action.in_(("citizen.deleted", "wellbeing.deleted")))
        .order_by(AuditEvent.seq)
    ).all()
    return [
        (action, citizen, json.loads(details or "{}"), occurred_at)
        for action, citizen, details, occurred_at in rows
    ]


def tombstones(conn: Session | Connection) -> Sequence[tuple[str, datetime | None]]:
    """(public id, deleted at) of every deleted citizen, in order of deletion."""
    rows = conn.execute(
        select(Citizen.public_id, Citizen.deleted_at)
        .where(Citizen.deleted_at.is_not(None))
        .order_by(Citizen.deleted_at, Citizen.id)
    ).all()
    return [(public_id, deleted_at) for public_id, deleted_at in rows]


def delete_sessions_ended_before(session: Session, cutoff: datetime) -> int:
    """Delete the login sessions that ended (or expired) before ``cutoff``; how many."""
    stale = select(UserSession.id).where(
        func.coalesce(UserSession.ended_at, UserSession.expires_at) < cutoff,
        UserSession.expires_at < cutoff,
    )
    ids = list(session.scalars(stale).all())
    if ids:
        session.execute(delete(UserSession).where(UserSession.id.in_(ids)))
    return len(ids)

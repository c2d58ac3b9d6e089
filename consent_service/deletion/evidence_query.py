"""The queries of the consent evidence's retention-end deletion (``deletion.evidence``):
counting an organisation's evidence per category, and deleting it, in the order the
foreign keys need. On PostgreSQL the deletion is the database function
``evidence_purge_expired`` (migration 0019), which deletes the same rows in the same order
and refuses before the day ``evidence_retention`` gives; the Python deletes below are the
SQLite path, which has no roles to keep a stolen login from them."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.citizens.models import Citizen
from consent_service.consents.models import Consent, ConsentEvent, ConsentForm, Disclosure
from consent_service.consents.paper_models import PaperCustody
from consent_service.deletion.erasure_models import ErasureProposal
from consent_service.extracts.models import ExtractChunk, ExtractFile, ExtractRequest
from consent_service.jobs.models import Job
from consent_service.retention.models import EvidenceRetention
from consent_service.retention.schedule import EVIDENCE_CATEGORIES
from consent_service.subject_requests.models import SubjectRequest

TOO_EARLY = "EV001"
LIVE_CITIZENS = "EV002"


def _count(session: Session, model: type, condition: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(condition)) or 0)


def _consent_ids(organisation_id: int) -> Any:
    return select(Consent.id).where(Consent.organisation_id == organisation_id)


def _request_ids(organisation_id: int) -> Any:
    return select(ExtractRequest.id).where(ExtractRequest.organisation_id == organisation_id)


def _jobs(organisation_id: int) -> Any:
    citizens = select(Citizen.id).where(Citizen.organisation_id == organisation_id)
    return (Job.organisation_id == organisation_id) & (
        Job.citizen_id.in_(citizens) | Job.consent_id.in_(_consent_ids(organisation_id))
    )


def evidence_rows(session: Session, organisation_id: int) -> dict[str, int]:
    """The rows the deletion of the organisation's consent evidence removes, per category
    (the keys of the deletion record, sorted)."""
    org = organisation_id
    return {
        "citizen_tombstones": _count(
            session, Citizen, (Citizen.organisation_id == org) & Citizen.deleted_at.is_not(None)
        ),
        "consent_events": _count(
            session, ConsentEvent, ConsentEvent.consent_id.in_(_consent_ids(org))
        ),
        "consent_forms": _count(session, ConsentForm, ConsentForm.organisation_id == org),
        "consent_records": _count(session, Consent, Consent.organisation_id == org),
        "disclosures": _count(session, Disclosure, Disclosure.organisation_id == org),
        "extract_files": _count(
            session, ExtractFile, ExtractFile.request_id.in_(_request_ids(org))
        ),
        "extract_manifests": _count(session, ExtractRequest, ExtractRequest.organisation_id == org),
        "jobs": _count(session, Job, _jobs(org)),
        "paper_custody": _count(session, PaperCustody, PaperCustody.organisation_id == org),
        "subject_requests": _count(session, SubjectRequest, SubjectRequest.organisation_id == org),
        "erasure_proposals": _count(
            session, ErasureProposal, ErasureProposal.organisation_id == org
        ),
    }


def live_citizens(session: Session, organisation_id: int) -> int:
    """How many of the organisation's citizens are not deleted."""
    return _count(
        session,
        Citizen,
        (Citizen.organisation_id == organisation_id) & Citizen.deleted_at.is_(None),
    )


def delete_from(session: Session) -> date | None:
    """The first day every evidence category may go, as the database holds it
    (``evidence_retention``); None if a category is missing (then nothing may go)."""
    rows = session.scalars(select(EvidenceRetention.delete_from)).all()
    return max(rows) if len(rows) == len(EVIDENCE_CATEGORIES) else None


def delete_evidence(session: Session, organisation_id: int) -> None:
    """The SQLite path: delete the organisation's consent evidence, as the function does."""
    org = organisation_id
    files = select(ExtractFile.id).where(ExtractFile.request_id.in_(_request_ids(org)))
    for stmt in (
        delete(Job).where(_jobs(org)),
        delete(Disclosure).where(Disclosure.organisation_id == org),
        delete(PaperCustody).where(PaperCustody.organisation_id == org),
        delete(ConsentEvent).where(ConsentEvent.consent_id.in_(_consent_ids(org))),
        delete(Consent).where(Consent.organisation_id == org),
        delete(ConsentForm).where(ConsentForm.organisation_id == org),
        delete(ExtractChunk).where(ExtractChunk.file_id.in_(files)),
        delete(ExtractFile).where(ExtractFile.request_id.in_(_request_ids(org))),
        delete(ExtractRequest).where(ExtractRequest.organisation_id == org),
        delete(SubjectRequest).where(SubjectRequest.organisation_id == org),
        delete(ErasureProposal).where(ErasureProposal.organisation_id == org),
        delete(Citizen).where(Citizen.organisation_id == org, Citizen.deleted_at.is_not(None)),
    ):
        session.execute(stmt, execution_options={"synchronize_session": False})
    session.expire_all()


class DatabaseRefused(Exception):
    """``evidence_purge_expired`` refused: ``code`` is TOO_EARLY or LIVE_CITIZENS."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def purge_in_database(session: Session, organisation_id: int, actor: Actor) -> dict[str, Any]:
    """PostgreSQL: ``evidence_purge_expired`` deletes and stages the deletion record in
    this transaction; returns the record's details. Raises DatabaseRefused (the
    transaction is then aborted: the caller rolls it back)."""
    try:
        details: str = session.execute(
            text(
                "SELECT evidence_purge_expired(:org, :user_id, :username, :request_id, :source_ip)"
            ),
            {
                "org": organisation_id,
                "user_id": actor.user_id,
                "username": actor.username,
                "request_id": actor.request_id,
                "source_ip": actor.source_ip,
            },
        ).scalar_one()
    except DBAPIError as exc:
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if code in (TOO_EARLY, LIVE_CITIZENS):
            raise DatabaseRefused(code) from None
        raise
    session.expire_all()
    return dict(json.loads(details))

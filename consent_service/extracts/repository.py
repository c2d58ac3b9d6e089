"""All database queries of extract requests, their files and chunks (the consent gate's
SQL is its own query module, ``extracts/gate_query.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.orm import Session

from consent_service.consents.models import Consent, ConsentEvent, Disclosure
from consent_service.db import UtcDateTime
from consent_service.extracts.models import ExtractChunk, ExtractFile, ExtractRequest

BATCH = 5000


def request_by_public_id(
    session: Session, organisation_id: int, public_id: str
) -> ExtractRequest | None:
    """The organisation's request with this public id; another organisation's is None."""
    return session.scalar(
        select(ExtractRequest).where(
            ExtractRequest.public_id == public_id,
            ExtractRequest.organisation_id == organisation_id,
        )
    )


def latest_requests(session: Session, organisation_id: int, limit: int) -> Sequence[ExtractRequest]:
    """The organisation's newest requests first."""
    return session.scalars(
        select(ExtractRequest)
        .where(ExtractRequest.organisation_id == organisation_id)
        .order_by(ExtractRequest.requested_at.desc())
        .limit(limit)
    ).all()


def executed_with_files(session: Session) -> Sequence[ExtractRequest]:
    """Every executed request whose files are not deleted yet, of every organisation."""
    return session.scalars(
        select(ExtractRequest).where(
            ExtractRequest.status == "executed", ExtractRequest.files_deleted_at.is_(None)
        )
    ).all()


def files_of(session: Session, request_id: int) -> Sequence[ExtractFile]:
    """The request's files (not their chunks)."""
    return session.scalars(select(ExtractFile).where(ExtractFile.request_id == request_id)).all()


def chunks_of(session: Session, file_id: int) -> Sequence[ExtractChunk]:
    """A file's sealed chunks, in order."""
    return session.scalars(
        select(ExtractChunk).where(ExtractChunk.file_id == file_id).order_by(ExtractChunk.seq)
    ).all()


def add_chunk(session: Session, file_id: int, seq: int, content_sealed: bytes) -> None:
    """Insert one sealed chunk without loading it into the session."""
    session.execute(
        insert(ExtractChunk),
        [{"file_id": file_id, "seq": seq, "content_sealed": content_sealed}],
    )


def delete_files(session: Session, request_id: int) -> int:
    """Delete the request's files and their chunks; returns how many files."""
    files = session.scalars(
        select(ExtractFile.id).where(ExtractFile.request_id == request_id)
    ).all()
    session.execute(delete(ExtractChunk).where(ExtractChunk.file_id.in_(files)))
    session.execute(delete(ExtractFile).where(ExtractFile.request_id == request_id))
    return len(files)


def record_obtained(
    session: Session, consent_ids: list[int], day: date, note: str, now: datetime, user_id: int
) -> None:
    """A ``data_obtained`` event per consent: on PostgreSQL one INSERT ... SELECT over
    ``unnest`` of the ids, elsewhere executemany in batches. (Written here, beside the
    execution it belongs to, rather than with the consents' one-at-a-time events: it is
    the extract's set-based write.)"""
    table = cast(Table, ConsentEvent.__table__)
    if not consent_ids:
        return
    if session.get_bind().dialect.name == "postgresql":
        ids = bindparam("ids", type_=ARRAY(Integer))
        session.execute(
            insert(table).from_select(
                ["consent_id", "event_type", "occurred_on", "note", "recorded_at", "recorded_by"],
                select(func.unnest(ids), literal("data_obtained"), literal(day), literal(note),
                       literal(now, UtcDateTime()), literal(user_id)),
            ),
            {"ids": consent_ids},
        )  # fmt: skip
        return
    for i in range(0, len(consent_ids), BATCH):
        session.execute(
            insert(table),
            [{"consent_id": cid, "event_type": "data_obtained", "occurred_on": day,
              "note": note, "recorded_at": now, "recorded_by": user_id}
             for cid in consent_ids[i : i + BATCH]],
        )  # fmt: skip


def record_disclosures(
    session: Session,
    consents: list[int] | list[str],
    req: ExtractRequest,
    day: date,
    recipient: str,
    legal_basis: str,
    now: datetime,
) -> None:
    """A disclosure per consent used (so per citizen: one consent of the purpose's kind
    each), its citizen, kind, version and text hash read from the consent in the same
    statement: on PostgreSQL one INSERT ... SELECT over ``= ANY`` of the ids, elsewhere the
    same INSERT ... SELECT over batches of ids. ``consents`` are the consents' ids, or
    their public ids (the wellbeing gate's rows carry those)."""
    if not consents:
        return
    by_public_id = isinstance(consents[0], str)
    key = Consent.public_id if by_public_id else Consent.id
    columns = ["organisation_id", "citizen_id", "consent_id", "consent_kind",
               "template_version", "text_sha256", "request_id", "disclosed_on", "purpose",
               "recipient", "legal_basis", "recorded_at"]  # fmt: skip
    constants = [
        bindparam("d_request", req.id, type_=Integer),
        bindparam("d_day", day),
        bindparam("d_purpose", req.purpose),
        bindparam("d_recipient", recipient),
        bindparam("d_legal_basis", legal_basis),
        bindparam("d_now", now, type_=UtcDateTime()),
    ]

    def from_consents(where: Any) -> Any:
        return insert(cast(Table, Disclosure.__table__)).from_select(
            columns,
            select(Consent.organisation_id, Consent.citizen_id, Consent.id, Consent.kind,
                   Consent.template_version, Consent.text_sha256, *constants)
            .where(where, Consent.organisation_id == req.organisation_id),
        )  # fmt: skip

    if session.get_bind().dialect.name == "postgresql":
        ids = bindparam("ids", type_=ARRAY(String if by_public_id else Integer))
        session.execute(from_consents(key == func.any(ids)), {"ids": consents})
        return
    for i in range(0, len(consents), BATCH):
        session.execute(from_consents(key.in_(consents[i : i + BATCH])))

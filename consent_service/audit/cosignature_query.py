"""The queries of the witness hand-off (``audit.witnessing``) and of the DPO's witness
status, in one place: witnesses' cosignatures (``audit_cosignature``), the checkpoints
still to hand over, the digests that prove a checkpoint extends the last one a witness
saw, and the audit events that record failures and mailed checkpoints."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consent_service.audit.chain import event_digest
from consent_service.audit.models import AuditCheckpoint, AuditCosignature, AuditEvent
from consent_service.audit.recorder import as_record

WITNESSED = "audit.witnessed"
WITNESS_FAILED = "audit.witness_failed"
WITNESS_DISAGREED = "audit.witness_disagreed"
CHECKPOINT_MAILED = "audit.checkpoint_mailed"
WITNESS_RESOURCE = "witness"  # resource_type of the witness events; resource_id = its name
MAILBOX_RESOURCE = "mailbox"  # resource_type of the mailbox's failures


class MissingEvents(Exception):
    """Events a proof needs are not in the log (purged, or cut)."""


def newest_cosignature(
    session: Session, witness: str, key_id: str | None = None
) -> AuditCosignature | None:
    """The witness's cosignature of the largest checkpoint (the newest of those), by its
    key ``key_id`` if given."""
    stmt = select(AuditCosignature).where(AuditCosignature.witness == witness)
    if key_id is not None:
        stmt = stmt.where(AuditCosignature.witness_key_id == key_id)
    return session.scalar(
        stmt.order_by(AuditCosignature.seq.desc(), AuditCosignature.cosigned_at.desc()).limit(1)
    )


def cosignatures_of(
    session: Session, seq: int, witness: str | None = None, key_id: str | None = None
) -> list[AuditCosignature]:
    """The kept cosignatures of the checkpoint at ``seq`` (of ``witness`` by its key
    ``key_id`` if given), one per witness key: its newest. A note may carry only one
    signature per key, so an older cosignature of the same checkpoint is left out."""
    stmt = select(AuditCosignature).where(AuditCosignature.seq == seq)
    if witness is not None:
        stmt = stmt.where(AuditCosignature.witness == witness)
    if key_id is not None:
        stmt = stmt.where(AuditCosignature.witness_key_id == key_id)
    rows = session.scalars(
        stmt.order_by(
            AuditCosignature.witness,
            AuditCosignature.witness_key_id,
            AuditCosignature.cosigned_at.desc(),
            AuditCosignature.id.desc(),
        )
    )
    newest: dict[tuple[str, str], AuditCosignature] = {}
    for row in rows:
        newest.setdefault((row.witness, row.witness_key_id), row)
    return list(newest.values())


def add_cosignature(session: Session, row: AuditCosignature) -> bool:
    """Keep a received cosignature; False if the same one is already kept (two workers)."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


def log_head(session: Session) -> int:
    """The number of events ever chained (the head's seq), 0 for an empty log."""
    return int(session.scalar(select(func.max(AuditEvent.seq))) or 0)


def checkpoints_after(session: Session, origin: str, seq: int, limit: int) -> list[AuditCheckpoint]:
    """The log's signed checkpoints beyond ``seq`` events, oldest first."""
    return list(
        session.scalars(
            select(AuditCheckpoint)
            .where(AuditCheckpoint.origin == origin, AuditCheckpoint.seq > seq)
            .order_by(AuditCheckpoint.seq)
            .limit(limit)
        )
    )


def checkpoint_at(session: Session, seq: int) -> AuditCheckpoint | None:
    return session.scalar(select(AuditCheckpoint).where(AuditCheckpoint.seq == seq))


def digests(session: Session, after: int, upto: int) -> list[bytes]:
    """The chain v2 digests of events ``after+1 .. upto``, in seq order; raises
    ``MissingEvents`` if any of them is not in the log."""
    if upto <= after:
        return []
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.seq > after, AuditEvent.seq <= upto)
        .order_by(AuditEvent.seq)
    )
    out = [bytes.fromhex(event_digest(as_record(e))) for e in events]
    if len(out) != upto - after:
        raise MissingEvents(f"events {after + 1}-{upto} are not all in the log")
    return out


def newest_witness_event(session: Session, witness: str) -> AuditEvent | None:
    """The newest recorded outcome of a hand-off to ``witness``."""
    return session.scalar(
        select(AuditEvent)
        .where(
            AuditEvent.resource_type == WITNESS_RESOURCE,
            AuditEvent.resource_id == witness,
            AuditEvent.action.in_((WITNESSED, WITNESS_FAILED, WITNESS_DISAGREED)),
        )
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )


def newest_mailbox_failure(session: Session) -> AuditEvent | None:
    return session.scalar(
        select(AuditEvent)
        .where(AuditEvent.resource_type == MAILBOX_RESOURCE, AuditEvent.action == WITNESS_FAILED)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )


def newest_mailed(session: Session) -> AuditEvent | None:
    """The record of the last checkpoint mailed to the DPO (``resource_id`` its seq)."""
    return session.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == CHECKPOINT_MAILED)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )


def interval_checkpoints_after(
    session: Session, origin: str, seq: int | None, limit: int
) -> Sequence[AuditCheckpoint]:
    """Interval checkpoints beyond ``seq``, oldest first; with ``seq`` None (nothing
    mailed yet) only the newest."""
    stmt = select(AuditCheckpoint).where(
        AuditCheckpoint.origin == origin, AuditCheckpoint.made_for == "interval"
    )
    if seq is None:
        return list(session.scalars(stmt.order_by(AuditCheckpoint.seq.desc()).limit(1)))
    return list(
        session.scalars(
            stmt.where(AuditCheckpoint.seq > seq).order_by(AuditCheckpoint.seq).limit(limit)
        )
    )

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UtcDateTime


class _EventFields:
    """What an event records, staged (``audit_pending``) or chained (``audit_event``):
    the chain fields except ``seq`` and ``prev_hash``. One declaration, so the two tables
    cannot drift apart (``audit_seal`` copies one into the other column by column)."""

    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor_username: Mapped[str | None] = mapped_column(String(64), nullable=True)
    organisation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    resource_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[str] = mapped_column(Text, default="{}")


class AuditEvent(_EventFields, Base):
    """One audited use or change. Append-only: the database refuses UPDATE and DELETE.

    Citizens appear only by pseudonymous id (``resource_id``); ``details`` is canonical JSON
    of metadata, never content.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_occurred_at", "occurred_at"),
        Index("ix_audit_event_actor_time", "actor_user_id", "occurred_at"),
        Index("ix_audit_event_org_time", "organisation_id", "occurred_at"),
        Index("ix_audit_event_action_time", "action", "occurred_at"),
        Index("ix_audit_event_resource", "resource_type", "resource_id"),
        Index("ix_audit_event_request_id", "request_id"),
        Index("ix_audit_event_source_ip_time", "source_ip", "occurred_at"),
    )

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditPending(_EventFields, Base):
    """An event recorded on PostgreSQL but not yet chained.

    A request inserts its events here, in its own transaction, so they commit or roll
    back with its data change, and it takes no lock. Right after the commit, the sealer
    (``recorder.seal_pending``, the database function ``audit_seal``) takes the chain
    lock once and moves every committed pending event into ``audit_event``, chained in
    ``id`` order. A batch then costs one lock and one commit. Rows live here for
    milliseconds; the worker seals any a crash left behind. The database refuses UPDATE
    and TRUNCATE, and DELETE outside the sealer.
    """

    __tablename__ = "audit_pending"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)


class AuditCheckpoint(Base):
    """A signed statement of the chain head: "the log ``origin`` holds ``seq`` events, the
    last with hash ``hash``" (a C2SP checkpoint, ``checkpoints.checkpoint_message``),
    signed (Ed25519) at ``signed_at``. An outsider holding the public key can check an
    export against it; a truncated tail is caught by the last checkpoint. Never updated."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The database default only fills rows made before the column existed (none: the
    # migration that adds it refuses a database holding events); the code always sets it,
    # and an empty origin never verifies.
    origin: Mapped[str] = mapped_column(String(200), server_default=text("''"))
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    made_for: Mapped[str] = mapped_column(String(16))  # interval, on_demand, export, witness


class AuditAlert(Base):
    """A finding of an alert rule (``audit/alerts.yaml``) for one subject (an account, a
    source address) in one window; raised once, acknowledged with a comment by the DPO."""

    __tablename__ = "audit_alert"
    __table_args__ = (
        UniqueConstraint("rule", "subject_kind", "subject", "window_start"),
        Index("ix_audit_alert_open", "acknowledged_at", "raised_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(64))
    organisation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime)
    event_count: Mapped[int] = mapped_column(Integer)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acknowledged_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)


class AuditPurge(Base):
    """A removal of expired audit events: every event up to and including a signed
    checkpoint, once all of them are past their retention (``audit/events.yaml``). The
    database lets a DELETE on ``audit_event`` through only at or below the highest
    ``up_to_seq`` recorded here, so what remains verifies from that checkpoint. Never
    updated or deleted."""

    __tablename__ = "audit_purge"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    up_to_seq: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("audit_checkpoint.seq"), unique=True
    )
    events: Mapped[int] = mapped_column(Integer)
    first_occurred_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_occurred_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    removed_sha256: Mapped[str] = mapped_column(String(64))  # over the removed events' hashes
    purged_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The hash of the last removed event (the checkpoint's): where what remains starts.
    # None on purges made before it was recorded.
    up_to_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AuditRetention(Base):
    """How long each event type is kept (``audit/events.yaml``), for the database's own
    retention purge (``audit_purge_expired`` on PostgreSQL): ``months`` after the event,
    or until ``keep_until``. Written only by ``consent-service migrate``, which syncs it
    from the catalogue; an action not listed is kept for good."""

    __tablename__ = "audit_retention"

    action: Mapped[str] = mapped_column(String(64), primary_key=True)
    months: Mapped[int | None] = mapped_column(Integer, nullable=True)
    keep_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AuditCosignature(Base):
    """A witness's cosignature of one of our checkpoints (c2sp.org/tlog-cosignature), as
    received and verified by the worker: ``line`` is the signature line to append to the
    checkpoint's note. The witness keeps its own copy, out of the database's reach; this
    row is the service's record of it. Never updated or deleted."""

    __tablename__ = "audit_cosignature"
    __table_args__ = (
        UniqueConstraint("witness", "witness_key_id", "seq", "cosigned_at"),
        Index("ix_audit_cosignature_received", "witness", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    witness: Mapped[str] = mapped_column(String(200))  # the witness key's name
    witness_key_id: Mapped[str] = mapped_column(String(8))  # hex, as in its vkey
    origin: Mapped[str] = mapped_column(String(200))
    seq: Mapped[int] = mapped_column(BigInteger)  # the checkpoint's size
    cosigned_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the cosignature's timestamp
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    line: Mapped[str] = mapped_column(Text)

"""Signed checkpoints: "event ``seq`` has hash ``hash``", signed with the service's Ed25519
key at a fixed interval, on demand and at the end of every export. Anyone holding the
public key can then check an exported log without trusting the service: a line changed,
removed, added or cut off after the last checkpoint no longer matches a signature.

The signed message is restated in ``audit/verify.py`` (which imports nothing from here).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consent_service.audit.chain import canonical_time
from consent_service.audit.models import AuditCheckpoint, AuditEvent
from consent_service.audit.recorder import Actor, AuditRecorder
from consent_service.clock import Clock
from consent_service.crypto import Crypto

MESSAGE_PREFIX = b"consent-service audit checkpoint v1\n"
MADE_FOR = ("interval", "on_demand", "export")


def checkpoint_message(seq: int, event_hash: str, signed_at: datetime) -> bytes:
    body = {"hash": event_hash, "seq": seq, "signed_at": canonical_time(signed_at)}
    return MESSAGE_PREFIX + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """The key's fingerprint: SHA-256 of the raw 32-byte public key, hex."""
    return hashlib.sha256(raw_public_key(public_key)).hexdigest()


def signature_problem(checkpoint: AuditCheckpoint, public_key: Ed25519PublicKey) -> str | None:
    """Why ``checkpoint`` is not a statement signed with ``public_key``, or None if it is:
    its signature must verify over ``checkpoint_message`` of its own event, hash and time,
    and the key id it names must be that key's. A row an attacker wrote without the
    private key fails here, whatever it claims."""
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
        public_key.verify(
            signature, checkpoint_message(checkpoint.seq, checkpoint.hash, checkpoint.signed_at)
        )
    except (binascii.Error, ValueError, InvalidSignature):
        return "signature does not verify"
    if checkpoint.key_id != key_id(public_key):
        return "key id is not the service's key"
    return None


def sign_head(
    session: Session,
    crypto: Crypto,
    clock: Clock,
    audit: AuditRecorder,
    actor: Actor,
    made_for: str,
) -> AuditCheckpoint | None:
    """Sign the current chain head; None if the log is empty. Returns the existing
    checkpoint if the head is already signed. The signing is itself audited (after the
    signed head, so it is covered by the next checkpoint). Any committed event may be
    signed, so no lock is needed: the head read is the head of this transaction's view."""
    head = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    if head is None:
        return None
    return sign_event(session, crypto, clock, audit, actor, head, made_for)


def sign_event(
    session: Session,
    crypto: Crypto,
    clock: Clock,
    audit: AuditRecorder,
    actor: Actor,
    seq: int,
    made_for: str,
) -> AuditCheckpoint:
    """Sign "event ``seq`` has its stored hash" (any kept event, not only the head)."""
    if made_for not in MADE_FOR:
        raise ValueError(f"made_for must be one of {MADE_FOR}")
    event_hash = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))
    if event_hash is None:
        raise ValueError(f"no audit event {seq}")
    existing = session.scalar(select(AuditCheckpoint).where(AuditCheckpoint.seq == seq))
    if existing is not None:
        return existing
    signed_at = clock.now()
    signature = crypto.sign(checkpoint_message(seq, event_hash, signed_at))
    checkpoint = AuditCheckpoint(
        seq=seq,
        hash=event_hash,
        signed_at=signed_at,
        key_id=key_id(crypto.public_key),
        signature=base64.b64encode(signature).decode(),
        made_for=made_for,
    )
    try:
        with session.begin_nested():  # two signers of one head at once: one row, no error
            session.add(checkpoint)
    except IntegrityError:
        return session.scalars(select(AuditCheckpoint).where(AuditCheckpoint.seq == seq)).one()
    audit.record(
        session,
        actor,
        action="audit.checkpoint_signed",
        outcome="success",
        details={"seq": seq, "made_for": made_for},
    )
    return checkpoint


def sign_if_due(
    session: Session,
    crypto: Crypto,
    clock: Clock,
    audit: AuditRecorder,
    actor: Actor,
    interval: timedelta,
) -> AuditCheckpoint | None:
    """The worker's interval checkpoint: sign the head when the newest checkpoint is
    older than ``interval`` (or there is none) and something other than checkpoint
    signings happened since (a quiet log gains no event an hour)."""
    newest = session.execute(
        select(AuditCheckpoint.signed_at, AuditCheckpoint.seq)
        .order_by(AuditCheckpoint.signed_at.desc())
        .limit(1)
    ).first()
    if newest is not None:
        if clock.now() - newest.signed_at < interval:
            return None
        since = select(func.count()).where(
            AuditEvent.seq > newest.seq, AuditEvent.action != "audit.checkpoint_signed"
        )
        if not session.scalar(since):
            return None
    return sign_head(session, crypto, clock, audit, actor, "interval")


def checkpoint_before(session: Session, seq: int) -> AuditCheckpoint | None:
    """The newest checkpoint strictly before ``seq``."""
    return session.scalar(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.seq < seq)
        .order_by(AuditCheckpoint.seq.desc())
        .limit(1)
    )

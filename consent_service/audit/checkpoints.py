"""Signed checkpoints: "the log ``origin`` holds ``seq`` events and its head hash is
``hash``", signed with the service's Ed25519 key at a fixed interval, on demand and at the
end of every export. Anyone holding the public key can then check an exported log without
trusting the service: a line changed, removed, added or cut off before the last checkpoint
no longer matches a signature.

What is signed is the published C2SP checkpoint (c2sp.org/tlog-checkpoint), so a
checkpoint is also a C2SP signed note (``checkpoint_note``) that witnesses outside the
database and standard note tools read; our one deviation, a hash-chain head in place of
a Merkle root, is described in ``consent_service/witness/note.py``. The signed text is
restated in ``audit/verify.py`` (which imports nothing from here).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from datetime import timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consent_service.audit import repository as repo
from consent_service.audit.models import AuditCheckpoint
from consent_service.audit.recorder import Actor, AuditRecorder
from consent_service.clock import Clock
from consent_service.crypto import Crypto
from consent_service.witness import note

MADE_FOR = ("interval", "on_demand", "export", "witness")
# Events about checkpoints themselves: they alone do not make the log due a new checkpoint.
BOOKKEEPING = ("audit.checkpoint_signed", "audit.witnessed", "audit.checkpoint_mailed")


def checkpoint_message(origin: str, seq: int, event_hash: str) -> bytes:
    """What a checkpoint signs: the C2SP checkpoint body ``<origin>\\n<seq>\\n<base64 of
    the event's 32-byte hash>\\n``. The size is the event's ``seq``, the number of events
    ever chained (purged ones included)."""
    return note.Checkpoint(origin, seq, bytes.fromhex(event_hash)).text.encode()


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """The key's fingerprint: SHA-256 of the raw 32-byte public key, hex."""
    return hashlib.sha256(raw_public_key(public_key)).hexdigest()


def signature_problem(checkpoint: AuditCheckpoint, public_key: Ed25519PublicKey) -> str | None:
    """Why ``checkpoint`` is not a statement signed with ``public_key``, or None if it is:
    its signature must verify over ``checkpoint_message`` of its own origin, event and
    hash, and the key id it names must be that key's. A row an attacker wrote without the
    private key fails here, whatever it claims. (``signed_at`` is when the service signed,
    kept beside the statement but not part of it, as in C2SP checkpoints.)"""
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
        public_key.verify(
            signature, checkpoint_message(checkpoint.origin, checkpoint.seq, checkpoint.hash)
        )
    except (binascii.Error, ValueError, InvalidSignature):
        return "signature does not verify"
    if checkpoint.key_id != key_id(public_key):
        return "key id is not the service's key"
    return None


def note_verifier(origin: str, public_key: Ed25519PublicKey) -> note.Verifier:
    """The service's checkpoint key as a C2SP note verifier key named ``origin``."""
    return note.make_verifier(origin, public_key)


def checkpoint_note(checkpoint: AuditCheckpoint, public_key: Ed25519PublicKey) -> str:
    """The checkpoint as a C2SP signed note, for witnesses and the DPO's mailbox: its body
    and one signature line by the key named ``origin`` (the stored signature itself)."""
    body = checkpoint_message(checkpoint.origin, checkpoint.seq, checkpoint.hash).decode()
    signature = note.Signature(
        checkpoint.origin,
        note_verifier(checkpoint.origin, public_key).key_id,
        base64.b64decode(checkpoint.signature, validate=True),
    )
    return body + "\n" + signature.line


def sign_head(
    session: Session,
    crypto: Crypto,
    clock: Clock,
    audit: AuditRecorder,
    actor: Actor,
    made_for: str,
    *,
    origin: str,
) -> AuditCheckpoint | None:
    """Sign the current chain head; None if the log is empty. Returns the existing
    checkpoint if the head is already signed. The signing is itself audited (after the
    signed head, so it is covered by the next checkpoint). Any committed event may be
    signed, so no lock is needed: the head read is the head of this transaction's view."""
    head = repo.head_seq(session)
    if head is None:
        return None
    return sign_event(session, crypto, clock, audit, actor, head, made_for, origin=origin)


def sign_event(
    session: Session,
    crypto: Crypto,
    clock: Clock,
    audit: AuditRecorder,
    actor: Actor,
    seq: int,
    made_for: str,
    *,
    origin: str,
) -> AuditCheckpoint:
    """Sign "the log ``origin`` has ``seq`` events, the last with its stored hash" (any kept
    event, not only the head)."""
    if made_for not in MADE_FOR:
        raise ValueError(f"made_for must be one of {MADE_FOR}")
    event_hash = repo.event_hash_at(session, seq)
    if event_hash is None:
        raise ValueError(f"no audit event {seq}")
    existing = repo.checkpoint_at(session, seq)
    if existing is not None:
        return existing
    signature = crypto.sign(checkpoint_message(origin, seq, event_hash))
    checkpoint = AuditCheckpoint(
        origin=origin,
        seq=seq,
        hash=event_hash,
        signed_at=clock.now(),
        key_id=key_id(crypto.public_key),
        signature=base64.b64encode(signature).decode(),
        made_for=made_for,
    )
    try:
        with session.begin_nested():  # two signers of one head at once: one row, no error
            session.add(checkpoint)
    except IntegrityError:
        signed = repo.checkpoint_at(session, seq)
        if signed is None:  # the conflict was on that very row
            raise
        return signed
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
    *,
    origin: str,
) -> AuditCheckpoint | None:
    """The worker's interval checkpoint: sign the head when the newest checkpoint is
    older than ``interval`` (or there is none) and something other than checkpoint
    bookkeeping (signing, witnessing, mailing) happened since (a quiet log gains no event
    an hour)."""
    newest = repo.newest_signed(session)
    if newest is not None:
        signed_at, seq = newest
        if clock.now() - signed_at < interval:
            return None
        if not repo.count_events_after(session, seq, excluding=BOOKKEEPING):
            return None
    return sign_head(session, crypto, clock, audit, actor, "interval", origin=origin)


def checkpoint_before(session: Session, seq: int) -> AuditCheckpoint | None:
    """The newest checkpoint strictly before ``seq``."""
    return repo.checkpoint_before(session, seq)


def recent_checkpoints(session: Session, limit: int = 5) -> Sequence[AuditCheckpoint]:
    """The ``limit`` newest checkpoints, newest first."""
    return repo.newest_checkpoints(session, limit)

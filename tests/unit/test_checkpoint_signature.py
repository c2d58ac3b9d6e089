"""A checkpoint is trusted only if its signature verifies with the service's key over its
own origin, event and hash (the C2SP checkpoint body), and it names that key; it is then a
C2SP signed note that standard note verifiers accept."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent_service.audit.checkpoints import (
    checkpoint_message,
    checkpoint_note,
    key_id,
    note_verifier,
    signature_problem,
)
from consent_service.audit.models import AuditCheckpoint
from consent_service.witness import note

SIGNED_AT = datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC)
HASH = "ab" * 32
ORIGIN = "samtykke.example/audit"


def _checkpoint(signer: Ed25519PrivateKey, **overrides: object) -> AuditCheckpoint:
    signature = signer.sign(checkpoint_message(ORIGIN, 7, HASH))
    fields: dict[str, object] = {
        "origin": ORIGIN,
        "seq": 7,
        "hash": HASH,
        "signed_at": SIGNED_AT,
        "key_id": key_id(signer.public_key()),
        "signature": base64.b64encode(signature).decode(),
        "made_for": "interval",
    }
    fields.update(overrides)
    return AuditCheckpoint(**fields)


def test_a_checkpoint_signed_with_the_key_verifies() -> None:
    key = Ed25519PrivateKey.generate()
    assert signature_problem(_checkpoint(key), key.public_key()) is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"seq": 8},
        {"hash": "cd" * 32},
        {"origin": "another.example/audit"},
        {"signature": ""},
        {"signature": "not base64!"},
        {"signature": base64.b64encode(bytes(64)).decode()},
    ],
    ids=["other-event", "other-hash", "other-log", "empty", "garbage", "zeros"],
)
def test_a_changed_or_missing_signature_does_not_verify(overrides: dict[str, object]) -> None:
    key = Ed25519PrivateKey.generate()
    checkpoint = _checkpoint(key, **overrides)
    assert signature_problem(checkpoint, key.public_key()) == "signature does not verify"


def test_a_checkpoint_signed_with_another_key_does_not_verify() -> None:
    ours, theirs = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    checkpoint = _checkpoint(theirs, key_id=key_id(ours.public_key()))
    assert signature_problem(checkpoint, ours.public_key()) == "signature does not verify"


def test_a_checkpoint_naming_another_key_id_is_not_trusted() -> None:
    key = Ed25519PrivateKey.generate()
    checkpoint = _checkpoint(key, key_id="f" * 64)
    assert signature_problem(checkpoint, key.public_key()) == "key id is not the service's key"


def test_the_signed_text_is_the_c2sp_checkpoint_body() -> None:
    assert checkpoint_message(ORIGIN, 7, HASH) == (
        f"{ORIGIN}\n7\n{base64.b64encode(bytes.fromhex(HASH)).decode()}\n".encode()
    )


def test_a_checkpoint_is_a_c2sp_note_that_verifies_with_the_note_key() -> None:
    """The note a witness gets is the stored signature under the key named by the origin,
    byte for byte what the note library signs, and it opens with the log's note key."""
    key = Ed25519PrivateKey.generate()
    checkpoint = _checkpoint(key)
    text = checkpoint_note(checkpoint, key.public_key())
    signer = note.signer_from_function(ORIGIN, key.public_key(), key.sign)
    assert text == note.sign_checkpoint(note.Checkpoint(ORIGIN, 7, bytes.fromhex(HASH)), signer)
    opened, _ = note.open_checkpoint(text.encode(), [note_verifier(ORIGIN, key.public_key())])
    assert (opened.origin, opened.size, opened.root_hash.hex()) == (ORIGIN, 7, HASH)
    other = Ed25519PrivateKey.generate()
    with pytest.raises(note.NoteError):
        note.open_checkpoint(text.encode(), [note_verifier(ORIGIN, other.public_key())])

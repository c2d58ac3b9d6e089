"""A checkpoint is trusted only if its signature verifies with the service's key over its
own event, hash and time, and it names that key."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent_service.audit.checkpoints import checkpoint_message, key_id, signature_problem
from consent_service.audit.models import AuditCheckpoint

SIGNED_AT = datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC)
HASH = "ab" * 32


def _checkpoint(signer: Ed25519PrivateKey, **overrides: object) -> AuditCheckpoint:
    signature = signer.sign(checkpoint_message(7, HASH, SIGNED_AT))
    fields: dict[str, object] = {
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
        {"signed_at": SIGNED_AT.replace(microsecond=0)},
        {"signature": ""},
        {"signature": "not base64!"},
        {"signature": base64.b64encode(bytes(64)).decode()},
    ],
    ids=["other-event", "other-hash", "other-time", "empty", "garbage", "zeros"],
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

"""Cryptographic primitives, all from `cryptography`, with keys from configuration.

Subkeys are derived with HKDF-SHA256 from the configured keys, one label per use,
so no key ever serves two purposes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from consent_service.config import Keys

NONCE_BYTES = 12
KEY_CHECK_PLAINTEXT = b"consent-service key check v1"


class DecryptionError(Exception):
    """A ciphertext did not authenticate: wrong key, wrong row or column, or tampered."""


def derive(key: bytes, label: str, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=label.encode()).derive(
        key
    )


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM: nonce || ciphertext+tag, bound to its associated data."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise DecryptionError("ciphertext did not authenticate") from None


def keyed_hash(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def token_hash(token: str) -> str:
    """Hash of a high-entropy random token (session ids); a fast hash suffices for those."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def generate_key_b64() -> str:
    return base64.b64encode(os.urandom(32)).decode()


class Crypto:
    """Service-wide crypto operations bound to the configured keys."""

    def __init__(self, keys: Keys) -> None:
        self._totp_key = derive(keys.master, "totp-secret")
        self._wrap_key = derive(keys.master, "data-key-wrap")
        self._check_key = derive(keys.master, "key-check")
        self._blind_index_key = derive(keys.index, "cpr-blind-index")
        self._recovery_key = derive(keys.index, "recovery-code")
        self._unknown_username_key = derive(keys.index, "unknown-username")
        self._search_criterion_key = derive(keys.index, "search-criterion")
        self._index_check_key = derive(keys.index, "key-check")
        self._rate_limit_key = derive(keys.index, "rate-limit-key")
        self._pseudonym_key = derive(keys.index, "measurement-pseudonym")
        self._signing = Ed25519PrivateKey.from_private_bytes(keys.signing)

    # TOTP secrets
    def seal_totp_secret(self, user_id: int, secret: str) -> bytes:
        return seal(self._totp_key, secret.encode(), f"user:{user_id}:totp".encode())

    def open_totp_secret(self, user_id: int, sealed: bytes) -> str:
        return open_sealed(self._totp_key, sealed, f"user:{user_id}:totp".encode()).decode()

    # per-subject data keys (envelope encryption)
    def wrap_data_key(self, data_key: bytes, aad: bytes) -> bytes:
        return seal(self._wrap_key, data_key, aad)

    def unwrap_data_key(self, wrapped: bytes, aad: bytes) -> bytes:
        return open_sealed(self._wrap_key, wrapped, aad)

    def data_key_unwrapper(self) -> Callable[[bytes, bytes], bytes]:
        """``unwrap_data_key`` for many keys in a row (an extract's citizens): the cipher
        is made once instead of once per key. For one thread's use."""
        aead = AESGCM(self._wrap_key)

        def unwrap(wrapped: bytes, aad: bytes) -> bytes:
            try:
                return aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
            except (InvalidTag, ValueError):
                raise DecryptionError("ciphertext did not authenticate") from None

        return unwrap

    # keyed hashes
    def blind_index(self, organisation_id: int, value: str) -> str:
        return keyed_hash(self._blind_index_key, f"{organisation_id}:{value}")

    def recovery_code_hash(self, user_id: int, code: str) -> str:
        return keyed_hash(self._recovery_key, f"{user_id}:{code}")

    def unknown_username_hash(self, username: str) -> str:
        return keyed_hash(self._unknown_username_key, username)

    def search_criterion_hash(self, value: str) -> str:
        """The criterion of a search (a CPR number) as the audit log records it: a keyed
        hash under its own subkey, the same in every organisation, so the searches for one
        number can be found together in the log, yet never the blind index (which is keyed
        per organisation and by another subkey), so the log cannot be joined to it."""
        return keyed_hash(self._search_criterion_key, value)

    def rate_limit_key(self, key: str) -> str:
        """The stored name of a rate-limit counter: no address, user name or token in
        the table."""
        return keyed_hash(self._rate_limit_key, key)

    def pseudonym_key(self, context: str) -> bytes:
        """A key for pseudonyms within one ``context`` (an organisation's cohort
        measurement): derived from the index key, so a pseudonym in one context cannot be
        linked to the same person's pseudonym in another without the key."""
        return derive(self._pseudonym_key, context)

    # signatures
    def sign(self, message: bytes) -> bytes:
        return self._signing.sign(message)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._signing.public_key()

    def public_key_pem(self) -> str:
        return (
            self.public_key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
            .strip()
        )

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    # key check values: detect a wrong key before touching data
    def key_check_values(self) -> tuple[bytes, str, str]:
        sealed = seal(self._check_key, KEY_CHECK_PLAINTEXT, b"key-check")
        index_check = keyed_hash(self._index_check_key, KEY_CHECK_PLAINTEXT.decode())
        signing_check = hashlib.sha256(
            self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        ).hexdigest()
        return sealed, index_check, signing_check

    def master_key_matches(self, sealed: bytes) -> bool:
        try:
            return open_sealed(self._check_key, sealed, b"key-check") == KEY_CHECK_PLAINTEXT
        except DecryptionError:
            return False

    def index_key_matches(self, check: str) -> bool:
        return hmac.compare_digest(
            keyed_hash(self._index_check_key, KEY_CHECK_PLAINTEXT.decode()), check
        )

    def signing_key_matches(self, check: str) -> bool:
        return hmac.compare_digest(self.key_check_values()[2], check)

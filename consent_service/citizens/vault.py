"""Envelope encryption of a citizen's personal fields.

Each citizen has a random 256-bit data key, stored wrapped (AES-GCM) by the master key with
the citizen's public id as associated data. Each field is sealed under the data key with
associated data ``citizen:<public id>:<column>``, so a ciphertext copied to another row or
column does not decrypt.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from consent_service.crypto import Crypto, open_sealed, seal


class CitizenKeyDestroyed(Exception):
    """The citizen's data key was destroyed (deleted citizen): nothing can be decrypted."""


class CitizenVault:
    def __init__(self, crypto: Crypto) -> None:
        self._crypto = crypto

    @staticmethod
    def key_aad(public_id: str) -> bytes:
        """The associated data of a citizen's wrapped key."""
        return f"citizen-key:{public_id}".encode()

    @staticmethod
    def field_aad(public_id: str, column: str) -> bytes:
        """The associated data of one sealed field of a citizen."""
        return f"citizen:{public_id}:{column}".encode()

    def new_key(self, public_id: str) -> tuple[bytes, bytes]:
        """A fresh data key and its wrapped form."""
        key = os.urandom(32)
        return key, self._crypto.wrap_data_key(key, self.key_aad(public_id))

    def unwrap(self, public_id: str, wrapped: bytes | None) -> bytes:
        if wrapped is None:
            raise CitizenKeyDestroyed(public_id)
        return self._crypto.unwrap_data_key(wrapped, self.key_aad(public_id))

    def field_opener(self, column: str) -> Callable[[str, bytes | None, bytes], str]:
        """``open(unwrap(public_id, wrapped), public_id, column, sealed)`` for many citizens
        in a row (an extract): the key-wrapping cipher is made once. For one thread's use."""
        unwrap = self._crypto.data_key_unwrapper()
        key_aad, field_aad = self.key_aad, self.field_aad

        def open_field(public_id: str, wrapped: bytes | None, sealed: bytes) -> str:
            if wrapped is None:
                raise CitizenKeyDestroyed(public_id)
            key = unwrap(wrapped, key_aad(public_id))
            return open_sealed(key, sealed, field_aad(public_id, column)).decode()

        return open_field

    def seal(self, key: bytes, public_id: str, column: str, value: str) -> bytes:
        return seal(key, value.encode(), self.field_aad(public_id, column))

    def open(self, key: bytes, public_id: str, column: str, sealed: bytes) -> str:
        return open_sealed(key, sealed, self.field_aad(public_id, column)).decode()

    def seal_bytes(self, key: bytes, public_id: str, column: str, value: bytes) -> bytes:
        return seal(key, value, self.field_aad(public_id, column))

    def open_bytes(self, key: bytes, public_id: str, column: str, sealed: bytes) -> bytes:
        return open_sealed(key, sealed, self.field_aad(public_id, column))

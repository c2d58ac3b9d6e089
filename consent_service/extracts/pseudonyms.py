"""Keyed pseudonyms of citizens on a measurement's coverage plan and re-consent list.

A pseudonym is an HMAC-SHA256 of the citizen's internal id under a key derived from the
configured index key with the organisation, cohort and measurement in the derivation,
shortened to a readable code (``K7QD-M2XA``: 40 bits in Crockford's base 32, no I, L, O
or U). So it is stable within one measurement (the list and its CSV agree day to day), it
differs between measurements (two lists cannot be joined on it), and it is not the
citizen's ``public_id`` that navigator URLs carry: someone with navigator access cannot
turn the data controller's list into names without the key. The navigator's worklist
holds the names."""

from __future__ import annotations

import hashlib
import hmac

from consent_service.crypto import Crypto

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32
_BITS = 40


def measurement_context(organisation_id: int, cohort: str, measurement_years: int) -> str:
    return f"coverage:v1:org={organisation_id}:cohort={cohort}:measurement={measurement_years}"


class Pseudonymiser:
    """Pseudonyms for one organisation's cohort measurement (the key is derived once)."""

    def __init__(
        self, crypto: Crypto, organisation_id: int, cohort: str, measurement_years: int
    ) -> None:
        self._key = crypto.pseudonym_key(
            measurement_context(organisation_id, cohort, measurement_years)
        )

    def __call__(self, citizen_id: int) -> str:
        digest = hmac.new(self._key, f"citizen:{citizen_id}".encode(), hashlib.sha256).digest()
        number = int.from_bytes(digest[: _BITS // 8], "big")
        chars = [_ALPHABET[(number >> shift) & 31] for shift in range(_BITS - 5, -1, -5)]
        return "".join(chars[:4]) + "-" + "".join(chars[4:])

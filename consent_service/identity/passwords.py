"""Passwords: argon2id hashes and a policy after NIST SP 800-63B, section 3.1.1.

Length, not composition: at least ``min_length`` characters (at most 256), no rules
about character classes, and a check against a list of commonly used and breached
passwords plus words from this service's own context. Unicode is normalised (NFKC)
before hashing, as 800-63B recommends.
"""

from __future__ import annotations

import gzip
import unicodedata
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MAX_LENGTH = 256
CONTEXT_WORDS = (
    "norddjurs",
    "grenaa",
    "sundhedshus",
    "samtykke",
    "henvisning",
    "navigator",
    "navigatør",
    "regionmidt",
    "midtjylland",
    "adgangskode",
    "kodeord",
    "password",
)

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
# A fixed hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash("consent-service-dummy-password")


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    return _hasher.hash(normalise(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, normalise(password)) and (
            password_hash is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@cache
def common_passwords() -> frozenset[str]:
    """About 20,000 common passwords (Django's list, BSD licence; see NOTICE)."""
    data = resources.files("consent_service.identity").joinpath("common-passwords.txt.gz")
    with data.open("rb") as fh:
        text = gzip.decompress(fh.read()).decode()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def password_problems(password: str, *, username: str, min_length: int) -> list[str]:
    """Why a new password is refused, in Danish for the person choosing it; empty if fine."""
    pw = normalise(password)
    lowered = pw.lower()
    problems: list[str] = []
    if len(pw) < min_length:
        problems.append(f"Adgangskoden skal have mindst {min_length} tegn.")
    if len(pw) > MAX_LENGTH:
        problems.append(f"Adgangskoden må højst have {MAX_LENGTH} tegn.")
    if lowered in common_passwords() or lowered.rstrip("0123456789!") in common_passwords():
        problems.append("Adgangskoden er for almindelig og findes på lister over lækkede koder.")
    if username and username.lower() in lowered:
        problems.append("Adgangskoden må ikke indeholde brugernavnet.")
    if any(word in lowered for word in CONTEXT_WORDS) and len(pw) < 2 * min_length:
        problems.append("Adgangskoden må ikke bygge på tjenestens eller projektets navn.")
    if len(set(lowered)) <= 3:
        problems.append("Adgangskoden består af for få forskellige tegn.")
    return problems

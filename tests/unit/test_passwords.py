"""Password policy after NIST SP 800-63B: length, a blocklist, no composition rules."""

from __future__ import annotations

import unicodedata

from consent_service.identity.passwords import (
    common_passwords,
    hash_password,
    password_problems,
    verify_password,
)
from tests.conftest import PRODUCTION_HASHER


def test_hashes_are_argon2id_and_verify() -> None:
    h = hash_password("en lang sætning om havet")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "en lang sætning om havet")
    assert not verify_password(h, "en lang sætning om havet!")


def test_the_service_hashes_with_the_rfc_9106_low_memory_profile() -> None:
    # The tests swap in a cheap hasher (conftest); this is the one the service runs with.
    h = PRODUCTION_HASHER.hash("en lang sætning om havet")
    assert h.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PRODUCTION_HASHER.verify(h, "en lang sætning om havet")


def test_unknown_user_never_verifies() -> None:
    assert not verify_password(None, "anything at all")


def test_unicode_is_normalised() -> None:
    composed = "blåbærgrød med fløde"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert verify_password(hash_password(composed), decomposed)


def test_short_passwords_are_refused() -> None:
    assert password_problems("kort", username="nina", min_length=12)


def test_no_composition_rules() -> None:
    # All lower case, no digits, no symbols: fine if long and not common.
    assert password_problems("grønne træer ved fjorden", username="nina", min_length=12) == []


def test_common_passwords_are_refused() -> None:
    assert len(common_passwords()) > 10_000
    assert password_problems("password1234", username="nina", min_length=8)
    assert password_problems("qwertyuiop123", username="nina", min_length=8)


def test_username_and_context_words_are_refused() -> None:
    assert password_problems("ninanavigator99", username="ninanavigator", min_length=12)
    assert password_problems("norddjurs2026!", username="nina", min_length=12)


def test_repeated_characters_are_refused() -> None:
    assert password_problems("aaaaaaaaaaaaaaaa", username="nina", min_length=12)

"""Keyed pseudonyms per measurement: readable, stable within one measurement, different
between measurements, organisations and keys, and never the citizen's URL id."""

from __future__ import annotations

import os
import re

from hypothesis import given
from hypothesis import strategies as st

from consent_service.config import Keys
from consent_service.crypto import Crypto
from consent_service.extracts.pseudonyms import Pseudonymiser

SHAPE = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}")


def _crypto(index: bytes | None = None) -> Crypto:
    return Crypto(Keys(master=b"m" * 32, index=index or b"i" * 32, signing=b"s" * 32))


CRYPTO = _crypto()


@given(st.integers(1, 10**9))
def test_stable_within_a_measurement_and_readable(citizen_id: int) -> None:
    first = Pseudonymiser(CRYPTO, 1, "hold-2", 2)(citizen_id)
    assert SHAPE.fullmatch(first)
    assert Pseudonymiser(CRYPTO, 1, "hold-2", 2)(citizen_id) == first


@given(st.integers(1, 10**9))
def test_different_between_measurements_organisations_and_keys(citizen_id: int) -> None:
    names = {
        Pseudonymiser(CRYPTO, 1, "hold-2", 1)(citizen_id),
        Pseudonymiser(CRYPTO, 1, "hold-2", 2)(citizen_id),
        Pseudonymiser(CRYPTO, 1, "hold-3", 2)(citizen_id),
        Pseudonymiser(CRYPTO, 2, "hold-2", 2)(citizen_id),
        Pseudonymiser(_crypto(os.urandom(32)), 1, "hold-2", 2)(citizen_id),
    }
    assert len(names) == 5


def test_no_collisions_among_a_pilots_worth_of_citizens() -> None:
    pseudonym = Pseudonymiser(CRYPTO, 1, "hold-1", 1)
    assert len({pseudonym(i) for i in range(1, 5001)}) == 5000

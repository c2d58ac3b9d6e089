"""TOTP: RFC 6238 Appendix B vectors, the one-step window and replay refusal."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from consent_service.identity import totp

# RFC 6238 Appendix B: ASCII seeds per hash, 8 digits, 30 s period.
SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("unix_time", "sha1", "sha256", "sha512"), VECTORS)
def test_rfc6238_appendix_b(unix_time: int, sha1: str, sha256: str, sha512: str) -> None:
    for name, expected in (("sha1", sha1), ("sha256", sha256), ("sha512", sha512)):
        secret = base64.b32encode(SEEDS[name]).decode()
        code = totp.code_for_step(secret, unix_time // 30, digits=8, digest=getattr(hashlib, name))
        assert code == expected, name


NOW = datetime(2026, 11, 23, 9, 0, 15, tzinfo=UTC)


def _code(secret: str, offset: int) -> str:
    return totp.code_for_step(secret, totp.time_step(NOW) + offset)


def test_window_is_one_step_each_side() -> None:
    secret = totp.new_secret()
    for offset in (-1, 0, 1):
        assert totp.check_code(secret, _code(secret, offset), at=NOW, last_step=None).accepted
    for offset in (-2, 2):
        assert not totp.check_code(secret, _code(secret, offset), at=NOW, last_step=None).accepted


def test_a_code_works_once() -> None:
    secret = totp.new_secret()
    first = totp.check_code(secret, _code(secret, 0), at=NOW, last_step=None)
    assert first.accepted
    again = totp.check_code(secret, _code(secret, 0), at=NOW, last_step=first.step)
    assert not again.accepted
    assert again.replay


def test_an_older_step_after_a_newer_one_is_a_replay() -> None:
    secret = totp.new_secret()
    newer = totp.check_code(secret, _code(secret, 1), at=NOW, last_step=None)
    older = totp.check_code(secret, _code(secret, -1), at=NOW, last_step=newer.step)
    assert not older.accepted
    assert older.replay


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_codes_are_refused(bad: str) -> None:
    assert not totp.check_code(totp.new_secret(), bad, at=NOW, last_step=None).accepted


def test_secret_is_160_bits_or_more() -> None:
    assert len(base64.b32decode(totp.new_secret())) >= 20

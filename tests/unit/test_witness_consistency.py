"""The chain v2 consistency check a witness applies (consent_service.witness.consistency),
and the add-checkpoint body it reads (consent_service.witness.protocol)."""

from __future__ import annotations

import hashlib

import pytest

from consent_service.witness import protocol
from consent_service.witness.consistency import EMPTY_HEAD, extends, head_after, link


def _digests(n: int, salt: bytes = b"") -> list[bytes]:
    return [hashlib.sha256(salt + f"event {i}".encode()).digest() for i in range(1, n + 1)]


def _head(digests: list[bytes]) -> bytes:
    head = EMPTY_HEAD
    for d in digests:
        head = hashlib.sha256(head + d).digest()
    return head


def test_link_is_sha256_of_previous_hash_and_digest() -> None:
    d = hashlib.sha256(b"canonical event").digest()
    assert link(EMPTY_HEAD, d) == hashlib.sha256(bytes(32) + d).digest()
    assert head_after(EMPTY_HEAD, [d]) == link(EMPTY_HEAD, d)


def test_the_right_digests_extend_the_old_head_to_the_new_one() -> None:
    events = _digests(10)
    old, new = _head(events[:4]), _head(events)
    assert extends(4, old, events[4:], 10, new)
    assert extends(0, EMPTY_HEAD, events, 10, new)
    assert extends(10, new, [], 10, new)


def test_wrong_digests_sizes_or_heads_do_not_extend() -> None:
    events = _digests(10)
    old, new = _head(events[:4]), _head(events)
    rewritten = [*events[4:7], hashlib.sha256(b"other").digest(), *events[8:]]
    assert not extends(4, old, rewritten, 10, new)
    assert not extends(4, old, list(reversed(events[4:])), 10, new)
    assert not extends(4, old, events[5:], 10, new)  # one missing
    assert not extends(4, old, events[4:], 11, new)  # count does not match sizes
    assert not extends(4, _head(_digests(4, b"x")), events[4:], 10, new)  # other history
    assert not extends(10, new, [], 10, old)  # same size, other head
    assert not extends(10, new, [], 4, old)  # a cut
    assert not extends(4, old, [b"short", *events[5:]], 10, new)
    assert not extends(0, old, events, 10, new)  # size 0 is the empty head


def test_request_body_round_trip() -> None:
    events = _digests(3)
    body = protocol.format_add_checkpoint(7, events, b"note\n\n\xe2\x80\x94 k AAAAAAA=\n")
    parsed = protocol.parse_add_checkpoint(body)
    assert parsed.old_size == 7
    assert list(parsed.proof) == events
    assert parsed.note == b"note\n\n\xe2\x80\x94 k AAAAAAA=\n"
    first = protocol.parse_add_checkpoint(protocol.format_add_checkpoint(0, [], b"n\n\nx\n"))
    assert (first.old_size, first.proof, first.note) == (0, (), b"n\n\nx\n")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old\n\nnote",
        b"old 01\n\nnote",
        b"old -1\n\nnote",
        b"OLD 1\n\nnote",
        b"old 1 \n\nnote",
        b"old 1\nnot base64!\n\nnote",
        b"old 1\nAAAA\n\nnote",
        b"old 1\n" + b"A" * 44 + b"\nnote without blank line",
        b"old 1\n\n",
        b"\x00\xff" * 100,
        b"old 99999999999999999999\n\nnote",
    ],
)
def test_malformed_request_bodies_are_bad_requests(body: bytes) -> None:
    with pytest.raises(protocol.BadRequest):
        protocol.parse_add_checkpoint(body)


def test_oversized_body_is_refused_before_parsing() -> None:
    with pytest.raises(protocol.BadRequest, match="too large"):
        protocol.parse_add_checkpoint(b"old 0\n\n" + b"x" * protocol.MAX_BODY_BYTES)

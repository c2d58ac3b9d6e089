"""Consistency of two checkpoints of the audit hash chain (chain v2).

In chain v2, event ``seq`` (1, 2, 3, ... without gaps) has
``digest = SHA-256(canonical event)`` and ``hash = SHA-256(prev_hash || digest)`` (raw
32-byte values), the first event's ``prev_hash`` being 32 zero bytes. So the head hash at
size ``n`` follows from the head hash at size ``m`` and the digests of events
``m+1 .. n``, without any event's content.

Deliberate deviation from c2sp.org/tlog-witness: there, the proof that a checkpoint
extends an older one is an RFC 6962 Merkle consistency proof (at most 63 hashes). Our log
is a chain, not a Merkle tree, so the proof is the list of the digests of the events
between the two sizes, one base64 digest per proof line, oldest first. It reveals no event
content, only how many events were added; it grows with that number, so a witness accepts
at most ``MAX_PROOF_DIGESTS`` per submission and a log with more to report submits
intermediate checkpoints. The empty log's head is 32 zero bytes, where RFC 6962 has
SHA-256 of the empty string.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_HEAD = bytes(HASH_SIZE)
MAX_PROOF_DIGESTS = 100_000


def link(prev_hash: bytes, digest: bytes) -> bytes:
    """The chain v2 hash of an event: ``SHA-256(prev_hash || digest)``."""
    return hashlib.sha256(prev_hash + digest).digest()


def head_after(old_hash: bytes, digests: Sequence[bytes]) -> bytes:
    """The head hash after appending events with ``digests`` to a head ``old_hash``."""
    head = old_hash
    for digest in digests:
        if len(digest) != HASH_SIZE:
            raise ValueError("a digest is 32 bytes")
        head = link(head, digest)
    return head


def extends(
    old_size: int,
    old_hash: bytes,
    digests: Sequence[bytes],
    new_size: int,
    new_hash: bytes,
) -> bool:
    """True if the chain with head ``new_hash`` at ``new_size`` events is the chain with
    head ``old_hash`` at ``old_size`` plus events whose digests are ``digests``
    (events ``old_size+1 .. new_size``, in order). Equal sizes need equal hashes and no
    digests. Never raises on bad input: wrong lengths or counts give False."""
    if old_size < 0 or new_size < old_size or len(digests) != new_size - old_size:
        return False
    if len(old_hash) != HASH_SIZE or len(new_hash) != HASH_SIZE:
        return False
    if old_size == 0 and old_hash != EMPTY_HEAD:
        return False
    if any(len(d) != HASH_SIZE for d in digests):
        return False
    return head_after(old_hash, digests) == new_hash

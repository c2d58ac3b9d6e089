"""The add-checkpoint request of c2sp.org/tlog-witness, shared by the witness and its client.

The request body is an ``old <size>`` line, zero or more proof lines (one base64 hash
each), an empty line, then the signed checkpoint note. Here a proof line is the digest of
one event (see ``consent_service.witness.consistency`` for this deviation from a Merkle
consistency proof), so a request may carry up to ``MAX_PROOF_DIGESTS`` proof lines rather
than the specification's 63, and the body limit is sized for that.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from consent_service.witness.consistency import HASH_SIZE, MAX_PROOF_DIGESTS
from consent_service.witness.note import MAX_NOTE_BYTES

PROOF_LINE_BYTES = 45  # 44 base64 characters and a newline
MAX_BODY_BYTES = 64 + MAX_PROOF_DIGESTS * PROOF_LINE_BYTES + 1 + MAX_NOTE_BYTES
SIZE_CONTENT_TYPE = "text/x.tlog.size"

_OLD_LINE = re.compile(rb"old (0|[1-9][0-9]{0,18})")


class BadRequest(ValueError):
    """The body is not an add-checkpoint request (answered with 400)."""


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: tuple[bytes, ...]
    note: bytes


def parse_add_checkpoint(body: bytes, limit: int = MAX_BODY_BYTES) -> AddCheckpoint:
    """Split a request body; raises ``BadRequest`` with a short reason."""
    if len(body) > limit:
        raise BadRequest("request body too large")
    end_of_old = body.find(b"\n")
    if end_of_old < 0 or not _OLD_LINE.fullmatch(body[:end_of_old]):
        raise BadRequest("the body must start with a line 'old <size>'")
    old_size = int(body[4:end_of_old])
    if old_size > 2**63 - 1:
        raise BadRequest("old size out of range")
    blank = body.find(b"\n\n", end_of_old)
    if blank == end_of_old:
        proof_block = b""
    elif blank < 0:
        raise BadRequest("no empty line before the checkpoint")
    else:
        proof_block = body[end_of_old + 1 : blank + 1]
    lines = proof_block.split(b"\n")[:-1] if proof_block else []
    if len(lines) > MAX_PROOF_DIGESTS:
        raise BadRequest(f"more than {MAX_PROOF_DIGESTS} proof lines")
    proof = []
    for line in lines:
        try:
            digest = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("a proof line is not base64") from None
        if len(digest) != HASH_SIZE:
            raise BadRequest("a proof line is not a 32-byte hash")
        proof.append(digest)
    note = body[blank + 2 :]
    if not note:
        raise BadRequest("no checkpoint after the empty line")
    return AddCheckpoint(old_size, tuple(proof), note)


def format_add_checkpoint(old_size: int, digests: Sequence[bytes], note: bytes | str) -> bytes:
    """The request body for ``old_size``, the event digests after it, and the note."""
    if isinstance(note, str):
        note = note.encode("utf-8")
    if old_size < 0:
        raise ValueError("old size must not be negative")
    if any(len(d) != HASH_SIZE for d in digests):
        raise ValueError("a digest is 32 bytes")
    proof = b"".join(base64.b64encode(d) + b"\n" for d in digests)
    return f"old {old_size}\n".encode() + proof + b"\n" + note

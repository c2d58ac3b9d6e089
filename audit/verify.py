#!/usr/bin/env python3
"""Verify an exported consent-service audit log, outside the service.

    python audit/verify.py EXPORT.jsonl [--public-key KEY.pem]
        [--witness NOTE ...] [--witness-key VKEY ...]

Needs only the Python standard library and ``cryptography``; imports nothing from the
service. It checks that the header is signed by the key; that the events run without a
gap from the anchor checkpoint (or from the first event ever) to the header's last event
of the period, and on through the tail (the events after the period, as digests) to the
log's head at export time; that each event's hash links the previous event's hash to the
digest of its content (a redacted or tail event gives only its digest); that every
checkpoint is signed by the key and matches its event; that the period's last event and
the head each have a checkpoint, so nothing was cut off the file; and that the log's
newest signed checkpoint, stated in the header, is not beyond the log's head when it was
exported, so a tail cut off the log across a signed checkpoint is reported
("truncated after checkpoint N").

``--witness NOTE`` (repeatable) also checks the export against a checkpoint kept outside
the database: a C2SP signed checkpoint note (c2sp.org/signed-note, tlog-checkpoint), as
``consent-service witness latest`` prints it or as mailed to the DPO. The note must be
signed by the export's key under the key name = its origin, and be of the export's log
(same origin). Its size N and hash H must be the exported chain's at N: a log rewritten
before N, even re-signed with the service's own key, fails ("rewritten"); a log that ends
before N fails ("truncated"). ``--witness-key VKEY`` (repeatable, a cosignature/v1 note
verifier key ``<name>+<hex id>+<base64(0x04 || key)>``, or a file holding one) makes
each note need a valid cosignature from one of these witnesses (c2sp.org/tlog-cosignature);
its time is shown. A checkpoint before the export's anchor counts only if a later one
cosigned by the same trusted witness matches (a witness cosigns only consistent
extensions); a checkpoint beyond the head whose cosignatures are all later than the
export cannot be checked by this export, nor can one after the period of an export made
before exports carried a tail.

Prints ``OK: ...`` and exits 0; or ``FAIL: ...`` lines naming each problem and exits 1
(for the export itself, the first problem, by line and event); or, if nothing failed
but a witnessed checkpoint lies outside what this export can check, ``UNCHECKED: ...``
lines saying which export would reach it, and exits 3. Exits 2 if a file or key cannot
be read, or a witness file is not a signed checkpoint note at all (a wrong or damaged
file says nothing about the log, so it is not reported as the log's failure).

A large export is verified in parts on up to 4 cores, split right after checkpoint lines
(``_walk_file``), and long runs of event, redacted and tail lines are checked in bulk
(``_event_run``, ``_digest_run``); the output is always that of one walk over the whole
file, line by line. The environment variable ``AUDIT_VERIFY_MIN_PART_BYTES`` sets the
least size of a part (default 16 MB; the tests set 0 to split small files).

The definitions restated from the service (keep in step with consent_service/audit/ and
consent_service/witness/note.py):
chain v2: ``digest = SHA-256(content)``, ``hash = SHA-256(prev hash || digest)`` over the
two as 32 raw bytes each; the first event ever has prev hash 64 zeros. An event line is
``{"hash":"<64 hex>","event":<content>}``, the content being the exact bytes digested
(keys sorted, no spaces, UTF-8); a redacted line is
``{"type":"redacted","digest":"<64 hex>","seq":N}``, a tail line the same with
``"type":"tail"``; a checkpoint signs the C2SP checkpoint body
``<origin>\\n<seq>\\n<base64 of the 32-byte event hash>\\n``
(c2sp.org/tlog-checkpoint; ``signed_at`` is carried beside it, not signed); the header
signs ``b"consent-service audit export header v2\\n"`` + its fields
but ``signature`` as compact sorted JSON. A signed note is its text, a blank line, and
lines ``— <key name> <base64(4-byte key id || signature)>``; the key id is
``SHA-256(name || "\\n" || type || raw key)[:4]``, type 0x01 for the log's Ed25519
signature over the text, 0x04 for a cosignature/v1, whose signature bytes are an 8-byte
big-endian POSIX time and an Ed25519 signature over
``cosignature/v1\\ntime <t>\\n`` + the text.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import multiprocessing
import os
import re
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate, chain, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

FORMAT = "consent-service-audit-export/2"
GENESIS = "0" * 64
HEADER_PREFIX = b"consent-service audit export header v2\n"
EVENT_START = b'{"hash":"'
EVENT_MIDDLE = b'","event":'
BODY_AT = len(EVENT_START) + 64 + len(EVENT_MIDDLE)
SEQ_KEY = b'"seq":'
REDACTED_START = b'{"type":"redacted","digest":"'
TAIL_START = b'{"type":"tail","digest":"'
DIGEST_MIDDLE = b'","seq":'
HEX = frozenset(b"0123456789abcdef")

EXIT_OK, EXIT_FAIL, EXIT_UNREADABLE, EXIT_UNCHECKED = 0, 1, 2, 3


class Problem(Exception):
    def __init__(self, line: int, what: str) -> None:
        super().__init__(f"line {line}: {what}")


def _compact(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _verify_signature(key: Ed25519PublicKey, signature_b64: str, message: bytes) -> bool:
    try:
        key.verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _json(raw: bytes, line: int) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        raise Problem(line, "not a JSON object") from None
    if not isinstance(value, dict):
        raise Problem(line, "not a JSON object")
    return value


def _load_key(path: Path) -> Ed25519PublicKey:
    key = load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def checkpoint_body(origin: str, seq: int, event_hash: str) -> bytes:
    """What a checkpoint signs: the C2SP checkpoint body (c2sp.org/tlog-checkpoint)
    ``<origin>\\n<size>\\n<base64 of the 32-byte head hash>\\n``."""
    head = base64.b64encode(bytes.fromhex(event_hash)).decode()
    return f"{origin}\n{seq}\n{head}\n".encode()


def _checkpoint(item: dict[str, Any], line: int, key: Ed25519PublicKey) -> tuple[int, str, str]:
    """A checkpoint's (seq, hash, origin), once its signature verifies."""
    seq, cp_hash, origin = item.get("seq"), item.get("hash"), item.get("origin")
    if (
        not isinstance(seq, int)
        or not isinstance(cp_hash, str)
        or not _is_hex64(cp_hash)
        or not isinstance(origin, str)
        or not origin
        or "\n" in origin
    ):
        raise Problem(line, "malformed checkpoint")
    message = checkpoint_body(origin, seq, cp_hash)
    if not _verify_signature(key, str(item.get("signature", "")), message):
        raise Problem(line, f"checkpoint {seq}: signature does not verify (forged or altered)")
    return seq, cp_hash, origin


def _is_hex64(value: str) -> bool:
    return len(value) == 64 and HEX.issuperset(value.encode())


def _optional_int(header: dict[str, Any], name: str) -> int | None:
    value = header.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise Problem(1, f"the header's {name} is not a number")
    return value


@dataclass
class Verified:
    """What a verified export proves: the chain's hash at each asked-for size within
    ``chain_from`` .. ``head`` (the anchor, or 0 for the first event ever, to the log's
    head at export time)."""

    summary: str
    raw_key: bytes
    origin: str | None  # of the export's checkpoints (the header's newest one)
    head: int | None  # the log's head at export time (None: the log was empty)
    chain_from: int | None  # None: the export holds no chain
    chain_to: int | None  # the head, or the period's end in an export made without a tail
    exported_at: float | None  # POSIX seconds, as the signed header states it
    hashes: dict[int, bytes] = field(default_factory=dict)


def _posix(stamp: object) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class _Header:
    """What the signed header states, for the walk over the lines."""

    key: Ed25519PublicKey
    first: int | None
    last: int | None
    end: int | None  # where the chain ends: the head with a tail, else the period's last
    newest_seq: int | None
    newest_hash: str
    origin: str | None  # of the export's checkpoints (the header's newest one)


@dataclass
class _Cursor:
    """Where the walk over the export's lines stands: the state after the last line read.
    A walk may stop right after a checkpoint line and another pick up from there (a later
    part of the file verified in another process, ``_verify_part``)."""

    expected_seq: int | None
    line: int = 1
    prev: bytes | None = None  # the raw hash the next event links to
    chain_from: int | None = None
    last_event_seq: int | None = None
    last_event_hash: bytes | None = None  # hex bytes
    redacted_since: int = 0  # the line of the first redacted event since a verified hash
    events: int = 0
    redacted: int = 0
    checkpoints: int = 0
    tails: int = 0
    tail_checkpoints: int = 0
    in_tail: bool = False
    ended_with_checkpoint: bool = False
    newest_seen: bool = False
    hashes: dict[int, bytes] = field(default_factory=dict)

    def after_checkpoint(self, seq: int, cp_hash: str, in_tail: bool) -> _Cursor:
        """The state right after a matching checkpoint of event ``seq``, as the walk
        leaves it: the start of a part verified apart (its counters from zero)."""
        return _Cursor(
            expected_seq=seq + 1,
            line=0,
            prev=bytes.fromhex(cp_hash),
            last_event_seq=seq,
            last_event_hash=cp_hash.encode(),
            in_tail=in_tail,
            ended_with_checkpoint=True,
        )

    def continues_at(self, start: _Cursor) -> bool:
        """Whether this walk stopped in the state a part verified apart started from."""
        return (
            self.expected_seq == start.expected_seq
            and self.prev == start.prev
            and self.last_event_seq == start.last_event_seq
            and self.last_event_hash == start.last_event_hash
            and self.in_tail == start.in_tail
            and self.ended_with_checkpoint
            and not self.redacted_since
        )

    def extend(self, part: _Cursor) -> None:
        """Continue with a part verified apart that started where this walk stopped."""
        line = self.line
        for name in ("events", "redacted", "checkpoints", "tails", "tail_checkpoints", "line"):
            setattr(self, name, getattr(self, name) + getattr(part, name))
        self.newest_seen = self.newest_seen or part.newest_seen
        self.hashes.update(part.hashes)
        for name in (
            "expected_seq",
            "prev",
            "last_event_seq",
            "last_event_hash",
            "in_tail",
            "ended_with_checkpoint",
        ):
            setattr(self, name, getattr(part, name))
        self.redacted_since = line + part.redacted_since if part.redacted_since else 0


def _read_header(
    fh: BinaryIO, trusted_key: Ed25519PublicKey | None
) -> tuple[dict[str, Any], bytes, _Header]:
    header = _json(fh.readline(), 1)
    if header.get("type") != "header" or header.get("format") != FORMAT:
        raise Problem(1, f"not a {FORMAT} export")
    try:
        raw_key = base64.b64decode(header["public_key"], validate=True)
        key = Ed25519PublicKey.from_public_bytes(raw_key)
    except (KeyError, TypeError, ValueError):
        raise Problem(1, "the header's public key is unreadable") from None
    if trusted_key is not None:
        trusted = trusted_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        if trusted != raw_key:
            raise Problem(1, "the export was signed with another key than the one given")
    body = {k: v for k, v in header.items() if k != "signature"}
    if not _verify_signature(key, str(header.get("signature", "")), HEADER_PREFIX + _compact(body)):
        raise Problem(1, "the header's signature does not verify (header altered?)")
    first, last = _optional_int(header, "first_seq"), _optional_int(header, "last_seq")
    head = _optional_int(header, "log_head_seq")
    # Exports made before the tail existed have no tail_events: their chain ends at last.
    tail_events = _optional_int(header, "tail_events")
    newest_seq: int | None = None
    newest_hash = ""
    origin: str | None = None
    if header.get("newest_checkpoint") is not None:
        if not isinstance(header["newest_checkpoint"], dict):
            raise Problem(1, "the header's newest checkpoint is malformed")
        newest_seq, newest_hash, origin = _checkpoint(header["newest_checkpoint"], 1, key)
        # The service signed this header reading its own log: a signed checkpoint
        # beyond the log's head means events it had signed are gone.
        if head is None or newest_seq > head:
            ends = "empty" if head is None else f"at event {head}"
            raise Problem(
                1,
                f"truncated after checkpoint {newest_seq}: the log ended {ends} when "
                f"exported, before its newest signed checkpoint (event {newest_seq})",
            )
    if last is not None and (head is None or last > head):
        raise Problem(1, "the header's exported range ends beyond the log's head")
    if last is not None and (newest_seq is None or newest_seq < last):
        raise Problem(1, "the header's newest checkpoint is older than the export's end")
    end = last
    if tail_events is not None and last is not None:
        if tail_events < 0 or last + tail_events != head:
            raise Problem(1, "the header's tail does not end at the log's head")
        if newest_seq != head:
            raise Problem(1, "the header's newest checkpoint is not at the log's head")
        end = head
    elif tail_events:
        raise Problem(1, "the header announces a tail after an empty period")
    return header, raw_key, _Header(key, first, last, end, newest_seq, newest_hash, origin)


# --- the walk over the lines ----------------------------------------------------------------
#
# Most of an export is runs of event lines. A run of at least RUN_MIN of them is checked in
# bulk (``_event_run``): each check is one pass in C over the run's lines (map, join), and
# an event costs its two SHA-256 computations, two slices and a few calls made from C
# instead of some thirty interpreted steps. Each content is hashed as it stands in its
# line. The bulk check only ever accepts what the line-by-line walk accepts; if anything
# in the run is off, the walk goes over the run line by line, which reports the first
# problem as it always did, by line and event (tests/unit/test_verify_runs.py).

BLOCK_BYTES = 128 * 1024  # lines read at a time: the run's lists stay in the CPU's cache
READ_BUFFER = 256 * 1024  # fewer reads, and fewer lines across two of them, than 8 KB
RUN_MIN = 16  # a shorter run of event lines is walked line by line
HASH_HEX = slice(len(EVENT_START), len(EVENT_START) + 64)
SEQ_TOKEN = b'"seq":%d,\n'
_prefix = itemgetter(slice(0, BODY_AT))  # '{"hash":"<64 hex>","event":'
_content = itemgetter(slice(BODY_AT, -2))  # the line ends in "}\n"
_third_byte = itemgetter(slice(2, 3))
_tenth_byte = itemgetter(slice(9, 10))
_sha256 = hashlib.sha256
_digest = type(hashlib.sha256()).digest


def _link(prev: bytes, digest: bytes) -> bytes:
    return _digest(_sha256(prev + digest))


def _event_run(lines: list[bytes], prev: bytes, expected_seq: int) -> list[bytes] | None:
    """The chain hashes (raw) of a run of event lines that the walk, standing at hash
    ``prev`` and expecting event ``expected_seq``, would accept one by one; else None."""
    if not all(map(bytes.endswith, lines, repeat(b"}\n"))):
        return None
    contents = list(map(_content, lines))
    # The walk reads the number after the content's last '"seq":' up to the next comma.
    n = len(lines)
    tokens = ((SEQ_TOKEN * n) % tuple(range(expected_seq, expected_seq + n))).split(b"\n")
    at = map(bytes.rfind, contents, repeat(SEQ_KEY))
    if not all(map(bytes.startswith, contents, tokens, at)):
        return None
    chained = list(accumulate(map(_digest, map(_sha256, contents)), _link, initial=prev))
    del chained[0]
    # Every line must start '{"hash":"<its hash, lower-case hex>","event":', exactly
    # BODY_AT bytes: compared for the whole run at once.
    hexes = binascii.hexlify(b"".join(chained), b"|", 32)
    expected = EVENT_START + hexes.replace(b"|", EVENT_MIDDLE + EVENT_START) + EVENT_MIDDLE
    if b"".join(map(_prefix, lines)) != expected:
        return None
    return chained


def _digest_run(
    lines: list[bytes], prev: bytes, expected_seq: int, start: bytes
) -> list[bytes] | None:
    """The chain hashes (raw) of a run of redacted or tail lines (``start``) that the
    walk, standing at hash ``prev`` and expecting event ``expected_seq``, would accept one
    by one; else None."""
    n = len(lines)
    hexes = list(map(itemgetter(slice(len(start), len(start) + 64)), lines))
    # Each line must be exactly what the service writes for its digest and number.
    numbers = range(expected_seq, expected_seq + n)
    numbered = tuple(chain.from_iterable(zip(hexes, numbers, strict=True)))
    if b"".join(lines) != ((start + b"%s" + DIGEST_MIDDLE + b"%d}\n") * n) % numbered:
        return None
    try:
        digests = list(map(binascii.unhexlify, hexes))
    except ValueError:
        return None
    if binascii.hexlify(b"".join(digests)) != b"".join(hexes):  # lower-case hex only
        return None
    chained = list(accumulate(digests, _link, initial=prev))
    del chained[0]
    return chained


EVENTS_RUN, REDACTED_RUN, TAIL_RUN = b"h", b"r", b"t"


def _segments(fh: BinaryIO, stop: int | None) -> Iterator[tuple[list[bytes], bytes | None]]:
    """The lines from where ``fh`` stands up to byte ``stop`` (None: the end), in
    segments: (lines, EVENTS_RUN, REDACTED_RUN or TAIL_RUN) for a run of at least RUN_MIN
    lines of that kind, (lines, None) for the lines between. A tail run's first line is
    left between (it may be the one that starts the tail). Each line keeps its newline
    (the last line of a file may have none). ``stop`` is the end of a line."""
    while True:
        # readlines(hint) reads whole lines until they hold more than hint bytes: up to
        # the line ending at stop, given hint = stop - tell - 1 (0 would read them all).
        want = BLOCK_BYTES
        if stop is not None:
            want = min(want, stop - fh.tell() - 1)
            if want < 0:
                return
        lines = fh.readlines(want) if want else [fh.readline()]
        if not lines:
            return
        # The kind of line from its third byte, the "h" of '{"hash"' or the "t" of
        # '{"type"', and for the latter its tenth, the first of "redacted" or "tail"
        # (an event line has a hex digit there). The run checks check the rest.
        n = len(lines)
        third = b"".join(map(_third_byte, lines))
        tenth = b"".join(map(_tenth_byte, lines))
        if len(third) != n or len(tenth) != n:  # a line too short: no runs in this read
            yield lines, None
            continue
        runs = sorted(
            [m.span() for m in re.finditer(b"h{%d,}" % RUN_MIN, third)]
            + [m.span() for m in re.finditer(b"r{%d,}|t{%d,}" % (RUN_MIN, RUN_MIN + 1), tenth)]
        )
        done = 0
        for at, end in runs:
            if at < done:  # overlaps the run before (lines that look like both kinds)
                continue
            kind = tenth[at : at + 1] if third[at] != ord("h") else EVENTS_RUN
            if kind == TAIL_RUN:
                at += 1
            if done < at:
                yield lines[done:at], None
            yield lines[at:end], kind
            done = end
        if done < n:
            yield lines[done:], None


def _walk(
    fh: BinaryIO, c: _Cursor, h: _Header, want: frozenset[int], stop: int | None = None
) -> None:
    """Verify the lines from where ``fh`` stands, carrying ``c`` along; stop right after
    the checkpoint line that ends at byte ``stop`` (None: at the end of the file). Raises
    Problem for the first thing wrong."""
    # The event branch runs once per event: state and names bound locally, bytes
    # compared as bytes; written back to the cursor at the end.
    expected_seq, line, prev, chain_from = c.expected_seq, c.line, c.prev, c.chain_from
    last_event_seq, last_event_hash = c.last_event_seq, c.last_event_hash
    redacted_since, in_tail, ended_with_checkpoint = (
        c.redacted_since,
        c.in_tail,
        c.ended_with_checkpoint,
    )
    events, redacted, checkpoints = c.events, c.redacted, c.checkpoints
    tails, tail_checkpoints, newest_seen = c.tails, c.tail_checkpoints, c.newest_seen
    hashes = c.hashes
    last, end, newest_seq, key = h.last, h.end, h.newest_seq, h.key
    sha256, hexlify = hashlib.sha256, binascii.hexlify
    start, middle, body_at = EVENT_START, EVENT_MIDDLE, BODY_AT
    hash_end, middle_at = len(EVENT_START) + 64, BODY_AT - len(EVENT_MIDDLE)
    seq_key, seq_len = SEQ_KEY, len(SEQ_KEY)
    for segment, run in _segments(fh, stop):
        # The first event ever (no anchor) links to 32 zero bytes, as walked below.
        genesis = prev is None and expected_seq == 1
        start_hash = bytes(32) if prev is None else prev
        chained = None
        if run is None or expected_seq is None or (prev is None and not genesis):
            pass
        elif run == EVENTS_RUN and not in_tail:
            chained = _event_run(segment, start_hash, expected_seq)
        elif run == REDACTED_RUN and not in_tail:
            chained = _digest_run(segment, start_hash, expected_seq, REDACTED_START)
        elif run == TAIL_RUN and in_tail:
            chained = _digest_run(segment, start_hash, expected_seq, TAIL_START)
        if chained is not None and expected_seq is not None:
            if genesis:
                chain_from = 0
                if 0 in want:
                    hashes[0] = bytes(32)
            n = len(segment)
            for seq in want:
                if expected_seq <= seq < expected_seq + n:
                    hashes[seq] = chained[seq - expected_seq]
            prev = chained[-1]
            last_event_seq = expected_seq + n - 1
            expected_seq += n
            if run == EVENTS_RUN:
                last_event_hash = segment[-1][HASH_HEX]
                events += n
                redacted_since = 0
            else:
                last_event_hash = hexlify(prev)
                if run == REDACTED_RUN:
                    events += n
                    redacted += n
                else:
                    tails += n
                redacted_since = redacted_since or line + 1
            line += n
            ended_with_checkpoint = False
            continue
        for raw in segment:
            line += 1
            if raw.startswith(start):
                if expected_seq is None:
                    raise Problem(line, "an event in an export the header says is empty")
                if in_tail:
                    raise Problem(line, "an event line in the tail, after the period")
                if raw[middle_at:body_at] != middle or not raw.endswith(b"}\n"):
                    raise Problem(line, "malformed event line")
                content = raw[body_at:-2]
                # seq is the last key but source_ip, whose value holds no quote: rfind
                at = content.rfind(seq_key) + seq_len
                try:
                    seq = int(content[at : content.find(b",", at)])
                except ValueError:
                    raise Problem(line, "the event has no sequence number") from None
                if seq != expected_seq:
                    kind = "reordered or repeated" if seq < expected_seq else "missing"
                    raise Problem(line, f"{kind}: expected event {expected_seq}, found {seq}")
                if prev is None:
                    if seq != 1:
                        raise Problem(line, f"event {seq} is not anchored by a checkpoint")
                    prev = bytes(32)
                    chain_from = 0
                    if 0 in want:
                        hashes[0] = prev
                prev = sha256(prev + sha256(content).digest()).digest()
                computed = hexlify(prev)
                if computed != raw[len(start) : hash_end]:
                    if redacted_since:
                        raise Problem(
                            line,
                            f"event {seq}'s hash does not match its content and the chain "
                            f"before it: altered here, or a redacted digest since line "
                            f"{redacted_since} was altered",
                        )
                    raise Problem(
                        line,
                        f"altered: event {seq}'s hash does not match its content and the "
                        f"previous event's hash",
                    )
                if seq in want:
                    hashes[seq] = prev
                redacted_since = 0
                last_event_hash = computed
                last_event_seq = seq
                expected_seq = seq + 1
                events += 1
                ended_with_checkpoint = False
                continue
            is_redacted = raw.startswith(REDACTED_START)
            if is_redacted or raw.startswith(TAIL_START):
                if expected_seq is None:
                    raise Problem(line, "an event in an export the header says is empty")
                kind = "redacted" if is_redacted else "tail"
                digest_at = len(REDACTED_START) if is_redacted else len(TAIL_START)
                seq_at = digest_at + 64 + len(DIGEST_MIDDLE)
                if (
                    raw[digest_at + 64 : seq_at] != DIGEST_MIDDLE
                    or not raw.endswith(b"}\n")
                    or not HEX.issuperset(raw[digest_at : digest_at + 64])
                ):
                    raise Problem(line, f"malformed {kind} line")
                try:
                    seq = int(raw[seq_at:-2])
                except ValueError:
                    raise Problem(line, f"the {kind} event has no sequence number") from None
                if is_redacted and in_tail:
                    raise Problem(line, "a redacted line in the tail, after the period")
                if not is_redacted and not in_tail:
                    # The period must be whole, its last event signed, before the tail.
                    if end is None or last is None or end == last:
                        raise Problem(line, "a tail line, but the header announces no tail")
                    if last_event_seq != last:
                        where = last_event_seq if last_event_seq is not None else "none"
                        raise Problem(
                            line,
                            f"truncated: the period ends at event {where}, not at "
                            f"event {last} as the header says",
                        )
                    if not ended_with_checkpoint:
                        raise Problem(
                            line, f"truncated: no checkpoint covers the period's last event {last}"
                        )
                    in_tail = True
                if seq != expected_seq:
                    order = "reordered or repeated" if seq < expected_seq else "missing"
                    raise Problem(line, f"{order}: expected event {expected_seq}, found {seq}")
                if prev is None:
                    if seq != 1:
                        raise Problem(line, f"event {seq} is not anchored by a checkpoint")
                    prev = bytes(32)
                    chain_from = 0
                    if 0 in want:
                        hashes[0] = prev
                prev = sha256(prev + binascii.unhexlify(raw[digest_at : digest_at + 64])).digest()
                if seq in want:
                    hashes[seq] = prev
                last_event_hash = hexlify(prev)
                last_event_seq = seq
                expected_seq = seq + 1
                if is_redacted:
                    events += 1
                    redacted += 1
                else:
                    tails += 1
                redacted_since = redacted_since or line
                ended_with_checkpoint = False
                continue
            item = _json(raw, line)
            if item.get("type") != "checkpoint":
                raise Problem(line, "unknown line")
            seq, cp_hash, _ = _checkpoint(item, line, key)
            if last_event_seq is None and prev is None:
                # The anchor: the export starts right after it.
                if expected_seq is None or seq != expected_seq - 1:
                    raise Problem(line, "the anchor checkpoint is not right before the first event")
                prev = bytes.fromhex(cp_hash)
                chain_from = seq
                if seq in want:
                    hashes[seq] = prev
            elif seq != last_event_seq or cp_hash.encode() != last_event_hash:
                if seq == last_event_seq and redacted_since:
                    raise Problem(
                        line,
                        f"checkpoint {seq} does not match event {seq}: a redacted or tail "
                        f"digest since line {redacted_since} was altered",
                    )
                where = f"event {last_event_seq}" if last_event_seq is not None else "no event"
                raise Problem(
                    line,
                    f"checkpoint {seq} does not match {where} (an event before it was "
                    f"altered and rehashed, or the checkpoint was moved)",
                )
            else:
                redacted_since = 0
            if seq == newest_seq:
                if cp_hash != h.newest_hash:
                    raise Problem(line, f"checkpoint {seq} is not the header's newest checkpoint")
                newest_seen = True
            if in_tail:
                tail_checkpoints += 1
            else:
                checkpoints += 1
            ended_with_checkpoint = last_event_seq is not None
    c.expected_seq, c.line, c.prev, c.chain_from = expected_seq, line, prev, chain_from
    c.last_event_seq, c.last_event_hash = last_event_seq, last_event_hash
    c.redacted_since, c.in_tail = redacted_since, in_tail
    c.ended_with_checkpoint, c.newest_seen = ended_with_checkpoint, newest_seen
    c.events, c.redacted, c.checkpoints = events, redacted, checkpoints
    c.tails, c.tail_checkpoints = tails, tail_checkpoints


# --- using more than one core: the file in parts, split at checkpoints --------------------
#
# A part starts right after a checkpoint line: the state the walk is in there follows from
# that line alone (the chain's hash is the checkpoint's, the next event is the one after
# it), given that the part before it ends matching that checkpoint. So the parts after
# the first are verified in other processes from that state, while this process walks
# the first; then, in file order, a part's result is taken only if the walk before it
# stopped exactly where it starts, in exactly the state it assumed. Otherwise (a problem
# in the part, the other process failed, or the state differs, as in a damaged file) this
# process walks the part itself, so what is reported is always what one walk over the
# whole file reports, down to the line numbers.

# A part is at least this long (bytes); below it, forking costs more than it saves.
MIN_PART_BYTES = 16 * 1024 * 1024
CHECKPOINT_START = b'{"type":"checkpoint"'


def _parts_wanted() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


def _split_points(fh: BinaryIO, body: int, size: int, parts: int, min_bytes: int) -> list[int]:
    """Ends of checkpoint lines near equal shares of the body, increasing."""
    parts = min(parts, (size - body) // max(min_bytes, 1))
    points: list[int] = []
    for i in range(1, parts):
        fh.seek(body + (size - body) * i // parts)
        fh.readline()  # the rest of the line the share ends in
        for raw in fh:
            if raw.startswith(CHECKPOINT_START):
                at = fh.tell()
                if at < size and (not points or at > points[-1]):
                    points.append(at)
                break
    return points


@dataclass(frozen=True)
class _Part:
    """A part of the file verified in another process: from the checkpoint line between
    ``line_start`` and ``start`` to byte ``stop`` (None: the end)."""

    line_start: int
    start: int
    stop: int | None


def _verify_part(
    path: Path, part: _Part, h: _Header, want: frozenset[int]
) -> tuple[_Cursor, _Cursor] | None:
    """Verify one part from the state its first checkpoint line gives: that state and
    the state at the part's end; None if anything is wrong or unclear there (the main
    process then walks the part itself and reports)."""
    try:
        with path.open("rb", buffering=READ_BUFFER) as fh:
            fh.seek(part.line_start)
            item = json.loads(fh.readline())
            seq, cp_hash = int(item["seq"]), str(item["hash"])
            in_tail = h.last is not None and seq > h.last
            cursor = _Cursor(expected_seq=None).after_checkpoint(seq, cp_hash, in_tail)
            start = _Cursor(expected_seq=None).after_checkpoint(seq, cp_hash, in_tail)
            _walk(fh, cursor, h, want, part.stop)
            if part.stop is not None and fh.tell() != part.stop:
                return None
    except (Problem, OSError, ValueError, KeyError, TypeError):
        return None
    return start, cursor


def _run_part(path: Path, part: _Part, h: _Header, want: frozenset[int], conn: Any) -> None:
    try:
        conn.send(_verify_part(path, part, h, want))
    finally:
        conn.close()


def _walk_file(
    fh: BinaryIO, path: Path, c: _Cursor, h: _Header, want: frozenset[int], min_bytes: int
) -> None:
    """``_walk`` over the rest of the file, on more than one core if it is large."""
    body = fh.tell()
    size = os.fstat(fh.fileno()).st_size
    parts = _parts_wanted()
    points = (
        _split_points(fh, body, size, parts, min_bytes)
        if parts > 1 and "fork" in multiprocessing.get_all_start_methods()
        else []
    )
    fh.seek(body)
    if not points:
        _walk(fh, c, h, want)
        return
    starts = [_line_start(fh, point) for point in points]
    fh.seek(body)
    context = multiprocessing.get_context("fork")
    running = []
    try:
        for i, point in enumerate(points):
            stop = points[i + 1] if i + 1 < len(points) else None
            part = _Part(starts[i], point, stop)
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_run_part, args=(path, part, h, want, send))
            process.start()
            send.close()
            running.append((part, process, receive))
        _walk(fh, c, h, want, points[0])
        for part, process, receive in running:
            try:
                result = receive.recv()
            except (EOFError, OSError):
                result = None
            process.join()
            at = fh.tell()
            if result is not None and at == part.start and c.continues_at(result[0]):
                c.extend(result[1])
                fh.seek(part.stop if part.stop is not None else size)
            elif at == part.start:
                _walk(fh, c, h, want, part.stop)
            # else the walk went on past this part's start: it has walked the part itself
    finally:
        for _, process, receive in running:
            if process.is_alive():
                process.terminate()
            process.join()
            receive.close()


def _line_start(fh: BinaryIO, end: int) -> int:
    """Where the line ending at byte ``end`` starts."""
    back = min(end, 64 * 1024)
    fh.seek(end - back)
    chunk = fh.read(back)
    return end - back + chunk.rfind(b"\n", 0, len(chunk) - 1) + 1


def verify(
    path: Path,
    trusted_key: Ed25519PublicKey | None,
    wanted: frozenset[int] = frozenset(),
    *,
    min_part_bytes: int = MIN_PART_BYTES,
) -> Verified:
    """Verify the export; keep the chain's hash at the sizes in ``wanted``. Raises
    Problem for the first thing wrong. A large file is verified in parts on the
    machine's cores (at most 4), each part at least ``min_part_bytes`` long."""
    with path.open("rb", buffering=READ_BUFFER) as fh:
        header, raw_key, h = _read_header(fh, trusted_key)
        count, head = _optional_int(header, "events"), _optional_int(header, "log_head_seq")
        first, last, end, newest_seq = h.first, h.last, h.end, h.newest_seq
        newest_in_range = (
            newest_seq is not None and first is not None and first <= newest_seq <= (end or 0)
        )
        c = _Cursor(expected_seq=first)
        _walk_file(fh, path, c, h, wanted, min_part_bytes)
    events, line, last_event_seq = c.events, c.line, c.last_event_seq
    if not c.in_tail:
        if events != count or (events and last_event_seq != last):
            raise Problem(
                line,
                f"truncated: {events} of {count} events, the tail after event "
                f"{last_event_seq} is missing",
            )
        if events and not c.ended_with_checkpoint:
            raise Problem(line, f"truncated: no checkpoint covers the last event {last_event_seq}")
        if end != last:
            raise Problem(
                line,
                f"truncated: the tail of {(end or 0) - (last or 0)} events after event {last} "
                f"(to the log's head {end}) is missing",
            )
    else:
        if last_event_seq != end:
            raise Problem(
                line,
                f"truncated: the tail ends at event {last_event_seq}, the log's head at "
                f"export time was {end}",
            )
        if not c.ended_with_checkpoint:
            raise Problem(line, f"truncated: no checkpoint covers the log's head {end}")
    if newest_in_range and not c.newest_seen:
        raise Problem(line, f"the log's newest checkpoint {newest_seq} is missing from the export")
    key_id = hashlib.sha256(raw_key).hexdigest()
    span = f" (seq {first}..{last})" if events else ""
    hidden = f", {c.redacted} redacted" if c.redacted else ""
    scope = header.get("organisation_id")
    whose = f" for organisation {scope}" if scope is not None else ""
    tail = (
        f", tail of {c.tails} events to the log's head as digests "
        f"({c.tail_checkpoints} checkpoints)"
        if c.tails
        else ""
    )
    summary = (
        f"OK: {events} events{span}{hidden}{whose}, {c.checkpoints} checkpoints{tail}, "
        f"log head {head}, newest checkpoint {newest_seq}, key {key_id}"
    )
    chain_from, hashes = c.chain_from, c.hashes
    if head is None:  # the empty log: its chain is the empty one, head 32 zero bytes
        chain_from = 0
        if 0 in wanted:
            hashes[0] = bytes(32)
    return Verified(
        summary=summary,
        raw_key=raw_key,
        origin=h.origin,
        head=head,
        chain_from=chain_from if events else (0 if head is None else None),
        chain_to=end if events else (0 if head is None else None),
        exported_at=_posix(header.get("exported_at")),
        hashes=hashes,
    )


# --- witnessed checkpoints: C2SP signed notes (c2sp.org/signed-note, tlog-checkpoint,
# tlog-cosignature), restated from consent_service/witness/note.py --------------------------

MAX_NOTE_BYTES = 16 * 1024
MAX_SIGNATURES = 64
MAX_LINE_BYTES = 1024
SIGNATURE_PREFIX = "— "
ALG_ED25519, ALG_COSIGNATURE_V1 = 0x01, 0x04
MAX_SIZE = 2**63 - 1


class Unreadable(Exception):
    """A file that is not what it should be at all (exit 2)."""


def _note_key_id(name: str, alg: int, raw_key: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + raw_key).digest()
    return int.from_bytes(digest[:4], "big")


def _valid_name(name: str) -> bool:
    return bool(name) and not any(c.isspace() or c == "+" for c in name)


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Unreadable(f"{what} is not base64") from None


@dataclass(frozen=True)
class WitnessKey:
    name: str
    key_id: int
    key: Ed25519PublicKey


def parse_witness_key(text: str) -> WitnessKey:
    """A cosignature/v1 verifier key ``<name>+<8 hex>+<base64(0x04 || key)>``."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or len(text) > MAX_LINE_BYTES or not _valid_name(parts[0]):
        raise Unreadable("a witness key is <name>+<8 hex digits>+<base64 key>")
    name, hex_id, b64 = parts
    if len(hex_id) != 8 or not HEX.issuperset(hex_id.encode()):
        raise Unreadable("a witness key is <name>+<8 hex digits>+<base64 key>")
    material = _b64(b64, "the witness key")
    if len(material) != 33 or material[0] != ALG_COSIGNATURE_V1:
        raise Unreadable("not a cosignature/v1 (type 0x04) Ed25519 witness key")
    if _note_key_id(name, ALG_COSIGNATURE_V1, material[1:]) != int(hex_id, 16):
        raise Unreadable("the witness key's id does not match its name and key")
    try:
        key = Ed25519PublicKey.from_public_bytes(material[1:])
    except ValueError:
        raise Unreadable("not a valid Ed25519 public key") from None
    return WitnessKey(name, int(hex_id, 16), key)


@dataclass(frozen=True)
class WitnessNote:
    """A signed checkpoint note as read: its text, checkpoint and signature lines."""

    label: str  # the file name, to name it in reports
    text: bytes  # the signed text (up to and including its last newline before the blank)
    origin: str
    size: int
    root: bytes
    signatures: tuple[tuple[str, int, bytes], ...]  # (key name, key id, signature bytes)


def parse_witness_note(data: bytes, label: str) -> WitnessNote:
    """Parse a C2SP signed checkpoint note; refuses anything malformed with Unreadable."""
    if len(data) > MAX_NOTE_BYTES:
        raise Unreadable(f"larger than {MAX_NOTE_BYTES} bytes")
    try:
        whole = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("not valid UTF-8") from None
    if any(c < " " and c != "\n" for c in whole):
        raise Unreadable("holds a control character other than newline")
    split = whole.rfind("\n\n")
    if split < 0:
        raise Unreadable("no blank line between the checkpoint and its signatures")
    text, sigs = whole[: split + 1], whole[split + 2 :]
    if not sigs.endswith("\n"):
        raise Unreadable("no signature lines, or they do not end in a newline")
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise Unreadable(f"more than {MAX_SIGNATURES} signatures")
    signatures = []
    for sig_line in lines:
        if len(sig_line.encode()) > MAX_LINE_BYTES or not sig_line.startswith(SIGNATURE_PREFIX):
            raise Unreadable("a signature line is not '— <key name> <base64>'")
        name, sep, b64 = sig_line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not sep or not _valid_name(name):
            raise Unreadable("a signature line is not '— <key name> <base64>'")
        raw = _b64(b64, "a signature")
        if len(raw) < 5:
            raise Unreadable("a signature is too short")
        signatures.append((name, int.from_bytes(raw[:4], "big"), raw[4:]))
    body = text[:-1].split("\n")
    if len(body) < 3 or any(not extension for extension in body[3:]):
        raise Unreadable("not a checkpoint: an origin, a size and a hash line")
    origin, size_text, hash_text = body[:3]
    if not origin or len(origin.encode()) > MAX_LINE_BYTES:
        raise Unreadable("the checkpoint's origin is empty or too long")
    if (
        not size_text.isascii()
        or not size_text.isdigit()
        or len(size_text) > 19
        or (size_text.startswith("0") and size_text != "0")
        or int(size_text) > MAX_SIZE
    ):
        raise Unreadable("the checkpoint's size is not a decimal number")
    root = _b64(hash_text, "the checkpoint's hash")
    if len(root) != 32:
        raise Unreadable("the checkpoint's hash is not 32 bytes")
    return WitnessNote(label, text.encode(), origin, int(size_text), root, tuple(signatures))


def read_witness_note(path: Path) -> WitnessNote:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_NOTE_BYTES + 1)
    except OSError as exc:
        raise Unreadable(f"cannot be read: {exc.strerror}") from None
    return parse_witness_note(data, path.name)


def _ed25519_ok(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _when(timestamp: int) -> str:
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"time {timestamp}"


@dataclass
class WitnessResult:
    note: WitnessNote
    cosigners: list[tuple[str, int, int]] = field(default_factory=list)  # name, key id, time
    fail: str | None = None
    unchecked: str | None = None
    matched: bool = False
    via_later: int | None = None  # matched through this later checkpoint of the same witness


def _authenticate(
    note: WitnessNote, verified: Verified, witness_keys: list[WitnessKey]
) -> WitnessResult:
    """Is the note the export's log's, signed by its key, cosigned by a trusted witness?"""
    result = WitnessResult(note)
    what = f"witness file {note.label}"
    if verified.origin is None:
        result.fail = f"{what}: the export holds no checkpoint, so no origin to match"
        return result
    if note.origin != verified.origin:
        result.fail = (
            f"{what} is a checkpoint of another log, {note.origin!r}, not of {verified.origin!r}"
        )
        return result
    log_id = _note_key_id(note.origin, ALG_ED25519, verified.raw_key)
    log_key = Ed25519PublicKey.from_public_bytes(verified.raw_key)
    by_log = [sig for name, kid, sig in note.signatures if (name, kid) == (note.origin, log_id)]
    if not by_log:
        names = ", ".join(f"{name}+{kid:08x}" for name, kid, _ in note.signatures)
        result.fail = f"{what} is not signed by the export's key (it is signed by: {names})"
        return result
    if not all(_ed25519_ok(log_key, sig, note.text) for sig in by_log):
        result.fail = f"{what}: the log's signature does not verify (a forged or altered note)"
        return result
    if not witness_keys:
        return result
    for wk in witness_keys:
        for name, kid, sig in note.signatures:
            if (name, kid) != (wk.name, wk.key_id):
                continue
            if len(sig) != 8 + 64:
                result.fail = f"{what}: the cosignature by {wk.name} is not a cosignature/v1"
                return result
            (stamp,) = struct.unpack(">Q", sig[:8])
            message = b"cosignature/v1\ntime " + str(stamp).encode() + b"\n" + note.text
            if not _ed25519_ok(wk.key, sig[8:], message):
                result.fail = (
                    f"{what}: the cosignature by {wk.name} does not verify (forged or altered)"
                )
                return result
            result.cosigners.append((wk.name, wk.key_id, int(stamp)))
    if not result.cosigners:
        others = sorted({name for name, kid, _ in note.signatures if name != note.origin})
        carries = f"it carries cosignatures by: {', '.join(others)}" if others else "none"
        result.fail = f"{what} has no valid cosignature from a trusted witness key ({carries})"
    return result


def check_witnesses(
    notes: list[WitnessNote], verified: Verified, witness_keys: list[WitnessKey]
) -> list[WitnessResult]:
    results = [_authenticate(note, verified, witness_keys) for note in notes]
    head = verified.head if verified.head is not None else 0
    start = verified.chain_from
    before: list[WitnessResult] = []
    for result in results:
        if result.fail is not None:
            continue
        note = result.note
        n = note.size
        names = ", ".join(name for name, _, _ in result.cosigners)
        times = [stamp for _, _, stamp in result.cosigners]
        if n > head:
            exported = verified.exported_at
            if times and exported is not None and min(times) > exported:
                result.unchecked = (
                    f"witness file {note.label}: checkpoint {n} was cosigned by {names} at "
                    f"{_when(min(times))}, after this export was made: export again to check it"
                )
            else:
                ended = f"at event {head}" if verified.head is not None else "empty"
                held = (
                    f"cosigned by {names} at {_when(min(times))}"
                    if times
                    else "signed by the log's key; cosignatures not checked"
                )
                result.fail = (
                    f"truncated: a witness holds checkpoint {n}, the log ended {ended} when "
                    f"exported ({note.label}: {held})"
                )
        elif start is not None and verified.chain_to is not None and n > verified.chain_to:
            result.unchecked = (
                f"witness file {note.label}: checkpoint {n} lies after this export's last "
                f"event {verified.chain_to}, and the export carries no tail to the log's "
                f"head (it was made before exports did): export again to check it"
            )
        elif start is not None and n >= start:
            if verified.hashes.get(n) != note.root and names:
                result.fail = (
                    f"rewritten: the log's event {n} is not what witness {names} countersigned "
                    f"(in {note.label})"
                )
            elif verified.hashes.get(n) != note.root:
                result.fail = (
                    f"rewritten: the log's event {n} is not what the checkpoint note "
                    f"{note.label}, signed by the log's key, states"
                )
            else:
                result.matched = True
        else:
            before.append(result)
    for result in before:
        n = result.note.size
        keys = {(name, kid) for name, kid, _ in result.cosigners}
        later = [
            other.note.size
            for other in results
            if other.matched
            and other.via_later is None
            and other.note.size > n
            and keys & {(name, kid) for name, kid, _ in other.cosigners}
        ]
        if later:  # the same witness cosigned a later, checked extension of this one
            result.matched, result.via_later = True, min(later)
            continue
        reach = (
            f"it lies before this export's anchor (event {start})"
            if start is not None
            else "this export holds no events"
        )
        result.unchecked = (
            f"witness file {result.note.label}: checkpoint {n} is not covered: {reach}, and "
            f"no later checkpoint cosigned by the same trusted witness was checked; export a "
            f"period that starts at or before event {max(n, 1)} to check it"
        )
    return results


def _witness_summary(results: list[WitnessResult]) -> str:
    if not results:
        return ""
    parts = []
    for result in results:
        cosigned = ", ".join(f"{name} at {_when(stamp)}" for name, _, stamp in result.cosigners)
        via = (
            f", via a later checkpoint {result.via_later} of the same witness"
            if result.via_later is not None
            else ""
        )
        signed = f"cosigned by {cosigned}" if cosigned else "log signature only"
        parts.append(f"{result.note.size} ({result.note.label}: {signed}{via})")
    count = len(results)
    noun = "checkpoint matches" if count == 1 else "checkpoints match"
    return f"; {count} witnessed {noun}: " + "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify an exported consent-service audit log.")
    parser.add_argument("export", type=Path)
    parser.add_argument("--public-key", type=Path, help="the published public key (PEM)")
    parser.add_argument(
        "--witness",
        type=Path,
        action="append",
        default=[],
        metavar="NOTE",
        help="a signed checkpoint note kept outside the service (repeatable)",
    )
    parser.add_argument(
        "--witness-key",
        action="append",
        default=[],
        metavar="VKEY",
        help="a trusted witness's cosignature/v1 verifier key, or a file holding it (repeatable)",
    )
    args = parser.parse_args(argv)
    trusted = None
    if args.public_key is not None:
        try:
            trusted = _load_key(args.public_key)
        except (OSError, ValueError) as exc:
            print(f"cannot read the public key: {exc}", file=sys.stderr)
            return EXIT_UNREADABLE
    witness_keys: list[WitnessKey] = []
    for text in args.witness_key:
        try:
            if Path(text).is_file():
                with Path(text).open("rb") as fh:
                    text = fh.read(MAX_LINE_BYTES + 1).decode("utf-8", "replace")
            witness_keys.append(parse_witness_key(text))
        except (OSError, Unreadable) as exc:
            print(f"cannot read the witness key {text[:80]!r}: {exc}", file=sys.stderr)
            return EXIT_UNREADABLE
    notes: list[WitnessNote] = []
    for path in args.witness:
        try:
            notes.append(read_witness_note(path))
        except Unreadable as exc:
            print(
                f"cannot read the witness file {path.name}: not a signed checkpoint note: {exc}",
                file=sys.stderr,
            )
            return EXIT_UNREADABLE
    try:
        verified = verify(
            args.export,
            trusted,
            frozenset(note.size for note in notes),
            min_part_bytes=int(os.environ.get("AUDIT_VERIFY_MIN_PART_BYTES", MIN_PART_BYTES)),
        )
    except OSError as exc:
        print(f"cannot read the export: {exc.strerror}", file=sys.stderr)
        return EXIT_UNREADABLE
    except Problem as problem:
        print(f"FAIL: {problem}")
        return EXIT_FAIL
    results = check_witnesses(notes, verified, witness_keys)
    fails = [r.fail for r in results if r.fail is not None]
    unchecked = [r.unchecked for r in results if r.unchecked is not None]
    for fail in fails:
        print(f"FAIL: {fail}")
    for what in unchecked:
        print(f"UNCHECKED: {what}")
    if fails or unchecked:
        print(f"(the export on its own verifies: {verified.summary.removeprefix('OK: ')})")
        return EXIT_FAIL if fails else EXIT_UNCHECKED
    summary = verified.summary + _witness_summary(results)
    if trusted is None:
        summary += " (no --public-key given: compare the key id with the published one)"
    if notes and not witness_keys:
        summary += " (no --witness-key given: the notes' cosignatures were not checked)"
    print(summary)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

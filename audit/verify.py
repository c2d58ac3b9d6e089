#!/usr/bin/env python3
"""Verify an exported consent-service audit log, outside the service.

    python audit/verify.py EXPORT.jsonl [--public-key KEY.pem]

Needs only the Python standard library and ``cryptography``; imports nothing from the
service. It checks that the header is signed by the key; that the events run without a
gap from the anchor checkpoint (or from the first event ever) to the header's last event;
that each event's hash is the SHA-256 of its canonical bytes and names the previous
event's hash; that every checkpoint is signed by the key and matches its event; and that
the export ends with a checkpoint at its last event, so nothing was cut off.

Prints ``OK: ...`` and exits 0, or ``FAIL: line N: ...`` naming the first problem and
exits 1; exits 2 if the file or key cannot be read.

The definitions restated from the service (keep in step with consent_service/audit/):
an event line is ``{"hash":"<64 hex>","event":<canonical JSON>}``, the canonical JSON
being the exact bytes hashed (keys sorted, no spaces, UTF-8); a checkpoint signs
``b"consent-service audit checkpoint v1\\n"`` + ``{"hash","seq","signed_at"}`` as compact
sorted JSON; the header signs ``b"consent-service audit export header v1\\n"`` + its fields
but ``signature`` as compact sorted JSON. The first event ever has prev_hash 64 zeros.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

FORMAT = "consent-service-audit-export/1"
GENESIS = "0" * 64
CHECKPOINT_PREFIX = b"consent-service audit checkpoint v1\n"
HEADER_PREFIX = b"consent-service audit export header v1\n"
EVENT_START = b'{"hash":"'
EVENT_MIDDLE = b'","event":'
BODY_AT = len(EVENT_START) + 64 + len(EVENT_MIDDLE)
PREV_KEY = b'"prev_hash":"'
SEQ_KEY = b'"seq":'


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


def verify(path: Path, trusted_key: Ed25519PublicKey | None) -> str:
    """Return the OK summary, or raise Problem for the first thing wrong."""
    with path.open("rb") as fh:
        header_raw = fh.readline()
        header = _json(header_raw, 1)
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
        if not _verify_signature(
            key, str(header.get("signature", "")), HEADER_PREFIX + _compact(body)
        ):
            raise Problem(1, "the header's signature does not verify (header altered?)")
        first, last, count = header.get("first_seq"), header.get("last_seq"), header.get("events")

        expected_seq = first if isinstance(first, int) else None
        prev: bytes | None = None  # the hash the next event must name, as hex bytes
        last_event_seq: int | None = None
        last_event_hash: bytes | None = None
        events = checkpoints = 0
        ended_with_checkpoint = False
        line = 1
        # The event branch runs once per event: names bound locally, bytes compared as bytes.
        sha256, start, middle, body_at = hashlib.sha256, EVENT_START, EVENT_MIDDLE, BODY_AT
        hash_end, middle_at = len(EVENT_START) + 64, BODY_AT - len(EVENT_MIDDLE)
        seq_key, seq_len, prev_key, prev_len = SEQ_KEY, len(SEQ_KEY), PREV_KEY, len(PREV_KEY)
        for raw in fh:
            line += 1
            if raw.startswith(start):
                if expected_seq is None:
                    raise Problem(line, "an event in an export the header says is empty")
                if raw[middle_at:body_at] != middle or not raw.endswith(b"}\n"):
                    raise Problem(line, "malformed event line")
                canonical = raw[body_at:-2]
                computed = sha256(canonical).hexdigest().encode()
                if computed != raw[len(start) : hash_end]:
                    raise Problem(line, "the event's hash does not match its content (altered)")
                at = canonical.find(seq_key) + seq_len
                try:
                    seq = int(canonical[at : canonical.find(b",", at)])
                except ValueError:
                    raise Problem(line, "the event has no sequence number") from None
                if seq != expected_seq:
                    kind = "reordered or repeated" if seq < expected_seq else "missing"
                    raise Problem(line, f"{kind}: expected event {expected_seq}, found {seq}")
                if prev is None:
                    if seq != 1:
                        raise Problem(line, f"event {seq} is not anchored by a checkpoint")
                    prev = GENESIS.encode()
                at = canonical.find(prev_key) + prev_len
                if canonical[at : at + 64] != prev:
                    raise Problem(line, f"event {seq} does not link to the previous event")
                prev = last_event_hash = computed
                last_event_seq = seq
                expected_seq = seq + 1
                events += 1
                ended_with_checkpoint = False
                continue
            item = _json(raw, line)
            if item.get("type") != "checkpoint":
                raise Problem(line, "unknown line")
            seq, cp_hash = item.get("seq"), item.get("hash")
            if not isinstance(seq, int) or not isinstance(cp_hash, str):
                raise Problem(line, "malformed checkpoint")
            message = CHECKPOINT_PREFIX + _compact(
                {"hash": cp_hash, "seq": seq, "signed_at": item.get("signed_at")}
            )
            if not _verify_signature(key, str(item.get("signature", "")), message):
                raise Problem(line, f"checkpoint {seq}: signature does not verify")
            if last_event_seq is None and prev is None:
                # The anchor: the export starts right after it.
                if expected_seq is None or seq != expected_seq - 1:
                    raise Problem(line, "the anchor checkpoint is not right before the first event")
                prev = cp_hash.encode()
            elif seq != last_event_seq or cp_hash.encode() != last_event_hash:
                raise Problem(line, f"checkpoint {seq} does not match event {last_event_seq}")
            checkpoints += 1
            ended_with_checkpoint = last_event_seq is not None
    if events != count or (events and last_event_seq != last):
        raise Problem(line, f"truncated: {events} of {count} events, the tail is missing")
    if events and not ended_with_checkpoint:
        raise Problem(line, "truncated: no checkpoint covers the last event")
    key_id = hashlib.sha256(raw_key).hexdigest()
    span = f" (seq {first}..{last})" if events else ""
    return f"OK: {events} events{span}, {checkpoints} checkpoints, key {key_id}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify an exported consent-service audit log.")
    parser.add_argument("export", type=Path)
    parser.add_argument("--public-key", type=Path, help="the published public key (PEM)")
    args = parser.parse_args(argv)
    trusted = None
    if args.public_key is not None:
        try:
            trusted = _load_key(args.public_key)
        except (OSError, ValueError) as exc:
            print(f"cannot read the public key: {exc}", file=sys.stderr)
            return 2
    try:
        summary = verify(args.export, trusted)
    except OSError as exc:
        print(f"cannot read the export: {exc.strerror}", file=sys.stderr)
        return 2
    except Problem as problem:
        print(f"FAIL: {problem}")
        return 1
    if trusted is None:
        summary += " (no --public-key given: compare the key id with the published one)"
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())

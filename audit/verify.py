#!/usr/bin/env python3
"""Verify an exported consent-service audit log, outside the service.

    python audit/verify.py EXPORT.jsonl [--public-key KEY.pem]

Needs only the Python standard library and ``cryptography``; imports nothing from the
service. It checks that the header is signed by the key; that the events run without a
gap from the anchor checkpoint (or from the first event ever) to the header's last event;
that each event's hash links the previous event's hash to the digest of its content
(a redacted event, in an export for one organisation, gives only its digest); that every
checkpoint is signed by the key and matches its event; that the export ends with a
checkpoint at its last event, so nothing was cut off the file; and that the log's newest
signed checkpoint, stated in the header, is not beyond the log's head when it was
exported, so a tail cut off the log across a signed checkpoint is reported
("truncated after checkpoint N").

Prints ``OK: ...`` and exits 0, or ``FAIL: line N: ...`` naming the first problem (and
the event's sequence number) and exits 1; exits 2 if the file or key cannot be read.

The definitions restated from the service (keep in step with consent_service/audit/):
chain v2: ``digest = SHA-256(content)``, ``hash = SHA-256(prev hash || digest)`` over the
two as 32 raw bytes each; the first event ever has prev hash 64 zeros. An event line is
``{"hash":"<64 hex>","event":<content>}``, the content being the exact bytes digested
(keys sorted, no spaces, UTF-8); a redacted line is
``{"type":"redacted","digest":"<64 hex>","seq":N}``; a checkpoint signs the C2SP
checkpoint body ``<origin>\\n<seq>\\n<base64 of the 32-byte event hash>\\n``
(c2sp.org/tlog-checkpoint; ``signed_at`` is carried beside it, not signed); the header
signs ``b"consent-service audit export header v2\\n"`` + its fields
but ``signature`` as compact sorted JSON.
"""

from __future__ import annotations

import argparse
import base64
import binascii
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

FORMAT = "consent-service-audit-export/2"
GENESIS = "0" * 64
HEADER_PREFIX = b"consent-service audit export header v2\n"
EVENT_START = b'{"hash":"'
EVENT_MIDDLE = b'","event":'
BODY_AT = len(EVENT_START) + 64 + len(EVENT_MIDDLE)
SEQ_KEY = b'"seq":'
REDACTED_START = b'{"type":"redacted","digest":"'
REDACTED_MIDDLE = b'","seq":'
REDACTED_SEQ_AT = len(REDACTED_START) + 64 + len(REDACTED_MIDDLE)
HEX = frozenset(b"0123456789abcdef")


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


def _checkpoint(item: dict[str, Any], line: int, key: Ed25519PublicKey) -> tuple[int, str]:
    """A checkpoint's (seq, hash), once its signature verifies."""
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
    return seq, cp_hash


def _is_hex64(value: str) -> bool:
    return len(value) == 64 and HEX.issuperset(value.encode())


def _optional_int(header: dict[str, Any], name: str) -> int | None:
    value = header.get(name)
    if value is not None and not isinstance(value, int):
        raise Problem(1, f"the header's {name} is not a number")
    return value


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
        first, last = _optional_int(header, "first_seq"), _optional_int(header, "last_seq")
        count, head = _optional_int(header, "events"), _optional_int(header, "log_head_seq")
        newest_seq: int | None = None
        newest_hash = ""
        if header.get("newest_checkpoint") is not None:
            if not isinstance(header["newest_checkpoint"], dict):
                raise Problem(1, "the header's newest checkpoint is malformed")
            newest_seq, newest_hash = _checkpoint(header["newest_checkpoint"], 1, key)
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
        newest_in_range = (
            newest_seq is not None and first is not None and first <= newest_seq <= (last or 0)
        )
        newest_seen = False

        expected_seq = first
        prev: bytes | None = None  # the raw hash the next event links to
        last_event_seq: int | None = None
        last_event_hash: bytes | None = None  # hex bytes
        redacted_since = 0  # the line of the first redacted event since a verified hash
        events = redacted = checkpoints = 0
        ended_with_checkpoint = False
        line = 1
        # The event branch runs once per event: names bound locally, bytes compared as bytes.
        sha256, hexlify = hashlib.sha256, binascii.hexlify
        start, middle, body_at = EVENT_START, EVENT_MIDDLE, BODY_AT
        hash_end, middle_at = len(EVENT_START) + 64, BODY_AT - len(EVENT_MIDDLE)
        seq_key, seq_len = SEQ_KEY, len(SEQ_KEY)
        for raw in fh:
            line += 1
            if raw.startswith(start):
                if expected_seq is None:
                    raise Problem(line, "an event in an export the header says is empty")
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
                redacted_since = 0
                last_event_hash = computed
                last_event_seq = seq
                expected_seq = seq + 1
                events += 1
                ended_with_checkpoint = False
                continue
            if raw.startswith(REDACTED_START):
                if expected_seq is None:
                    raise Problem(line, "an event in an export the header says is empty")
                digest_at = len(REDACTED_START)
                if (
                    raw[digest_at + 64 : REDACTED_SEQ_AT] != REDACTED_MIDDLE
                    or not raw.endswith(b"}\n")
                    or not HEX.issuperset(raw[digest_at : digest_at + 64])
                ):
                    raise Problem(line, "malformed redacted line")
                try:
                    seq = int(raw[REDACTED_SEQ_AT:-2])
                except ValueError:
                    raise Problem(line, "the redacted event has no sequence number") from None
                if seq != expected_seq:
                    kind = "reordered or repeated" if seq < expected_seq else "missing"
                    raise Problem(line, f"{kind}: expected event {expected_seq}, found {seq}")
                if prev is None:
                    if seq != 1:
                        raise Problem(line, f"event {seq} is not anchored by a checkpoint")
                    prev = bytes(32)
                prev = sha256(prev + binascii.unhexlify(raw[digest_at : digest_at + 64])).digest()
                last_event_hash = hexlify(prev)
                last_event_seq = seq
                expected_seq = seq + 1
                events += 1
                redacted += 1
                redacted_since = redacted_since or line
                ended_with_checkpoint = False
                continue
            item = _json(raw, line)
            if item.get("type") != "checkpoint":
                raise Problem(line, "unknown line")
            seq, cp_hash = _checkpoint(item, line, key)
            if last_event_seq is None and prev is None:
                # The anchor: the export starts right after it.
                if expected_seq is None or seq != expected_seq - 1:
                    raise Problem(line, "the anchor checkpoint is not right before the first event")
                prev = bytes.fromhex(cp_hash)
            elif seq != last_event_seq or cp_hash.encode() != last_event_hash:
                if seq == last_event_seq and redacted_since:
                    raise Problem(
                        line,
                        f"checkpoint {seq} does not match event {seq}: a redacted digest "
                        f"since line {redacted_since} was altered",
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
                if cp_hash != newest_hash:
                    raise Problem(line, f"checkpoint {seq} is not the header's newest checkpoint")
                newest_seen = True
            checkpoints += 1
            ended_with_checkpoint = last_event_seq is not None
    if events != count or (events and last_event_seq != last):
        raise Problem(
            line,
            f"truncated: {events} of {count} events, the tail after event "
            f"{last_event_seq} is missing",
        )
    if events and not ended_with_checkpoint:
        raise Problem(line, f"truncated: no checkpoint covers the last event {last_event_seq}")
    if newest_in_range and not newest_seen:
        raise Problem(line, f"the log's newest checkpoint {newest_seq} is missing from the export")
    key_id = hashlib.sha256(raw_key).hexdigest()
    span = f" (seq {first}..{last})" if events else ""
    hidden = f", {redacted} redacted" if redacted else ""
    scope = header.get("organisation_id")
    whose = f" for organisation {scope}" if scope is not None else ""
    return (
        f"OK: {events} events{span}{hidden}{whose}, {checkpoints} checkpoints, "
        f"log head {head}, newest checkpoint {newest_seq}, key {key_id}"
    )


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

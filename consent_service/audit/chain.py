"""The canonical form of an audit event and its hash chain (format v2): pure functions.

    digest = SHA-256(canonical content)        the event's fields but prev_hash
    hash   = SHA-256(prev_hash || digest)      the two as 32 raw bytes each, 64 bytes in

The first event's prev_hash is GENESIS. A link can thus be checked from the digest alone,
without the content: an export for one organisation shows other organisations' events
as their digests and still verifies, and a witness can check that a checkpoint extends
another from digests. The same definition is restated, without importing this package,
in ``audit/verify.py`` (an outsider's check of an export) and in SQL in ``audit_seal``
(migration 0008).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
# The fields of the canonical content (seq is inside, prev_hash is not).
CONTENT_FIELDS = (
    "seq",
    "occurred_at",
    "actor_user_id",
    "actor_username",
    "organisation_id",
    "action",
    "resource_type",
    "resource_id",
    "outcome",
    "reason",
    "request_id",
    "source_ip",
    "details",
)
# Every field an event carries into the chain besides its hash.
CHAIN_FIELDS = (*CONTENT_FIELDS, "prev_hash")


def canonical_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_details(details: Mapping[str, Any] | None) -> str:
    return json.dumps(details or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_bytes(record: Mapping[str, Any]) -> bytes:
    """The canonical content, the bytes digested: a JSON object of CONTENT_FIELDS, sorted
    keys, no spaces, UTF-8 (not ASCII-escaped), times as ``canonical_time``."""
    body = {}
    for field in CONTENT_FIELDS:
        value = record[field]
        if isinstance(value, datetime):
            value = canonical_time(value)
        body[field] = value
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_digest(record: Mapping[str, Any]) -> str:
    """SHA-256 of the event's canonical content, hex: what stands for a redacted event."""
    return hashlib.sha256(content_bytes(record)).hexdigest()


def link(prev_hash: str, digest: str) -> str:
    """The chain hash of an event from the previous event's hash and its own digest."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + bytes.fromhex(digest)).hexdigest()


def event_hash(record: Mapping[str, Any]) -> str:
    """The chain hash of a record that carries its ``prev_hash``."""
    return link(record["prev_hash"], event_digest(record))


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    kind: str
    detail: str

    def __str__(self) -> str:
        where = f"event {self.seq}" if self.seq is not None else "chain"
        return f"{where}: {self.kind}: {self.detail}"


def first_problem(
    records: Iterable[Mapping[str, Any]],
    *,
    start_prev_hash: str = GENESIS,
    start_seq: int = 1,
) -> ChainProblem | None:
    """Walk records in order; report the first broken link, gap or altered event."""
    expected_prev = start_prev_hash
    expected_seq = start_seq
    for record in records:
        seq = int(record["seq"])
        if seq != expected_seq:
            kind = "reordered" if seq < expected_seq else "missing"
            return ChainProblem(seq, kind, f"expected sequence number {expected_seq}, found {seq}")
        if record["prev_hash"] != expected_prev:
            return ChainProblem(seq, "broken link", "prev_hash does not match the previous event")
        computed = event_hash(record)
        if computed != record["hash"]:
            return ChainProblem(seq, "altered", "stored hash does not match the event's content")
        expected_prev = computed
        expected_seq = seq + 1
    return None

"""The canonical form of an audit event and its hash chain: pure functions.

``hash = SHA-256(canonical JSON of the event's fields, including prev_hash)``; the first
event's prev_hash is GENESIS. The same definition is restated, without importing this
package, in ``audit/verify.py`` so an outsider can check an export.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
CHAIN_FIELDS = (
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
    "prev_hash",
)


def canonical_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_details(details: Mapping[str, Any] | None) -> str:
    return json.dumps(details or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_bytes(record: Mapping[str, Any]) -> bytes:
    """The bytes hashed: a JSON object of CHAIN_FIELDS, sorted keys, no spaces, UTF-8."""
    body = {}
    for field in CHAIN_FIELDS:
        value = record[field]
        if isinstance(value, datetime):
            value = canonical_time(value)
        body[field] = value
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(record)).hexdigest()


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

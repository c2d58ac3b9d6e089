"""The hash chain (v2) as pure functions: any edit, deletion, insertion or reordering
shows, and a link can be checked from an event's digest without its content."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from consent_service.audit.chain import (
    GENESIS,
    content_bytes,
    event_digest,
    event_hash,
    first_problem,
    link,
)


def _chain(n: int) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    prev = GENESIS
    t = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    for seq in range(1, n + 1):
        r: dict[str, Any] = {
            "seq": seq,
            "occurred_at": t + timedelta(seconds=seq),
            "actor_user_id": 7,
            "actor_username": "nina",
            "organisation_id": 1,
            "action": "citizen.read",
            "resource_type": "citizen",
            "resource_id": f"c{seq}",
            "outcome": "success",
            "reason": None,
            "request_id": f"r{seq}",
            "source_ip": "127.0.0.1",
            "details": '{"æ":"ø"}',
            "prev_hash": prev,
        }
        r["hash"] = event_hash(r)
        prev = r["hash"]
        records.append(r)
    return records


def test_an_untouched_chain_verifies() -> None:
    assert first_problem(_chain(20)) is None


def test_an_edit_is_detected() -> None:
    records = _chain(10)
    records[4]["resource_id"] = "someone-else"
    problem = first_problem(records)
    assert problem is not None
    assert (problem.seq, problem.kind) == (5, "altered")


def test_a_deletion_is_detected() -> None:
    records = _chain(10)
    del records[3]
    problem = first_problem(records)
    assert problem is not None
    assert problem.kind == "missing"


def test_a_reordering_is_detected() -> None:
    records = _chain(10)
    records[2], records[3] = records[3], records[2]
    problem = first_problem(records)
    assert problem is not None
    assert problem.seq == 4


def test_a_rehashed_edit_breaks_the_next_link() -> None:
    records = _chain(10)
    records[4]["outcome"] = "deny"
    records[4]["hash"] = event_hash(records[4])  # forger recomputes this event's hash
    problem = first_problem(records)
    assert problem is not None
    assert (problem.seq, problem.kind) == (6, "broken link")


# --- chain v2: the link is checked from the content's digest --------------------------------


def test_the_digest_is_of_the_content_without_the_previous_hash() -> None:
    record = _chain(3)[1]
    content = content_bytes(record)
    assert b"prev_hash" not in content
    assert content.startswith(b'{"action":"citizen.read","actor_user_id":7,')
    assert b'"seq":2,' in content
    assert "æ".encode() in content  # UTF-8, not ASCII-escaped
    assert event_digest(record) == hashlib.sha256(content).hexdigest()
    # The same content after another previous event has the same digest.
    assert event_digest({**record, "prev_hash": "f" * 64}) == event_digest(record)


def test_the_hash_links_the_previous_hash_and_the_digest_as_raw_bytes() -> None:
    records = _chain(3)
    second = records[1]
    raw = bytes.fromhex(records[0]["hash"]) + bytes.fromhex(event_digest(second))
    assert len(raw) == 64
    assert second["hash"] == hashlib.sha256(raw).hexdigest()
    assert second["prev_hash"] == records[0]["hash"]
    assert records[0]["prev_hash"] == GENESIS


def test_the_format_is_pinned() -> None:
    """A change of the canonical form or the link breaks every existing log: on purpose only."""
    record = _chain(1)[0]
    assert event_digest(record) == PINNED_DIGEST
    assert record["hash"] == PINNED_HASH


def test_a_redacted_event_links_by_its_digest_alone() -> None:
    records = _chain(5)
    # What a reader of a redacted export holds of event 3: its seq and digest, no content.
    digest = event_digest(records[2])
    assert link(records[1]["hash"], digest) == records[2]["hash"]
    assert link(link(records[1]["hash"], digest), event_digest(records[3])) == records[3]["hash"]


def test_an_altered_digest_breaks_the_link() -> None:
    records = _chain(5)
    digest = event_digest(records[2])
    altered = ("0" if digest[0] != "0" else "1") + digest[1:]
    assert link(records[1]["hash"], altered) != records[2]["hash"]
    # and an event's content edited, whose digest is recomputed, no longer links either
    records[2]["details"] = '{"æ":"å"}'
    assert link(records[1]["hash"], event_digest(records[2])) != records[2]["hash"]
    problem = first_problem(records)
    assert problem is not None
    assert (problem.seq, problem.kind) == (3, "altered")


# Event 1 of _chain, computed once by hand from the definition (json.dumps, hashlib).
PINNED_DIGEST = "8b0bfbeb5f5cda99cf4044323cefa5736063e89501e9d4f3616220455fb10500"
PINNED_HASH = "b9cd133ccf7f147b281473d78a010528c59deca35c10b3bfb72cd328ca55908e"

"""The hash chain as pure functions: any edit, deletion, insertion or reordering shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from consent_service.audit.chain import GENESIS, event_hash, first_problem


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

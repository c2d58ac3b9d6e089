"""audit/verify.py verifies a large export in parts on several cores, split at checkpoint
lines. Whatever the file holds, the parts must give exactly what one walk over the whole
file gives: the same summary, or the same first problem at the same line. A synthetic
export with redacted events, a tail and a checkpoint every few events is verified whole
and in parts, intact and after each kind of tampering."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from consent_service.audit.chain import GENESIS, event_digest, link
from consent_service.audit.checkpoints import checkpoint_message
from consent_service.oversight.export import (
    FORMAT,
    event_line,
    header_message,
    redacted_line,
    tail_line,
)

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "test.example/audit"
EVENTS, TAIL, EVERY = 120, 30, 7  # the period, the tail after it, a checkpoint every EVERY


def _load_verifier() -> ModuleType:
    if "audit_verify" in sys.modules:  # loaded already
        return sys.modules["audit_verify"]
    spec = importlib.util.spec_from_file_location("audit_verify", ROOT / "audit" / "verify.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["audit_verify"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


verifier = _load_verifier()


def _export_lines(full_tail: int = 0) -> list[str]:
    """The export's lines; the first ``full_tail`` tail events as full event lines (an
    export no service writes: the tail is digests only)."""
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))  # deterministic signatures
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    prev, lines, newest = GENESIS, [], {}
    for seq in range(1, EVENTS + TAIL + 1):
        record: dict[str, object] = {
            "seq": seq,
            "occurred_at": start + timedelta(seconds=seq),
            "actor_user_id": seq % 3,
            "actor_username": f"user{seq % 3}",
            "organisation_id": 1 + seq % 2,
            "action": "citizen.read",
            "resource_type": "citizen",
            "resource_id": f"c{seq}",
            "outcome": "success",
            "reason": None,
            "request_id": f"r{seq}",
            "source_ip": "10.0.0.1",
            "details": "{}",
            "prev_hash": prev,
        }
        digest = event_digest(record)
        record["hash"] = prev = link(prev, digest)
        if seq > EVENTS + full_tail:
            lines.append(tail_line(seq, digest))
        elif seq % 5 == 0:  # another organisation's event: only its digest
            lines.append(redacted_line(seq, digest))
        else:
            lines.append(event_line(record))
        if seq % EVERY == 0 or seq in (EVENTS, EVENTS + TAIL):
            signature = key.sign(checkpoint_message(ORIGIN, seq, prev))
            newest = {
                "origin": ORIGIN,
                "seq": seq,
                "hash": prev,
                "signed_at": "2026-01-02T00:00:00.000000Z",
                "signature": base64.b64encode(signature).decode(),
            }
            lines.append(json.dumps({"type": "checkpoint", **newest}, separators=(",", ":")))
    header: dict[str, object] = {
        "type": "header",
        "format": FORMAT,
        "public_key": base64.b64encode(raw).decode(),
        "key_id": "test",
        "organisation_id": 1,
        "requested_from": "",
        "requested_to": "",
        "exported_at": "2026-01-02T00:00:00.000000Z",
        "first_seq": 1,
        "last_seq": EVENTS,
        "events": EVENTS,
        "log_head_seq": EVENTS + TAIL,
        "tail_events": TAIL,
        "newest_checkpoint": newest,
    }
    header["signature"] = base64.b64encode(key.sign(header_message(header))).decode()
    return [json.dumps(header, separators=(",", ":")), *lines]


LINES = _export_lines()
FULL_TAIL = _export_lines(full_tail=TAIL)
# Line indexes (0 is the header) of some events, redacted events, tail lines, checkpoints.
EVENT_AT = [i for i, x in enumerate(LINES) if x.startswith('{"hash"')]
REDACTED_AT = [i for i, x in enumerate(LINES) if x.startswith('{"type":"redacted"')]
TAIL_AT = [i for i, x in enumerate(LINES) if x.startswith('{"type":"tail"')]
CHECKPOINT_AT = [i for i, x in enumerate(LINES) if x.startswith('{"type":"checkpoint"')]


def _edit(i: int, old: str, new: str) -> Callable[[list[str]], None]:
    def edit(lines: list[str]) -> None:
        assert old in lines[i]
        lines[i] = lines[i].replace(old, new, 1)

    return edit


def _delete(i: int) -> Callable[[list[str]], None]:
    return lambda lines: lines.pop(i) and None


def _swap(i: int) -> Callable[[list[str]], None]:
    def swap(lines: list[str]) -> None:
        lines[i], lines[i + 1] = lines[i + 1], lines[i]

    return swap


def _cut(n: int) -> Callable[[list[str]], None]:
    def cut(lines: list[str]) -> None:
        del lines[-n:]

    return cut


def _repeat(i: int) -> Callable[[list[str]], None]:
    return lambda lines: lines.insert(i, lines[i])


def _full_tail(n: int) -> Callable[[list[str]], None]:
    """The first ``n`` lines of the tail written as the period's full lines."""

    def edit(lines: list[str]) -> None:
        lines[TAIL_AT[0] : TAIL_AT[0] + n] = FULL_TAIL[TAIL_AT[0] : TAIL_AT[0] + n]

    return edit


def _digit(i: int) -> Callable[[list[str]], None]:
    """Alter the first digit after the 64-hex hash or digest of line ``i``."""

    def edit(lines: list[str]) -> None:
        at = lines[i].index(":") + 3  # inside the first hex value
        old = lines[i][at]
        lines[i] = lines[i][:at] + ("0" if old != "0" else "1") + lines[i][at + 1 :]

    return edit


TAMPERINGS: dict[str, Callable[[list[str]], None] | None] = {
    "intact": None,
    "an event's content, early": _edit(EVENT_AT[3], '"c', '"x'),
    "an event's content, late": _edit(EVENT_AT[-5], '"c', '"x'),
    "an event's stored hash": _digit(EVENT_AT[60]),
    "a redacted digest": _digit(REDACTED_AT[12]),
    "a tail digest": _digit(TAIL_AT[10]),
    "an event deleted": _delete(EVENT_AT[70]),
    "an event repeated": _repeat(EVENT_AT[50]),
    "two events swapped": _swap(EVENT_AT[40]),
    "a checkpoint deleted": _delete(CHECKPOINT_AT[9]),
    "a checkpoint repeated": _repeat(CHECKPOINT_AT[8]),
    "a checkpoint's signature": _edit(CHECKPOINT_AT[10], '"signature":"', '"signature":"A'),
    "a checkpoint's hash": _digit(CHECKPOINT_AT[11]),
    "a checkpoint moved after the next event": _swap(CHECKPOINT_AT[7]),
    "the period's last checkpoint deleted": _delete(TAIL_AT[0] - 1),
    "a tail line turned into a redacted line": _edit(TAIL_AT[5], '"tail"', '"redacted"'),
    "a redacted line turned into a tail line": _edit(REDACTED_AT[-1], '"redacted"', '"tail"'),
    "the last line cut": _cut(1),
    "the tail cut": _cut(len(LINES) - TAIL_AT[0]),
    "half the file cut": _cut(len(LINES) // 2),
    "the tail's first events as full event lines, to a checkpoint": _full_tail(7),
    "the tail's first events as full event lines, across a checkpoint": _full_tail(10),
    "every tail event as a full event line": _full_tail(TAIL + TAIL // EVERY + 1),
    "a line that is no JSON": _edit(CHECKPOINT_AT[6], "{", "["),
    "an unknown line": _edit(CHECKPOINT_AT[5], '"checkpoint"', '"note"'),
}

# A checkpoint is a signed statement about the chain; one fewer, or the same one twice,
# leaves a valid export.
STILL_VALID = {"intact", "a checkpoint deleted", "a checkpoint repeated"}


def _outcome(path: Path, min_part_bytes: int) -> str:
    try:
        return str(verifier.verify(path, None, min_part_bytes=min_part_bytes).summary)
    except verifier.Problem as problem:
        return f"FAIL: {problem}"


@pytest.mark.parametrize("tampering", TAMPERINGS)
@pytest.mark.parametrize("cores", [2, 4, 64])  # 64: a part after nearly every checkpoint
def test_verifying_in_parts_finds_what_one_walk_finds(
    tampering: str, cores: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = list(LINES)
    change = TAMPERINGS[tampering]
    if change is not None:
        change(lines)
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(verifier, "_parts_wanted", lambda: cores)
    with path.open("rb") as fh:
        fh.readline()
        body = fh.tell()
        size = path.stat().st_size
        points = verifier._split_points(fh, body, size, cores, 0)
        assert len(points) == min(cores - 1, len(CHECKPOINT_AT) - 1) if cores < 64 else points
    whole = _outcome(path, min_part_bytes=size)  # one part: the file is smaller
    in_parts = _outcome(path, min_part_bytes=0)
    assert in_parts == whole
    assert whole.startswith("OK") == (tampering in STILL_VALID), whole


def test_the_intact_export_verifies_with_every_count(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    summary = _outcome(path, min_part_bytes=0)
    assert summary.startswith(f"OK: {EVENTS} events (seq 1..{EVENTS}), 24 redacted"), summary
    assert f"tail of {TAIL} events" in summary

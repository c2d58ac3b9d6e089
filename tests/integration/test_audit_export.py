"""Export a period of the audit log and check it with the stand-alone audit/verify.py: an
untouched export verifies; an edited, deleted, inserted or reordered line, a cut-off tail,
a forged signature, an event edited with every later hash recomputed, a fake checkpoint
line, a moved anchor or another key are each reported, naming the line and the event.
Also the retention purge: whole segments go and what remains still verifies."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
)

from consent_service.audit.catalogue import default_event_catalogue
from consent_service.audit.chain import link
from consent_service.audit.checkpoints import sign_head
from consent_service.audit.recorder import SYSTEM, Actor
from consent_service.audit.retention import purge_expired
from consent_service.audit.service import verify_chain
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.oversight.export import export_range
from tests.conftest import ORIGIN

VERIFY = Path(__file__).resolve().parents[2] / "audit" / "verify.py"
DAY1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _events(ctx: AppContext, clock: FixedClock, n: int, action: str = "citizen.read") -> None:
    actor = Actor(user_id=1, username="nav1", organisation_id=1, source_ip="10.0.0.1")
    with session_scope(ctx.sessions) as session:
        for i in range(n):
            ctx.audit.record(
                session, actor, action=action, outcome="success",
                resource_type="citizen", resource_id=f"c{i}", details={"purpose": "test æøå"},
            )  # fmt: skip
            clock.advance(timedelta(minutes=10))


def _checkpoint(ctx: AppContext) -> None:
    with session_scope(ctx.sessions) as session:
        sign_head(session, ctx.crypto, ctx.clock, ctx.audit, SYSTEM, "interval", origin=ORIGIN)


def _export(ctx: AppContext, start: datetime, end: datetime) -> str:
    out = io.StringIO()
    with session_scope(ctx.sessions) as session:
        export_range(
            session, ctx.crypto, ctx.clock, ctx.audit, SYSTEM, start, end, out, origin=ORIGIN
        )
    return out.getvalue()


def _run(path: Path, key: Path | None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, str(VERIFY), str(path)] + (["--public-key", str(key)] if key else [])
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def exported(ctx: AppContext, clock: FixedClock, tmp_path: Path) -> tuple[list[str], Path]:
    """A log with checkpoints before, inside and after the exported day."""
    clock.set(DAY1)
    _events(ctx, clock, 5)
    _checkpoint(ctx)  # the anchor for a later export
    clock.set(DAY1 + timedelta(days=1))
    _events(ctx, clock, 4)
    _checkpoint(ctx)
    _events(ctx, clock, 3)
    clock.set(DAY1 + timedelta(days=2))
    _events(ctx, clock, 2)
    text = _export(ctx, DAY1 + timedelta(days=1), DAY1 + timedelta(days=2))
    key = tmp_path / "key.pem"
    key.write_text(ctx.crypto.public_key_pem())
    return text.splitlines(keepends=True), key


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "export.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_an_untouched_export_verifies(exported: tuple[list[str], Path], tmp_path: Path) -> None:
    lines, key = exported
    kinds = [json.loads(line).get("type", "event") for line in lines]
    # header, the anchor, the day's events with the checkpoint inside, a closing checkpoint,
    assert kinds[:2] == ["header", "checkpoint"]
    # from right after the anchor (event 5): its own audit event 6, the day's 7..14
    assert kinds.count("event") == 9
    # the tail: the next day's two events (15, 16) as digests, then the head's checkpoint
    assert kinds[-3:] == ["tail", "tail", "checkpoint"]
    assert json.loads(lines[0])["tail_events"] == 2
    result = _run(_write(tmp_path, lines), key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(
        "OK: 9 events (seq 6..14), 3 checkpoints, tail of 2 events to the log's head as "
        "digests (1 checkpoints), log head 16, newest checkpoint 16"
    )
    without_key = _run(_write(tmp_path, lines), None)
    assert without_key.returncode == 0
    assert "compare the key id" in without_key.stdout


def _event_lines(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if line.startswith('{"hash"')]


def _checkpoint_lines(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if '"type":"checkpoint"' in line]


Tampered = tuple[list[str], int]  # the lines and the (1-based) line the report must name


def _edit_byte(lines: list[str]) -> Tampered:
    # the resource id inside an event's canonical JSON; a bare "c2" could be part of a hash
    i = next(i for i, line in enumerate(lines) if line.startswith('{"hash"') and '"c2"' in line)
    edited = lines[i].replace('"c2"', '"c9"')
    assert edited != lines[i]
    return [*lines[:i], edited, *lines[i + 1 :]], i + 1


def _delete_event(lines: list[str]) -> Tampered:
    i = _event_lines(lines)[0]
    return [*lines[: i + 1], *lines[i + 2 :]], i + 2  # the second event goes


def _insert_copy(lines: list[str]) -> Tampered:
    i = _event_lines(lines)[0]
    return [*lines[: i + 1], lines[i], *lines[i + 1 :]], i + 2


def _swap(lines: list[str]) -> Tampered:
    i = _event_lines(lines)[0]
    return [*lines[:i], lines[i + 1], lines[i], *lines[i + 2 :]], i + 1


def _cut_tail(lines: list[str]) -> Tampered:
    return lines[:-3], len(lines) - 3


def _cut_to_inner_checkpoint(lines: list[str]) -> Tampered:
    inner = _checkpoint_lines(lines)[1]
    return lines[: inner + 1], inner + 1


def _forge_signature(lines: list[str]) -> Tampered:
    last = json.loads(lines[-1])
    last["signature"] = last["signature"][:-4] + (
        "AAA=" if last["signature"][-4:] != "AAA=" else "BBB="
    )
    return [*lines[:-1], json.dumps(last, separators=(",", ":")) + "\n"], len(lines)


def _edit_header(lines: list[str]) -> Tampered:
    header = json.loads(lines[0])
    header["events"] = header["events"] - 1
    return [json.dumps(header, separators=(",", ":")) + "\n", *lines[1:]], 1


def _edit_tail_digest(lines: list[str]) -> Tampered:
    """A digest in the tail (events after the period) changed: the head's checkpoint tells."""
    i = next(i for i, line in enumerate(lines) if line.startswith('{"type":"tail"'))
    at = len('{"type":"tail","digest":"')
    flipped = "0" if lines[i][at] != "0" else "1"
    return [*lines[:i], lines[i][:at] + flipped + lines[i][at + 1 :], *lines[i + 1 :]], len(lines)


def _tail_as_event(lines: list[str]) -> Tampered:
    """An event line where the tail begins: the tail holds digests only."""
    i = next(i for i, line in enumerate(lines) if line.startswith('{"type":"tail"'))
    return [*lines[:i], lines[_event_lines(lines)[-1]], *lines[i:]], i + 1


def _drop_anchor(lines: list[str]) -> Tampered:
    return [lines[0], *lines[2:]], 2


def _rehash(line: str, prev: str) -> tuple[str, str]:
    """An event line with its hash recomputed after ``prev``, as a forger would."""
    content = line[len('{"hash":"') + 64 + len('","event":') : -2]
    new = link(prev, hashlib.sha256(content.encode()).hexdigest())
    return '{"hash":"' + new + '","event":' + content + "}\n", new


def _edit_and_rehash_the_rest(lines: list[str]) -> Tampered:
    """Edit one event and recompute every later hash: only a signature can tell."""
    out = list(lines)
    events = _event_lines(lines)
    prev = json.loads(lines[events[0]])["hash"]
    for n, i in enumerate(events[1:]):
        line = out[i].replace('"success"', '"failure"') if n == 0 else out[i]
        out[i], prev = _rehash(line, prev)
    first_checkpoint_after = next(c for c in _checkpoint_lines(lines) if c > events[1])
    return out, first_checkpoint_after + 1


def _fake_checkpoint(lines: list[str]) -> Tampered:
    """A checkpoint line for an event that has none, with a signature of another one."""
    i = _event_lines(lines)[0]
    event = json.loads(lines[i])
    real = json.loads(lines[_checkpoint_lines(lines)[0]])
    fake = {**real, "seq": event["event"]["seq"], "hash": event["hash"]}
    return [*lines[: i + 1], json.dumps(fake, separators=(",", ":")) + "\n", *lines[i + 1 :]], i + 2


def _fake_anchor(lines: list[str]) -> Tampered:
    """An anchor moved back, as a fake purge would make it: an earlier start, same signature."""
    anchor = json.loads(lines[1])
    fake = {**anchor, "seq": anchor["seq"] - 1}
    return [lines[0], json.dumps(fake, separators=(",", ":")) + "\n", *lines[2:]], 2


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (_edit_byte, "altered: event 9's hash"),
        (_delete_event, "missing: expected event 7, found 8"),
        (_insert_copy, "reordered or repeated: expected event 7, found 6"),
        (_swap, "missing: expected event 6, found 7"),
        (_cut_tail, "truncated"),
        (_cut_to_inner_checkpoint, "truncated"),
        # the last line: the head's checkpoint, after the tail (events 15, 16)
        (_forge_signature, "checkpoint 16: signature does not verify"),
        (_edit_header, "header"),
        (
            _edit_tail_digest,
            "checkpoint 16 does not match event 16: a redacted or tail digest "
            "since line 14 was altered",
        ),
        (_tail_as_event, "reordered or repeated: expected event 15, found 14"),
        (_drop_anchor, "event 6 is not anchored"),
        (_edit_and_rehash_the_rest, "checkpoint 10 does not match event 10"),
        (_fake_checkpoint, "checkpoint 6: signature does not verify"),
        (_fake_anchor, "checkpoint 4: signature does not verify"),
    ],
)
def test_a_tampered_export_fails(
    exported: tuple[list[str], Path],
    tmp_path: Path,
    tamper: Callable[[list[str]], Tampered],
    expected: str,
) -> None:
    lines, key = exported
    tampered, place = tamper(lines)
    result = _run(_write(tmp_path, tampered), key)
    assert result.returncode == 1, result.stdout
    assert result.stdout.startswith(f"FAIL: line {place}: "), result.stdout
    assert expected in result.stdout


def test_another_key_is_refused(exported: tuple[list[str], Path], tmp_path: Path) -> None:
    lines, _ = exported
    other = tmp_path / "other.pem"
    other.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    result = _run(_write(tmp_path, lines), other)
    assert result.returncode == 1
    assert "another key" in result.stdout


def test_unreadable_input_is_a_usage_error(tmp_path: Path) -> None:
    result = _run(tmp_path / "missing.jsonl", None)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_an_export_from_the_first_event_needs_no_anchor(
    ctx: AppContext, clock: FixedClock, tmp_path: Path
) -> None:
    clock.set(DAY1)
    _events(ctx, clock, 3)
    text = _export(ctx, DAY1, DAY1 + timedelta(days=1))
    result = _run(_write(tmp_path, text.splitlines(keepends=True)), None)
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("OK: 3 events (seq 1..3), 1 checkpoints")


def test_purge_removes_whole_expired_segments_and_the_rest_verifies(
    ctx: AppContext, clock: FixedClock, tmp_path: Path
) -> None:
    deadline = default_event_catalogue().retention_deadline
    # On PostgreSQL the database clock decides what is old enough: record in the past.
    postgres = ctx.engine.dialect.name == "postgresql"
    day1 = datetime.now(UTC) - timedelta(days=200) if postgres else DAY1
    clock.set(day1)
    _events(ctx, clock, 4)  # access events: 6 months
    _checkpoint(ctx)  # segment 1 ends at event 4
    _events(ctx, clock, 2, action="consent.recorded")  # consent evidence: years
    _checkpoint(ctx)  # segment 2 ends at event 7 (the checkpoint event is 5)
    _events(ctx, clock, 2)
    _checkpoint(ctx)

    if not postgres:
        clock.set(day1 + timedelta(days=100))
        with session_scope(ctx.sessions) as session:
            plan = purge_expired(session, ctx.clock, ctx.audit, SYSTEM, deadline, dry_run=True)
        assert plan.up_to_seq is None  # nothing is six months old yet

    clock.set(day1 + timedelta(days=200))
    with session_scope(ctx.sessions) as session:
        dry = purge_expired(session, ctx.clock, ctx.audit, SYSTEM, deadline, dry_run=True)
        assert (dry.up_to_seq, dry.events, dry.segments) == (4, 4, 1)  # segment 2 holds consents
    with session_scope(ctx.sessions) as session:
        done = purge_expired(session, ctx.clock, ctx.audit, SYSTEM, deadline)
    assert done.up_to_seq == 4
    with ctx.sessions() as session:
        result = verify_chain(session, ctx.crypto.public_key)
    assert result.intact, result.problems
    assert result.events > 0
    # An export of what remains still verifies from the purge checkpoint.
    text = _export(ctx, day1, day1 + timedelta(days=201))
    result = _run(_write(tmp_path, text.splitlines(keepends=True)), None)
    assert result.returncode == 0, result.stdout
    assert "seq 5.." in result.stdout

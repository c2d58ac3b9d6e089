"""audit/verify.py checks long runs of event lines in bulk (``_event_run``) and walks the
rest line by line. The bulk check must accept exactly what the line-by-line walk accepts,
and whatever it does not accept is walked line by line, so the output is the same: the
same summary and hashes, or the same first problem at the same line. Exports with long
runs of events, intact and tampered with (also with every later hash recomputed and every
checkpoint signed again, which leaves only the checks besides the hashes to catch it), are
verified in bulk, line by line and in parts."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from consent_service.audit.checkpoints import checkpoint_message
from consent_service.oversight.export import FORMAT, header_message
from tests.unit.test_verify_parts import verifier  # the stand-alone verify.py, loaded once

ORIGIN = "test.example/audit"
EVENTS, TAIL, EVERY = 300, 40, 50  # the period, the tail, a checkpoint every EVERY events
# Other organisations' events, as digests: the first ever, and runs between checkpoints.
REDACTED = frozenset(range(1, 21)) | frozenset(range(61, 100)) | frozenset(range(251, 290))


Content = Callable[[int, bytes], bytes]


def _content(seq: int) -> bytes:
    record = {
        "action": "citizen.read",
        "actor_user_id": seq % 3,
        "actor_username": f"user{seq % 3} æøå",
        "details": json.dumps({"path": "/borgere/x"}, separators=(",", ":")),
        "occurred_at": f"2026-01-01T00:{seq // 60 % 60:02d}:{seq % 60:02d}.000000Z",
        "organisation_id": 1,
        "outcome": "success",
        "reason": None,
        "request_id": f"r{seq}",
        "resource_id": f"c{seq}",
        "resource_type": "citizen",
        "seq": seq,
        "source_ip": f"10.0.0.{seq % 250}",
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _export(first: int = 1, change: Content | None = None, full_tail: int = 0) -> list[bytes]:
    """An export of events ``first``..EVENTS (anchored at ``first - 1``) and a tail to
    EVENTS + TAIL; ``change`` rewrites an event's content before it is hashed, and the
    chain and every checkpoint follow it (what whoever holds the signing key can do);
    the tail's first ``full_tail`` events as full event lines (no service writes that)."""
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))  # deterministic signatures
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    prev, lines, newest = bytes(32), [], {}
    for seq in range(1, EVENTS + TAIL + 1):
        content = _content(seq)
        if change is not None:
            content = change(seq, content)
        digest = hashlib.sha256(content).digest()
        prev = hashlib.sha256(prev + digest).digest()
        if seq > EVENTS + full_tail:
            lines.append(b'{"type":"tail","digest":"%s","seq":%d}' % (digest.hex().encode(), seq))
        elif seq >= first and seq in REDACTED:
            line = b'{"type":"redacted","digest":"%s","seq":%d}' % (digest.hex().encode(), seq)
            lines.append(line)
        elif seq >= first:
            lines.append(b'{"hash":"%s","event":%s}' % (prev.hex().encode(), content))
        if seq % EVERY == 0 or seq in (first - 1, EVENTS, EVENTS + TAIL):
            signature = key.sign(checkpoint_message(ORIGIN, seq, prev.hex()))
            newest = {
                "origin": ORIGIN,
                "seq": seq,
                "hash": prev.hex(),
                "signed_at": "2026-01-02T00:00:00.000000Z",
                "signature": base64.b64encode(signature).decode(),
            }
            if seq >= first - 1:
                checkpoint = json.dumps({"type": "checkpoint", **newest}, separators=(",", ":"))
                lines.append(checkpoint.encode())
    header: dict[str, object] = {
        "type": "header",
        "format": FORMAT,
        "public_key": base64.b64encode(raw).decode(),
        "key_id": "test",
        "organisation_id": None,
        "requested_from": "",
        "requested_to": "",
        "exported_at": "2026-01-02T00:00:00.000000Z",
        "first_seq": first,
        "last_seq": EVENTS,
        "events": EVENTS - first + 1,
        "log_head_seq": EVENTS + TAIL,
        "tail_events": TAIL,
        "newest_checkpoint": newest,
    }
    header["signature"] = base64.b64encode(key.sign(header_message(header))).decode()
    return [json.dumps(header, separators=(",", ":")).encode(), *lines]


def _at(lines: list[bytes], seq: int) -> int:
    """The index of event ``seq``'s line."""
    return next(
        i for i, x in enumerate(lines) if x.startswith(b'{"hash"') and b'"seq":%d,' % seq in x
    )


def _rehashed(event: int, old: bytes, new: bytes) -> Callable[[list[bytes]], list[bytes]]:
    def change(seq: int, content: bytes) -> bytes:
        if seq != event:
            return content
        assert old in content
        return content.replace(old, new, 1)

    return lambda lines: _export(change=change)


def _line(seq: int, old: bytes, new: bytes) -> Callable[[list[bytes]], list[bytes]]:
    def edit(lines: list[bytes]) -> list[bytes]:
        i = _at(lines, seq)
        assert old in lines[i]
        lines[i] = lines[i].replace(old, new, 1)
        return lines

    return edit


def _first_event(old: bytes, new: bytes) -> Callable[[list[bytes]], list[bytes]]:
    def edit(lines: list[bytes]) -> list[bytes]:
        i = next(i for i, x in enumerate(lines) if x.startswith(b'{"hash"'))
        lines[i] = lines[i].replace(old, new, 1)
        return lines

    return edit


def _typed(lines: list[bytes], kind: bytes, seq: int) -> int:
    """The index of the redacted or tail line (``kind``) of event ``seq``."""
    start, number = b'{"type":"%s"' % kind, b'"seq":%d}' % seq
    return next(i for i, x in enumerate(lines) if x.startswith(start) and number in x)


def _typed_edit(
    kind: bytes, seq: int, old: bytes, new: bytes
) -> Callable[[list[bytes]], list[bytes]]:
    def edit(lines: list[bytes]) -> list[bytes]:
        i = _typed(lines, kind, seq)
        assert old in lines[i]
        lines[i] = lines[i].replace(old, new, 1)
        return lines

    return edit


def _typed_digest(kind: bytes, seq: int, upper: bool) -> Callable[[list[bytes]], list[bytes]]:
    def edit(lines: list[bytes]) -> list[bytes]:
        i = _typed(lines, kind, seq)
        at = lines[i].index(b'"digest":"') + 10
        digest = lines[i][at : at + 64]
        new = digest.upper() if upper else (b"0" if digest[:1] != b"0" else b"1") + digest[1:]
        lines[i] = lines[i][:at] + new + lines[i][at + 64 :]
        return lines

    return edit


def _typed_deleted(kind: bytes, seq: int) -> Callable[[list[bytes]], list[bytes]]:
    def edit(lines: list[bytes]) -> list[bytes]:
        del lines[_typed(lines, kind, seq)]
        return lines

    return edit


def _typed_repeated(kind: bytes, seq: int) -> Callable[[list[bytes]], list[bytes]]:
    def edit(lines: list[bytes]) -> list[bytes]:
        i = _typed(lines, kind, seq)
        lines.insert(i, lines[i])
        return lines

    return edit


def _hash_case(seq: int) -> Callable[[list[bytes]], list[bytes]]:
    def edit(lines: list[bytes]) -> list[bytes]:
        i = _at(lines, seq)
        lines[i] = lines[i][:9] + lines[i][9:73].upper() + lines[i][73:]
        return lines

    return edit


def _moved(seq: int, by: int) -> Callable[[list[bytes]], list[bytes]]:
    def edit(lines: list[bytes]) -> list[bytes]:
        i = _at(lines, seq)
        lines.insert(i + by, lines.pop(i))
        return lines

    return edit


def _deleted(seq: int) -> Callable[[list[bytes]], list[bytes]]:
    def edit(lines: list[bytes]) -> list[bytes]:
        del lines[_at(lines, seq)]
        return lines

    return edit


def _repeated(seq: int) -> Callable[[list[bytes]], list[bytes]]:
    def edit(lines: list[bytes]) -> list[bytes]:
        i = _at(lines, seq)
        lines.insert(i, lines[i])
        return lines

    return edit


def _inserted(seq: int, line: bytes) -> Callable[[list[bytes]], list[bytes]]:
    def edit(lines: list[bytes]) -> list[bytes]:
        lines.insert(_at(lines, seq), line)
        return lines

    return edit


def _tail_as_events(lines: list[bytes]) -> list[bytes]:
    return _export(full_tail=TAIL // 2)


TAMPERINGS: dict[str, Callable[[list[bytes]], list[bytes]] | None] = {
    "intact": None,
    "an event's content": _line(120, b'"c120"', b'"x120"'),
    "the first event's content": _first_event(b'"resource_id":"c', b'"resource_id":"x'),
    "an event's stored hash in upper case": _hash_case(130),
    "an event's stored hash not hex": _line(140, b'{"hash":"', b'{"hash":"g'),
    "an event's middle": _line(150, b'","event":', b'","evenT":'),
    "an event's closing brace": _line(160, b"}}", b"} "),
    "an event line ending in CR": _line(161, b"}}", b"}}\r"),
    "an event deleted": _deleted(170),
    "an event repeated": _repeated(180),
    "two events swapped": _moved(190, 1),
    "an event moved far": _moved(191, 20),
    "a blank line among events": _inserted(200, b""),
    "a redacted line among events": _inserted(
        210, b'{"type":"redacted","digest":"%s","seq":210}' % (b"0" * 64)
    ),
    "the tail's first events as full event lines": _tail_as_events,
    "a redacted digest": _typed_digest(b"redacted", 80, upper=False),
    "a redacted digest, the first event ever": _typed_digest(b"redacted", 5, upper=False),
    "a redacted digest in upper case": _typed_digest(b"redacted", 81, upper=True),
    "a redacted number": _typed_edit(b"redacted", 82, b'"seq":82}', b'"seq":83}'),
    "a redacted number not a number": _typed_edit(b"redacted", 82, b'"seq":82}', b'"seq":x}'),
    "a redacted line deleted": _typed_deleted(b"redacted", 83),
    "a redacted line repeated": _typed_repeated(b"redacted", 84),
    "a redacted line turned into a tail line": _typed_edit(b"redacted", 85, b"redacted", b"tail"),
    "a redacted line's closing brace": _typed_edit(b"redacted", 86, b"}", b" "),
    "a tail digest": _typed_digest(b"tail", 310, upper=False),
    "a tail digest in upper case": _typed_digest(b"tail", 311, upper=True),
    "a tail number": _typed_edit(b"tail", 312, b'"seq":312}', b'"seq":313}'),
    "a tail line deleted": _typed_deleted(b"tail", 313),
    "a tail line repeated": _typed_repeated(b"tail", 314),
    "a tail line turned into a redacted line": _typed_edit(b"tail", 315, b"tail", b"redacted"),
    "the first tail line's number": _typed_edit(b"tail", 301, b'"seq":301}', b'"seq":302}'),
    # ... which the walk accepts:
    "a redacted number with a leading zero": _typed_edit(
        b"redacted", 87, b'"seq":87}', b'"seq":087}'
    ),
    "a tail number with a space": _typed_edit(b"tail", 316, b'"seq":316}', b'"seq":316 }'),
    # Every hash recomputed, every checkpoint signed again:
    "rehashed: a number one too high": _rehashed(220, b'"seq":220,', b'"seq":221,'),
    "rehashed: a number repeated": _rehashed(221, b'"seq":221,', b'"seq":220,'),
    "rehashed: no number": _rehashed(222, b'"seq":222,', b""),
    "rehashed: a number after the last key": _rehashed(
        223, b'"source_ip":"10.0.0.223"}', b'"source_ip":"10.0.0.223","seq":9}'
    ),
    "rehashed: a number not a number": _rehashed(224, b'"seq":224,', b'"seq":x,'),
    # ... and some the walk accepts, as the bulk check must too (by walking them):
    "rehashed: a number with a leading zero": _rehashed(230, b'"seq":230,', b'"seq":0230,'),
    "rehashed: a number with a space": _rehashed(231, b'"seq":231,', b'"seq":231 ,'),
    "rehashed: a number with an underscore": _rehashed(232, b'"seq":232,', b'"seq":2_32,'),
    "rehashed: another number before": _rehashed(233, b'{"action"', b'{"seq":1,"action"'),
    "rehashed: a second comma after the number": _rehashed(234, b'"seq":234,', b'"seq":234,,'),
}
STILL_VALID = {
    "intact",
    "a redacted number with a leading zero",
    "a tail number with a space",
    "rehashed: a number with a leading zero",
    "rehashed: a number with a space",
    "rehashed: a number with an underscore",
    "rehashed: another number before",
    "rehashed: a second comma after the number",
}


def _outcome(path: Path, wanted: frozenset[int], min_part_bytes: int) -> str:
    try:
        verified = verifier.verify(path, None, wanted, min_part_bytes=min_part_bytes)
    except verifier.Problem as problem:
        return f"FAIL: {problem}"
    hashes = sorted((size, raw.hex()) for size, raw in verified.hashes.items())
    return f"{verified.summary} {hashes}"


@pytest.mark.parametrize("first", [1, 101])  # from the first event ever; from an anchor
@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_bulk_checks_find_what_the_walk_line_by_line_finds(
    tampering: str, first: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    change = TAMPERINGS[tampering]
    lines = _export(first)
    if change is not None:
        if first != 1 and tampering.startswith(("rehashed", "the tail's", "a redacted")):
            pytest.skip("made from the whole export")
        lines = change(lines)
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    wanted = frozenset({0, first - 1, first + 10, 150, 299, EVENTS, EVENTS + 5, EVENTS + TAIL})
    size = path.stat().st_size
    monkeypatch.setattr(verifier, "_parts_wanted", lambda: 4)
    in_bulk = _outcome(path, wanted, size)
    in_parts = _outcome(path, wanted, 0)
    monkeypatch.setattr(verifier, "BLOCK_BYTES", 4096)  # runs cut by the reads
    in_small_reads = _outcome(path, wanted, 0)
    monkeypatch.setattr(verifier, "RUN_MIN", 10**9)  # every line walked one by one
    line_by_line = _outcome(path, wanted, size)
    assert in_bulk == line_by_line
    assert in_parts == line_by_line
    assert in_small_reads == line_by_line
    assert line_by_line.startswith("OK") == (tampering in STILL_VALID), line_by_line


def test_long_runs_are_checked_in_bulk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without this the test above could pass with the bulk check never used."""
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"\n".join(_export()) + b"\n")
    accepted: list[int] = []
    event_run, digest_run = verifier._event_run, verifier._digest_run

    def events(lines: list[bytes], prev: bytes, expected_seq: int) -> list[bytes] | None:
        chained = event_run(lines, prev, expected_seq)
        accepted.append(len(lines) if chained is not None else 0)
        return chained

    def digests(lines: list[bytes], prev: bytes, seq: int, start: bytes) -> list[bytes] | None:
        chained = digest_run(lines, prev, seq, start)
        accepted.append(len(lines) if chained is not None else 0)
        return chained

    monkeypatch.setattr(verifier, "_event_run", events)
    monkeypatch.setattr(verifier, "_digest_run", digests)
    summary = verifier.verify(path, None, min_part_bytes=path.stat().st_size).summary
    assert summary.startswith(f"OK: {EVENTS} events (seq 1..{EVENTS}), {len(REDACTED)} redacted")
    # Walked line by line: events 51-60, 100 and 290-300 (runs shorter than RUN_MIN),
    # and the tail's first line.
    assert sum(accepted) == EVENTS + TAIL - 23


def test_the_last_line_without_a_newline(tmp_path: Path) -> None:
    """A checkpoint as the last line needs no newline, as before; an event line does."""
    lines = _export()
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"\n".join(lines))
    assert verifier.verify(path, None).summary.startswith("OK")
    cut = [x for x in lines[:-1] if not x.startswith(b'{"type":"tail"')]
    while not cut[-1].startswith(b'{"hash"'):
        cut.pop()
    path.write_bytes(b"\n".join(cut))
    with pytest.raises(verifier.Problem, match="malformed event line"):
        verifier.verify(path, None)

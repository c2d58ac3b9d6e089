"""Chain v2 in exports: an export for one organisation shows only its events (the others
as digests) and still verifies with audit/verify.py; the log broken in the database
behind the service's back (as a superuser, triggers off) gives an export that
audit/verify.py rejects, naming the line and the event; a database holding a v1 log is
refused by the migration to chain v2."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, select, text

from consent_service.audit.chain import event_hash
from consent_service.audit.checkpoints import sign_head
from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import SYSTEM, Actor, as_record
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.migrations import alembic_config, upgrade
from consent_service.oversight.export import export_range
from consent_service.startup import StartupError
from tests import tamper
from tests.conftest import ORIGIN, Person, enrolled_person, owner_url

VERIFY = Path(__file__).resolve().parents[2] / "audit" / "verify.py"
DAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
AT = "2026-11-02 09:00:00.000000"  # a time as both engines store it from plain SQL


def _record(ctx: AppContext, clock: FixedClock, actor: Actor, resource: str, **kw: Any) -> None:
    with session_scope(ctx.sessions) as session:
        ctx.audit.record(
            session, actor, action="citizen.read", outcome="success",
            resource_type="citizen", resource_id=resource, **kw,
        )  # fmt: skip
    clock.advance(timedelta(minutes=5))


def _checkpoint(ctx: AppContext) -> int:
    with session_scope(ctx.sessions) as session:
        cp = sign_head(session, ctx.crypto, ctx.clock, ctx.audit, SYSTEM, "interval", origin=ORIGIN)
        assert cp is not None
        return cp.seq


def _export(ctx: AppContext, tmp_path: Path, organisation_id: int | None = None) -> Path:
    out = io.StringIO()
    with session_scope(ctx.sessions) as session:
        export_range(
            session, ctx.crypto, ctx.clock, ctx.audit, SYSTEM,
            DAY - timedelta(days=1), DAY + timedelta(days=30), out,
            organisation_id=organisation_id, origin=ORIGIN,
        )  # fmt: skip
    path = tmp_path / f"export-{organisation_id}.jsonl"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFY), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _actor(person: Person) -> Actor:
    return Actor(
        user_id=person.user_id,
        username=person.username,
        organisation_id=person.organisation_id,
        source_ip="10.0.0.9",
    )


# --- one organisation's export ----------------------------------------------------------------


@pytest.fixture
def two_organisations(ctx: AppContext, clock: FixedClock) -> tuple[Person, Person]:
    """Events of two organisations interleaved, a login step without an organisation by
    each one's user, and the log's own checkpoints (system events)."""
    clock.set(DAY)
    anna = enrolled_person(ctx, "navigator", "anna-midt", org_name="Region Midtjylland")
    bo = enrolled_person(ctx, "navigator", "bo-nord", org_name="Region Nordjylland")
    for i in range(3):
        _record(ctx, clock, _actor(anna), f"midt-citizen-{i}")
        _record(ctx, clock, _actor(bo), f"nord-citizen-{i}")
    _checkpoint(ctx)
    # a login step: no organisation on the event, the user's organisation decides
    _record(ctx, clock, _actor(bo), "nord-login", organisation_id=None)
    _record(ctx, clock, _actor(anna), "midt-citizen-3")
    return anna, bo


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_an_organisation_export_shows_its_events_only_and_verifies(
    ctx: AppContext, two_organisations: tuple[Person, Person], tmp_path: Path
) -> None:
    anna, bo = two_organisations
    midt = _export(ctx, tmp_path, anna.organisation_id)
    result = _verify(midt)
    assert result.returncode == 0, result.stdout
    assert f"for organisation {anna.organisation_id}" in result.stdout
    text_ = midt.read_text(encoding="utf-8")
    assert "bo-nord" not in text_
    assert "nord-citizen" not in text_
    assert "nord-login" not in text_
    lines = _lines(midt)
    assert lines[0]["organisation_id"] == anna.organisation_id
    shown = [line["event"] for line in lines if "event" in line]
    redacted = [line["seq"] for line in lines if line.get("type") == "redacted"]
    # Bo's three reads and his login step are digests; Anna's four reads and the log's own
    # checkpoint signings (system events) are shown.
    assert len(redacted) == 4
    assert sorted(e["resource_id"] for e in shown if e["action"] == "citizen.read") == [
        f"midt-citizen-{i}" for i in range(4)
    ]
    assert any(e["action"] == "audit.checkpoint_signed" for e in shown)
    assert f"{len(redacted)} redacted" in result.stdout

    nord = _export(ctx, tmp_path, bo.organisation_id)
    assert _verify(nord).returncode == 0
    assert "anna-midt" not in nord.read_text(encoding="utf-8")
    assert "midt-citizen" not in nord.read_text(encoding="utf-8")

    everything = _export(ctx, tmp_path, None)
    assert _verify(everything).returncode == 0
    assert "bo-nord" in everything.read_text(encoding="utf-8")
    assert not [line for line in _lines(everything) if line.get("type") == "redacted"]


def test_an_altered_redacted_digest_is_reported(
    ctx: AppContext, two_organisations: tuple[Person, Person], tmp_path: Path
) -> None:
    anna, _ = two_organisations
    path = _export(ctx, tmp_path, anna.organisation_id)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    i = next(i for i, line in enumerate(lines) if line.startswith('{"type":"redacted"'))
    at = len('{"type":"redacted","digest":"')
    flipped = "0" if lines[i][at] != "0" else "1"
    lines[i] = lines[i][:at] + flipped + lines[i][at + 1 :]
    path.write_text("".join(lines), encoding="utf-8")
    result = _verify(path)
    assert result.returncode == 1
    # reported at the next line whose hash is stated, naming the redacted line
    assert f"a redacted digest since line {i + 1} was altered" in result.stdout
    assert result.stdout.startswith(f"FAIL: line {i + 2}: ")

    # a redacted line dropped, or its seq changed, is a gap
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    del lines[i]
    path.write_text("".join(lines), encoding="utf-8")
    gap = _verify(path)
    assert gap.returncode == 1
    assert f"FAIL: line {i + 1}: missing" in gap.stdout


# --- the database broken behind the service's back ------------------------------------------


def _as_superuser(db_url: str, work: Callable[[Callable[..., Any]], None]) -> None:
    """Run ``work(execute)`` past the database's own guards (``tests.tamper.attacker``);
    ``execute(sql, **params)`` takes :name params."""
    with tamper.attacker(db_url) as conn:
        work(lambda sql, **params: conn.execute(text(sql), params))


@pytest.fixture
def log(ctx: AppContext, clock: FixedClock) -> list[int]:
    """Events 1..4, checkpoint at 4 (its signing is 5), events 6..9, checkpoint at 9 (10),
    events 11..12; returns the checkpoint seqs."""
    clock.set(DAY)
    actor = Actor(user_id=1, username="nav1", organisation_id=1)
    for i in range(4):
        _record(ctx, clock, actor, f"c{i}")
    first = _checkpoint(ctx)
    for i in range(4, 8):
        _record(ctx, clock, actor, f"c{i}")
    second = _checkpoint(ctx)
    for i in range(8, 10):
        _record(ctx, clock, actor, f"c{i}")
    assert (first, second) == (4, 9)
    return [first, second]


def _rehash_from(ctx: AppContext, seq: int) -> Callable[[Callable[..., Any]], None]:
    """Edit event ``seq`` and recompute its hash and every later one with the public
    definition: the forger's best, short of the signing key."""
    with ctx.sessions() as session:
        records = [
            as_record(e)
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.seq >= seq).order_by(AuditEvent.seq)
            )
        ]

    def work(execute: Callable[..., Any]) -> None:
        prev = records[0]["prev_hash"]
        records[0]["outcome"] = "failure"
        for record in records:
            record["prev_hash"] = prev
            record["hash"] = prev = event_hash(record)
            execute(
                "UPDATE audit_event SET outcome = :outcome, prev_hash = :prev_hash, "
                "hash = :hash WHERE seq = :seq",
                outcome=record["outcome"], prev_hash=record["prev_hash"],
                hash=record["hash"], seq=record["seq"],
            )  # fmt: skip

    return work


def _fake_checkpoint(ctx: AppContext, seq: int) -> Callable[[Callable[..., Any]], None]:
    """A checkpoint row for an event that has none, not signed by the service's key."""
    with ctx.sessions() as session:
        real_hash = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))

    def work(execute: Callable[..., Any]) -> None:
        execute(
            "INSERT INTO audit_checkpoint (origin, seq, hash, signed_at, key_id, signature, "
            "made_for) VALUES (:origin, :seq, :hash, :at, 'k', :sig, 'on_demand')",
            origin=ORIGIN, seq=seq, hash=real_hash, at=AT, sig="A" * 86 + "==",
        )  # fmt: skip

    return work


def _fake_purge(ctx: AppContext, up_to: int) -> Callable[[Callable[..., Any]], None]:
    """An unsigned checkpoint and a purge record pointing at it; the events up to it go."""
    with ctx.sessions() as session:
        real_hash = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == up_to))

    def work(execute: Callable[..., Any]) -> None:
        execute(
            "INSERT INTO audit_checkpoint (origin, seq, hash, signed_at, key_id, signature, "
            "made_for) VALUES (:origin, :seq, :hash, :at, 'k', :sig, 'interval')",
            origin=ORIGIN, seq=up_to, hash=real_hash, at=AT, sig="A" * 86 + "==",
        )  # fmt: skip
        execute(
            "INSERT INTO audit_purge (up_to_seq, events, removed_sha256, purged_at) "
            "VALUES (:seq, :seq, :sha, :at)",
            seq=up_to, sha="0" * 64, at=AT,
        )  # fmt: skip
        execute("DELETE FROM audit_event WHERE seq <= :seq", seq=up_to)

    return work


def _statements(*sql: str) -> Callable[[Callable[..., Any]], None]:
    def work(execute: Callable[..., Any]) -> None:
        for statement in sql:
            execute(statement)

    return work


CASES: dict[str, tuple[Callable[[AppContext], Callable[[Callable[..., Any]], None]], str, int]] = {
    # name: (the attack, what verify.py says, the line it names: 1 header, 2 anchor-less
    # first event ... counted in the export of the whole log)
    "edit": (
        lambda ctx: _statements("UPDATE audit_event SET resource_id = 'other' WHERE seq = 3"),
        "altered: event 3's hash",
        4,
    ),
    "delete-middle": (
        lambda ctx: _statements("DELETE FROM audit_event WHERE seq = 3"),
        "missing: expected event 3, found 4",
        4,
    ),
    "reorder": (
        lambda ctx: _statements(
            "UPDATE audit_event SET seq = 1000 WHERE seq = 2",
            "UPDATE audit_event SET seq = 2 WHERE seq = 3",
            "UPDATE audit_event SET seq = 3 WHERE seq = 1000",
        ),
        "altered: event 2's hash",
        3,
    ),
    # the first export signed its last event (12); events from 8 on go, checkpoints stay
    "cut-tail-across-a-checkpoint": (
        lambda ctx: _statements("DELETE FROM audit_event WHERE seq > 7"),
        "truncated after checkpoint 12: the log ended at event",
        1,
    ),
    "edit-and-rehash-the-rest": (
        lambda ctx: _rehash_from(ctx, 6),
        "checkpoint 9 does not match event 9",
        12,
    ),
    "fake-checkpoint": (
        lambda ctx: _fake_checkpoint(ctx, 6),
        "checkpoint 6: signature does not verify",
        9,
    ),
    "fake-purge": (
        lambda ctx: _fake_purge(ctx, 7),
        "checkpoint 7: signature does not verify",
        2,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_log_broken_in_the_database_gives_an_export_that_fails(
    ctx: AppContext, db_url: str, log: list[int], tmp_path: Path, case: str
) -> None:
    attack, expected, line = CASES[case]
    assert _verify(_export(ctx, tmp_path)).returncode == 0
    _as_superuser(db_url, attack(ctx))
    result = _verify(_export(ctx, tmp_path))
    assert result.returncode == 1, result.stdout
    assert result.stdout.startswith(f"FAIL: line {line}: "), result.stdout
    assert expected in result.stdout


# --- the migration to chain v2 ----------------------------------------------------------------


def test_the_migration_refuses_a_database_holding_a_v1_log(db_url: str) -> None:
    engine = create_engine(owner_url(db_url))  # migrations run as the owner
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_event (seq, occurred_at, action, outcome, details, prev_hash,"
                " hash) VALUES (1, CURRENT_TIMESTAMP, 'test', 'success', '{}', :p, :h)"
            ),
            {"p": "0" * 64, "h": "1" * 64},
        )
    with pytest.raises(StartupError, match="start from a fresh database"):
        upgrade(engine)
    with engine.connect() as conn:  # the log is as it was: nothing rewritten
        assert conn.execute(text("SELECT hash FROM audit_event")).scalars().all() == ["1" * 64]
    engine.dispose()

"""The service's own verification (`audit verify`, the DPO's button) trusts nothing in the
database it has not checked. Each way someone holding the database can break the log is
reported and named by its place; an untouched log and one after a legitimate purge
verify clean. The tampering is done as in tests/tamper.py: on a connection of its own,
past the triggers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from consent_service.audit import service
from consent_service.audit.catalogue import default_event_catalogue
from consent_service.audit.checkpoints import key_id, sign_head
from consent_service.audit.recorder import SYSTEM, Actor
from consent_service.audit.retention import purge_expired
from consent_service.audit.service import Verification, verify_chain
from consent_service.cli import main
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from tests import tamper
from tests.conftest import ORIGIN, enrolled_person, log_in


def _append(ctx: AppContext, n: int) -> None:
    """``n`` events of a type kept six months (audit/events.yaml), so a purge may take them."""
    with session_scope(ctx.sessions) as session:
        for i in range(n):
            ctx.audit.record(
                session,
                Actor(username="tester"),
                action="citizen.read",
                outcome="success",
                resource_type="thing",
                resource_id=str(i),
            )


def _sign(ctx: AppContext) -> None:
    with session_scope(ctx.sessions) as session:
        sign_head(session, ctx.crypto, ctx.clock, ctx.audit, SYSTEM, "on_demand", origin=ORIGIN)


def _verify(ctx: AppContext) -> Verification:
    with ctx.sessions() as session:
        return verify_chain(session, ctx.crypto.public_key)


def _messages(result: Verification) -> set[str]:
    return {str(p) for p in result.problems}


@pytest.fixture
def log(ctx: AppContext, clock: FixedClock) -> None:
    """Events 1-5, a signed checkpoint at 5 (its signing is event 6), events 7-10, a
    signed checkpoint at 10 (event 11), events 12-14; recorded 200 days ago, since on
    PostgreSQL the database's clock decides what a purge may take."""
    clock.set(datetime.now(UTC) - timedelta(days=200))
    _append(ctx, 5)
    _sign(ctx)
    clock.advance(timedelta(minutes=10))
    _append(ctx, 4)
    _sign(ctx)
    _append(ctx, 3)


@pytest.mark.usefixtures("log")
def test_an_untouched_log_verifies(ctx: AppContext) -> None:
    result = _verify(ctx)
    assert result.problems == ()
    assert (result.events, result.checkpoints, result.intact) == (14, 2, True)
    assert result.summary == "audit log intact: 14 events, 2 signed checkpoints verified"


@pytest.mark.usefixtures("log")
@pytest.mark.parametrize(
    ("statements", "seq", "reason"),
    [
        (["UPDATE audit_event SET outcome = 'deny' WHERE seq = 3"], 3, "altered"),
        (["UPDATE audit_event SET resource_id = 'other' WHERE seq = 12"], 12, "altered"),
        (["DELETE FROM audit_event WHERE seq = 8"], 9, "missing"),
        (
            [
                "UPDATE audit_event SET seq = 1000 WHERE seq = 3",
                "UPDATE audit_event SET seq = 3 WHERE seq = 4",
                "UPDATE audit_event SET seq = 4 WHERE seq = 1000",
            ],
            3,
            "broken link",
        ),
    ],
    ids=["edit", "edit-after-last-checkpoint", "delete-middle", "swap"],
)
def test_a_broken_link_is_reported_at_its_event(
    ctx: AppContext, db_url: str, statements: list[str], seq: int, reason: str
) -> None:
    tamper.run(db_url, *statements)
    result = _verify(ctx)
    assert not result.intact
    [problem] = result.problems
    assert (problem.kind, problem.seq, problem.reason) == ("chain", seq, reason)
    assert str(problem).startswith(f"event {seq}: {reason}: ")


@pytest.mark.usefixtures("log")
def test_a_tail_cut_across_a_signed_checkpoint_is_reported_as_truncated(
    ctx: AppContext, db_url: str
) -> None:
    tamper.delete_events(db_url, from_seq=10)  # the checkpoint's event and all after it
    result = _verify(ctx)
    assert _messages(result) == {"truncated after checkpoint 10 (the log ends at event 9)"}
    assert (result.events, result.problems[0].seq, result.problems[0].head) == (9, 10, 9)


@pytest.mark.usefixtures("log")
def test_an_edit_with_every_later_hash_recomputed_is_caught_by_the_signed_checkpoints(
    ctx: AppContext, db_url: str
) -> None:
    tamper.rewrite_from(db_url, 3, outcome="deny")
    result = _verify(ctx)
    # Every link holds again: only the signatures show it.
    assert {p.kind for p in result.problems} == {"checkpoint"}
    assert _messages(result) == {
        "event 5 differs from its signed checkpoint",
        "event 10 differs from its signed checkpoint",
    }


@pytest.mark.usefixtures("log")
@pytest.mark.parametrize("how", ["unsigned", "another-key", "another-key-claiming-ours"])
def test_a_fake_checkpoint_is_reported_and_not_trusted(
    ctx: AppContext, db_url: str, clock: FixedClock, how: str
) -> None:
    ours = key_id(ctx.crypto.public_key)
    other = Ed25519PrivateKey.generate()
    signer = None if how == "unsigned" else other
    claimed = None if how == "another-key" else ours
    hash_12 = tamper.event_hash_at(db_url, 12)
    tamper.insert_checkpoint(
        db_url, 12, hash_12, clock.now(), signer=signer, claimed_key_id=claimed
    )
    # A fake checkpoint beyond the end is not trusted either: no "truncated" follows.
    tamper.insert_checkpoint(
        db_url, 40, hash_12, clock.now(), signer=signer, claimed_key_id=claimed
    )
    result = _verify(ctx)
    assert _messages(result) == {
        "checkpoint at event 12: signature does not verify",
        "checkpoint at event 40: signature does not verify",
    }
    assert result.checkpoints == 4


@pytest.mark.usefixtures("log")
def test_a_checkpoint_naming_another_key_id_is_reported(
    ctx: AppContext, db_url: str, clock: FixedClock
) -> None:
    ours = Ed25519PrivateKey.from_private_bytes(ctx.settings.keys.signing)
    hash_12 = tamper.event_hash_at(db_url, 12)
    tamper.insert_checkpoint(db_url, 12, hash_12, clock.now(), signer=ours, claimed_key_id="f" * 64)
    result = _verify(ctx)
    assert _messages(result) == {"checkpoint at event 12: key id is not the service's key"}


@pytest.mark.usefixtures("log")
@pytest.mark.parametrize("up_to", [9, 14], ids=["below-a-checkpoint", "everything"])
def test_a_fake_purge_is_reported(
    ctx: AppContext, db_url: str, clock: FixedClock, up_to: int
) -> None:
    """An unsigned checkpoint, a purge record resting on it, and the events below gone:
    what the application's login could do before least privilege."""
    tamper.insert_checkpoint(
        db_url, up_to, tamper.event_hash_at(db_url, up_to), clock.now(),
        claimed_key_id=key_id(ctx.crypto.public_key),
    )  # fmt: skip
    purge = tamper.insert_purge(db_url, up_to, clock.now())
    tamper.delete_events(db_url, to_seq=up_to)
    result = _verify(ctx)
    expected = {
        f"checkpoint at event {up_to}: signature does not verify",
        f"purge {purge} (up to event {up_to}): no validly signed checkpoint at event {up_to}",
        f"purge {purge} (up to event {up_to}): no audit.purged event in the log confirms it",
    }
    if up_to == 9:
        expected |= {
            "the chain starts at event 10, but no signed purge record accounts for the "
            "events before it",
            "event 5 of signed checkpoint is missing",
        }
    else:
        expected |= {"truncated after checkpoint 10 (the log holds no events)"}
    assert _messages(result) == expected
    assert not any(p.kind == "chain" for p in result.problems)


@pytest.mark.usefixtures("log")
def test_an_early_purge_at_a_real_checkpoint_without_its_event_is_reported(
    ctx: AppContext, db_url: str, clock: FixedClock
) -> None:
    """The superuser's purge: a real signed checkpoint, a purge record, the events below
    deleted, but no audit.purged event, as no purge of the service's made it."""
    purge = tamper.insert_purge(db_url, 10, clock.now())
    tamper.delete_events(db_url, to_seq=10)
    result = _verify(ctx)
    assert _messages(result) == {
        f"purge {purge} (up to event 10): no audit.purged event in the log confirms it",
        "the chain starts at event 11, but no signed purge record accounts for the events "
        "before it",
        "event 5 of signed checkpoint is missing",
        "event 10 of signed checkpoint is missing",
    }
    start = next(p for p in result.problems if p.kind == "start")
    assert start.seq == 11
    assert next(p for p in result.problems if p.kind == "purge").purge_id == purge


def _purge_all_expired(ctx: AppContext, clock: FixedClock) -> int | None:
    """The service's own purge, by the catalogue's periods: the six-month segments of
    ``log`` (up to the checkpoint at 10) go; 11-14 were recorded after that checkpoint."""
    clock.set(datetime.now(UTC))
    with session_scope(ctx.sessions) as session:
        plan = purge_expired(
            session, ctx.clock, ctx.audit, SYSTEM, default_event_catalogue().retention_deadline
        )
    return plan.up_to_seq


@pytest.mark.usefixtures("log")
def test_a_log_after_a_legitimate_purge_verifies(ctx: AppContext, clock: FixedClock) -> None:
    assert _purge_all_expired(ctx, clock) == 10
    result = _verify(ctx)
    assert result.problems == ()
    assert (result.events, result.checkpoints) == (5, 2)  # 11-14 and audit.purged


@pytest.mark.usefixtures("log")
def test_a_purge_committed_during_the_walk_is_not_taken_for_tampering(
    ctx: AppContext, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL each statement reads its own snapshot: a purge that commits after the
    purge records were read but before the events are makes a gap the check must not
    report as tampering. (SQLite's verifying transaction sees one snapshot.)"""
    if ctx.engine.dialect.name != "postgresql":
        pytest.skip("SQLite reads the whole verification in one snapshot")
    real = service.iter_records
    purged: list[int | None] = []

    def purge_first(session: Session) -> Iterator[dict[str, Any]]:
        if not purged:
            purged.append(_purge_all_expired(ctx, clock))
        return real(session)

    monkeypatch.setattr(service, "iter_records", purge_first)
    result = _verify(ctx)
    assert purged == [10]
    assert result.problems == ()
    assert result.events == 5


@pytest.mark.usefixtures("log")
def test_removing_a_purges_own_event_is_reported(
    ctx: AppContext, db_url: str, clock: FixedClock
) -> None:
    assert _purge_all_expired(ctx, clock) == 10
    tamper.delete_events(db_url, from_seq=15)  # the audit.purged event, the log's head
    result = _verify(ctx)
    assert _messages(result) == {
        "purge 1 (up to event 10): no audit.purged event in the log confirms it",
        "the chain starts at event 11, but no signed purge record accounts for the events "
        "before it",
        "event 5 of signed checkpoint is missing",
        "event 10 of signed checkpoint is missing",
    }


@pytest.mark.usefixtures("log")
def test_a_purge_record_that_disagrees_with_its_event_is_reported(
    ctx: AppContext, db_url: str, clock: FixedClock
) -> None:
    assert _purge_all_expired(ctx, clock) == 10
    tamper.run(db_url, f"UPDATE audit_purge SET removed_sha256 = '{'a' * 64}'")
    result = _verify(ctx)
    assert _messages(result) == {
        "purge 1 (up to event 10): its audit.purged event 15 names other removed events",
        "the chain starts at event 11, but no signed purge record accounts for the events "
        "before it",
        "event 5 of signed checkpoint is missing",
        "event 10 of signed checkpoint is missing",
    }


@pytest.mark.usefixtures("log")
def test_a_purge_record_naming_another_hash_than_its_checkpoint_is_reported(
    ctx: AppContext, db_url: str, clock: FixedClock
) -> None:
    assert _purge_all_expired(ctx, clock) == 10
    tamper.run(db_url, f"UPDATE audit_purge SET up_to_hash = '{'b' * 64}'")
    result = _verify(ctx)
    assert _messages(result) == {
        "purge 1 (up to event 10): names another hash for event 10 than its signed checkpoint",
        "the chain starts at event 11, but no signed purge record accounts for the events "
        "before it",
        "event 5 of signed checkpoint is missing",
        "event 10 of signed checkpoint is missing",
    }


@pytest.mark.usefixtures("log")
def test_every_problem_is_reported_not_only_the_first(ctx: AppContext, db_url: str) -> None:
    tamper.run(db_url, "UPDATE audit_event SET outcome = 'deny' WHERE seq = 3")
    tamper.delete_events(db_url, from_seq=10)
    result = _verify(ctx)
    assert [(p.kind, p.seq) for p in result.problems] == [("chain", 3), ("truncated", 10)]
    assert result.summary == "audit log BROKEN: 2 problem(s) found in 9 events and 2 checkpoints"


@pytest.mark.usefixtures("log")
def test_the_command_reports_each_problem_and_fails(
    ctx: AppContext,
    db_url: str,
    tmp_path: Path,
    test_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CONSENT_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("CONSENT_DATABASE_URL", ctx.settings.database_url)
    for name, value in test_keys.items():
        monkeypatch.setenv(f"CONSENT_{name.upper()}", value)
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "audit log intact: 14 events, 2 signed checkpoints verified"
    ]
    tamper.delete_events(db_url, from_seq=10)
    assert main(["audit", "verify"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "audit log BROKEN: 1 problem(s) found in 9 events and 2 checkpoints",
        "  truncated after checkpoint 10 (the log ends at event 9)",
    ]


@pytest.mark.usefixtures("log")
def test_the_dpo_page_names_the_problem_in_danish(
    ctx: AppContext, db_url: str, clock: FixedClock
) -> None:
    from fastapi.testclient import TestClient

    from consent_service.app import create_app

    dpo = enrolled_person(ctx, "dpo")
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        token = log_in(client, dpo, clock)
        intact = client.post("/dpo/verificer", data={"csrf_token": token})
        assert intact.status_code == 200
        assert "Loggen er intakt:" in intact.text
        assert "hændelser, 2 signerede kontrolpunkter" in intact.text

        tamper.rewrite_from(db_url, 3, outcome="deny")
        broken = client.post("/dpo/verificer", data={"csrf_token": token})
    assert broken.status_code == 200
    assert "Loggen er ikke intakt." in broken.text
    assert "Hændelse 5 afviger fra sit signerede kontrolpunkt." in broken.text
    assert "Hændelse 10 afviger fra sit signerede kontrolpunkt." in broken.text
    assert "Loggen er intakt" not in broken.text

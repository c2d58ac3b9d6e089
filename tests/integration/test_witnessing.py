"""The worker hands every signed checkpoint to witnesses outside the database and mails
interval checkpoints to the DPO: with two real witness services on loopback ports, a
witness that is down and catches up, a log cut behind the witnesses' backs, the stale
witness alert on a moved clock, and the mail as the DPO's verifier reads it."""

from __future__ import annotations

import base64
import email
import email.policy
import itertools
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from consent_service.app import create_app
from consent_service.audit import witnessing
from consent_service.audit.checkpoints import checkpoint_note, note_verifier
from consent_service.audit.models import AuditAlert, AuditCheckpoint, AuditCosignature, AuditEvent
from consent_service.audit.recorder import SYSTEM
from consent_service.clock import LEGAL_TZ, FixedClock
from consent_service.config import Settings
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.oversight.alerts import open_alerts
from consent_service.witness import note as n
from consent_service.witness.server import bind
from consent_service.witness.service import Witness
from consent_service.witness.store import WitnessStore, create_key
from consent_service.worker.runner import housekeeping
from tests import tamper
from tests.conftest import ORIGIN, enrolled_person, log_in, make_settings
from tests.integration.test_alerts import _SmtpSink
from tests.witnesses import serve_in_thread

HOUR = timedelta(hours=1)
INTERVAL = timedelta(minutes=61)  # past CONSENT_AUDIT_CHECKPOINT_MINUTES (60)


@dataclass
class Running:
    name: str
    state: Path
    port: int
    vkey: str
    stop: Callable[[], None]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sizes(self) -> list[int]:
        store = WitnessStore(self.state)
        try:
            return [a.size for a in store.accepted(ORIGIN)]
        finally:
            store.close()


def _log_vkey(keys: dict[str, str]) -> str:
    seed = base64.b64decode(keys["signing_key"])
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return note_verifier(ORIGIN, public).vkey


def _serve(state: Path, clock: FixedClock, port: int = 0) -> tuple[int, Callable[[], None]]:
    """A witness service in a thread on a loopback port; its clock is the test's."""
    witness = Witness.open(state, now=lambda: int(clock.now().timestamp()))
    sock = bind("127.0.0.1", port)
    stop = serve_in_thread(witness, sock)
    return int(sock.getsockname()[1]), stop


def _witness(tmp_path: Path, name: str, keys: dict[str, str], clock: FixedClock) -> Running:
    state = tmp_path / name
    create_key(state, f"{name}.example/witness")
    store = WitnessStore(state)
    store.add_log(ORIGIN, _log_vkey(keys), int(clock.now().timestamp()))
    store.close()
    port, stop = _serve(state, clock)
    vkey = Witness.open(state).vkey
    return Running(f"{name}.example/witness", state, port, vkey, stop)


@pytest.fixture
def pair(tmp_path: Path, test_keys: dict[str, str], clock: FixedClock) -> Iterator[list[Running]]:
    running = [_witness(tmp_path, name, test_keys, clock) for name in ("w1", "w2")]
    yield running
    for r in running:
        r.stop()


def _context(db_url: str, keys: dict[str, str], clock: FixedClock, **extra: object) -> AppContext:
    return AppContext.build(make_settings(db_url, keys, **extra), clock)


@pytest.fixture
def wctx(
    db_url: str, test_keys: dict[str, str], clock: FixedClock, pair: list[Running]
) -> Iterator[AppContext]:
    ctx = _context(
        db_url, test_keys, clock, witnesses=[{"url": w.url, "key": w.vkey} for w in pair]
    )
    yield ctx
    ctx.engine.dispose()


def _events(ctx: AppContext, count: int) -> None:
    with session_scope(ctx.sessions) as session:
        for _ in range(count):
            ctx.audit.record(session, SYSTEM, action="login.succeeded", outcome="success")


def _pass(ctx: AppContext, clock: FixedClock, events: int = 3) -> AuditCheckpoint:
    """Some activity, an hour, one worker pass; returns the newest checkpoint."""
    _events(ctx, events)
    clock.advance(INTERVAL)
    housekeeping(ctx.sessions, ctx.deps)
    with ctx.sessions() as session:
        newest = session.scalar(
            select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1)
        )
        assert newest is not None
        session.expunge(newest)
        return newest


def _cosignatures(ctx: AppContext) -> list[tuple[str, int]]:
    with ctx.sessions() as session:
        rows = session.scalars(select(AuditCosignature).order_by(AuditCosignature.id))
        return [(r.witness, r.seq) for r in rows]


def _actions(ctx: AppContext, action: str) -> list[AuditEvent]:
    with ctx.sessions() as session:
        found = list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )
        session.expunge_all()
        return found


def test_each_checkpoint_is_cosigned_by_both_witnesses_kept_and_shown(
    wctx: AppContext, clock: FixedClock, pair: list[Running]
) -> None:
    first = _pass(wctx, clock)
    w1, w2 = pair
    assert _cosignatures(wctx) == [(w1.name, first.seq), (w2.name, first.seq)]
    assert w1.sizes() == w2.sizes() == [first.seq]
    # The kept lines, appended to the note, verify with the log's and the witnesses' keys.
    with wctx.sessions() as session:
        lines = session.scalars(select(AuditCosignature.line).order_by(AuditCosignature.id))
        witnessed = checkpoint_note(first, wctx.crypto.public_key) + "".join(lines)
    log_key = note_verifier(ORIGIN, wctx.crypto.public_key)
    checkpoint, cosigs = n.witnessed_checkpoint(
        witnessed.encode(), [log_key], [n.parse_vkey(w1.vkey), n.parse_vkey(w2.vkey)]
    )
    assert checkpoint.size == first.seq
    assert [c.timestamp for c in cosigs] == [int(clock.now().timestamp())] * 2
    assert [e.resource_id for e in _actions(wctx, "audit.witnessed")] == [w1.name, w2.name]

    # The next pass hands over only the new checkpoint, with the digests since the first:
    # each witness accepted exactly the two, so the proof extended what it held.
    second = _pass(wctx, clock, events=4)
    second_cosigned = clock.now().astimezone(LEGAL_TZ)
    assert second.seq > first.seq
    assert w1.sizes() == w2.sizes() == [first.seq, second.seq]
    assert sorted(_cosignatures(wctx)) == sorted(
        [(w.name, s) for w in pair for s in (first.seq, second.seq)]
    )
    # A quiet pass hands nothing over again and makes no checkpoint of its own bookkeeping.
    clock.advance(INTERVAL)
    housekeeping(wctx.sessions, wctx.deps)
    assert w1.sizes() == [first.seq, second.seq]
    assert len(_cosignatures(wctx)) == 4

    dpo = enrolled_person(wctx, "dpo")
    with TestClient(create_app(wctx), follow_redirects=False) as client:
        log_in(client, dpo, clock)
        page = client.get("/dpo").text
    assert w1.name in page
    assert w2.name in page
    assert f"{second_cosigned:%d-%m-%Y kl. %H:%M}" in page  # Copenhagen time
    assert f'<td data-title="Checkpoint">{second.seq}</td>' in page
    assert "Advarsel" not in page


def test_a_long_stretch_is_handed_over_through_intermediate_checkpoints(
    wctx: AppContext, clock: FixedClock, pair: list[Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(witnessing, "MAX_PROOF_DIGESTS", 4)  # 100,000 in production
    first = _pass(wctx, clock)
    second = _pass(wctx, clock, events=9)
    sizes = pair[0].sizes()
    assert sizes[0] == first.seq
    assert sizes[-1] == second.seq
    assert all(0 < b - a <= 4 for a, b in itertools.pairwise(sizes))
    assert pair[1].sizes() == sizes
    with wctx.sessions() as session:
        made_for = session.scalars(
            select(AuditCheckpoint.made_for).where(AuditCheckpoint.seq.in_(sizes[1:-1]))
        ).all()
    assert made_for
    assert set(made_for) == {"witness"}


def test_a_witness_down_is_recorded_once_and_catches_up_later(
    wctx: AppContext, clock: FixedClock, pair: list[Running]
) -> None:
    w1, w2 = pair
    w2.stop()
    first = _pass(wctx, clock)
    _pass(wctx, clock)  # still down: no second failure event for the same reason
    failed = _actions(wctx, "audit.witness_failed")
    assert [(e.resource_id, e.reason) for e in failed] == [
        (w2.name, "witness unreachable: URLError")
    ]
    assert all(w != w2.name for w, _ in _cosignatures(wctx))
    assert len(w1.sizes()) == 2  # the other witness was not held up

    _, w2.stop = _serve(w2.state, clock, w2.port)
    third = _pass(wctx, clock)
    # Everything not yet cosigned, oldest first, from nothing (first: no proof needed).
    assert w2.sizes()[0] == first.seq
    assert w2.sizes()[-1] == third.seq
    assert (w2.name, third.seq) in _cosignatures(wctx)


def test_a_log_cut_behind_the_witnesses_back_raises_an_alert_at_once(
    wctx: AppContext, db_url: str, clock: FixedClock, pair: list[Running]
) -> None:
    _events(wctx, 10)
    first = _pass(wctx, clock)
    assert first.seq > 10
    # Whoever holds the database cuts the log at event 5 and removes every trace of the
    # cut: checkpoints and the kept cosignatures. The log then grows again.
    tamper.delete_events(db_url, from_seq=5)
    tamper.run(db_url, "DELETE FROM audit_cosignature", "DELETE FROM audit_checkpoint")
    cut = _pass(wctx, clock, events=1)
    assert cut.seq < first.seq
    disagreed = _actions(wctx, "audit.witness_disagreed")
    assert {e.resource_id for e in disagreed} == {w.name for w in pair}
    assert all("beyond this checkpoint" in (e.reason or "") for e in disagreed)
    with wctx.sessions() as session:
        alerts = session.scalars(
            select(AuditAlert).where(AuditAlert.rule == "witness_disagreed")
        ).all()
        assert {a.subject for a in alerts} == {w.name for w in pair}
        assert all(a.organisation_id is None for a in alerts)
    assert list(pair[0].sizes()) == [first.seq]  # the witness kept its view


def test_a_cut_that_leaves_the_cosignatures_is_seen_by_the_worker_itself(
    wctx: AppContext, db_url: str, clock: FixedClock, pair: list[Running]
) -> None:
    _pass(wctx, clock, events=10)
    tamper.delete_events(db_url, from_seq=5)
    _pass(wctx, clock, events=1)
    disagreed = _actions(wctx, "audit.witness_disagreed")
    assert {e.resource_id for e in disagreed} == {w.name for w in pair}
    assert all("fewer than" in (e.reason or "") for e in disagreed)


def test_a_stale_witness_alerts_after_the_setting_and_not_before(
    db_url: str, test_keys: dict[str, str], clock: FixedClock, pair: list[Running]
) -> None:
    w1, w2 = pair
    ctx = _context(
        db_url, test_keys, clock, witness_stale_hours=6,
        witnesses=[{"url": w.url, "key": w.vkey} for w in pair],
    )  # fmt: skip
    try:
        _pass(ctx, clock)
        cosigned = clock.now()
        w2.stop()  # w2 goes silent; w1 stays up and is asked again when the log is quiet
        clock.set(cosigned + 6 * HOUR - timedelta(minutes=1))
        housekeeping(ctx.sessions, ctx.deps)
        with ctx.sessions() as session:
            assert session.scalars(select(AuditAlert.rule)).all() == []
        clock.set(cosigned + 6 * HOUR + timedelta(minutes=1))
        housekeeping(ctx.sessions, ctx.deps)
        with ctx.sessions() as session:
            alerts = session.scalars(
                select(AuditAlert).where(AuditAlert.rule == "witness_silent")
            ).all()
            assert [(a.subject_kind, a.subject) for a in alerts] == [("witness", w2.name)]
            assert alerts[0].organisation_id is None
            assert [a.id for a in open_alerts(session, 1, system_wide=True)] == [alerts[0].id]
            assert open_alerts(session, 1) == []  # only system-wide review sees it
        # w1, asked again on the quiet log after half the setting, countersigned anew.
        with ctx.sessions() as session:
            times = session.scalars(
                select(AuditCosignature.cosigned_at).where(AuditCosignature.witness == w1.name)
            ).all()
        assert max(times) > cosigned
        clock.advance(HOUR)
        housekeeping(ctx.sessions, ctx.deps)  # no second alert for the same silence
        with ctx.sessions() as session:
            assert len(session.scalars(select(AuditAlert.id)).all()) == 1
        dpo = enrolled_person(ctx, "dpo")  # of the organisation running the service
        with TestClient(create_app(ctx), follow_redirects=False) as client:
            log_in(client, dpo, clock)
            overview = client.get("/dpo").text
            alerts_page = client.get("/dpo/alarmer").text
        assert "Advarsel: intet medunderskrevet checkpoint de sidste 6 timer" in overview
        assert "seneste forsøg mislykkedes (witness unreachable: URLError)" in overview
        assert overview.count("Advarsel") == 2  # both about w2
        assert overview.count("I orden") == 1  # w1
        assert "Et vidne har ikke medunderskrevet" in alerts_page
        assert f'<strong class="alert-subject">Vidne {w2.name}</strong>' in alerts_page
        assert "grænsen er 6 timer" in alerts_page
    finally:
        ctx.engine.dispose()


@pytest.fixture
def smtp_sink() -> Iterator[tuple[int, list[bytes]]]:
    received: list[bytes] = []
    handler = type("Sink", (_SmtpSink,), {"received": received})
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv.server_address[1], received
    finally:
        srv.shutdown()
        srv.server_close()


def _attachment(raw: bytes) -> tuple[str, bytes]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    [part] = list(message.iter_attachments())  # type: ignore[attr-defined]
    return str(part.get_filename()), part.get_payload(decode=True)


def test_interval_checkpoints_are_mailed_once_as_notes_the_verifier_opens(
    db_url: str, test_keys: dict[str, str], clock: FixedClock,
    smtp_sink: tuple[int, list[bytes]],
) -> None:  # fmt: skip
    port, received = smtp_sink
    ctx = _context(
        db_url, test_keys, clock, smtp_host="127.0.0.1", smtp_port=port,
        alert_email_to="dpo@example.dk",
    )  # fmt: skip
    try:
        first = _pass(ctx, clock)
        assert len(received) == 1
        name, body = _attachment(received[0])
        assert name == f"checkpoint-{first.seq}.txt"
        log_key = note_verifier(ORIGIN, ctx.crypto.public_key)
        checkpoint, _ = n.open_checkpoint(body, [log_key])
        assert (checkpoint.origin, checkpoint.size) == (ORIGIN, first.seq)
        assert checkpoint.root_hash == bytes.fromhex(first.hash)
        assert b"To: dpo@example.dk" in received[0]

        clock.advance(INTERVAL)
        housekeeping(ctx.sessions, ctx.deps)  # nothing new: nothing mailed
        assert len(received) == 1
        second = _pass(ctx, clock)
        assert len(received) == 2
        assert _attachment(received[1])[0] == f"checkpoint-{second.seq}.txt"
        assert [e.resource_id for e in _actions(ctx, "audit.checkpoint_mailed")] == [
            str(first.seq),
            str(second.seq),
        ]
    finally:
        ctx.engine.dispose()


def test_the_app_cannot_change_or_remove_a_kept_cosignature(
    wctx: AppContext, clock: FixedClock
) -> None:
    _pass(wctx, clock)
    for statement in (
        "UPDATE audit_cosignature SET seq = seq + 1",
        "DELETE FROM audit_cosignature",
    ):
        with pytest.raises(DBAPIError):
            with wctx.engine.begin() as conn:
                conn.execute(text(statement))
    assert len(_cosignatures(wctx)) == 2


def test_settings_refuse_a_witness_without_a_witness_key() -> None:
    log_key = n.make_verifier("log.example", Ed25519PrivateKey.generate().public_key()).vkey
    with pytest.raises(ValueError, match="cosignature/v1"):
        Settings(witnesses=[{"url": "http://127.0.0.1:1", "key": log_key}])  # type: ignore[list-item]


def test_a_mail_server_down_is_recorded_and_the_missed_checkpoints_mailed_later(
    db_url: str, test_keys: dict[str, str], clock: FixedClock,
    smtp_sink: tuple[int, list[bytes]],
) -> None:  # fmt: skip
    port, received = smtp_sink
    closed = socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler)
    down_port = closed.server_address[1]
    closed.server_close()  # nothing listens there now

    def context(smtp_port: int) -> AppContext:
        return _context(
            db_url, test_keys, clock, smtp_host="127.0.0.1", smtp_port=smtp_port,
            alert_email_to="other@example.dk", checkpoint_email_to="dpo-archive@example.dk",
        )  # fmt: skip

    up = context(port)
    first = _pass(up, clock)
    up.engine.dispose()
    assert len(received) == 1
    assert b"To: dpo-archive@example.dk" in received[0]

    down = context(down_port)
    missed = [_pass(down, clock), _pass(down, clock)]  # recorded once, not per pass
    down.engine.dispose()
    failed = _actions(down, "audit.witness_failed")
    assert [(e.resource_type, e.reason) for e in failed] == [("mailbox", "ConnectionRefusedError")]

    up = context(port)
    try:
        third = _pass(up, clock)
        names = [_attachment(m)[0] for m in received[1:]]
        seqs = [c.seq for c in [*missed, third]]
        assert names == [f"checkpoint-{s}.txt" for s in seqs]  # each once, oldest first
        assert [e.resource_id for e in _actions(up, "audit.checkpoint_mailed")] == [
            str(s) for s in [first.seq, *seqs]
        ]
    finally:
        up.engine.dispose()

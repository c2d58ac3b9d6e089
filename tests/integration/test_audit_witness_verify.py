"""``audit/verify.py EXPORT --witness NOTE --witness-key VKEY``: an export checked against
checkpoints a witness cosigned, over a real log on both engines and a real witness
(``consent_service.witness.service.Witness`` in-process, its own key and store).

The attacker who holds the database AND the service's signing key rewrites an event
before a witnessed checkpoint, recomputes every later hash and re-signs every checkpoint:
the export alone verifies, with the witness's note it fails, naming the checkpoint. A cut
of the log across the witnessed checkpoint fails as truncated. Witness notes of another
log, signed by another key, with a forged signature or cosignature, or cosigned only by
an untrusted witness are refused; hostile witness files exit 2 without a traceback. The
export's tail lets an old period's export check a newer witnessed checkpoint.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, update

from consent_service.audit.chain import event_digest
from consent_service.audit.checkpoints import (
    checkpoint_message,
    checkpoint_note,
    sign_head,
)
from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import SYSTEM, Actor, as_record
from consent_service.cli import main
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.oversight.export import export_range, header_message
from consent_service.witness import note as n
from consent_service.witness.protocol import format_add_checkpoint
from consent_service.witness.service import Witness
from consent_service.witness.store import WitnessStore, create_key, load_key
from tests import tamper
from tests.conftest import ORIGIN

VERIFY = Path(__file__).resolve().parents[2] / "audit" / "verify.py"
DAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NAME = "witness.test/w1"


@dataclass
class Setup:
    ctx: AppContext
    clock: FixedClock
    witness: Witness
    tmp: Path

    @property
    def vkey(self) -> str:
        return self.witness.vkey

    def events(self, count: int) -> None:
        actor = Actor(user_id=1, username="nav1", organisation_id=1, source_ip="10.0.0.1")
        for i in range(count):
            with session_scope(self.ctx.sessions) as session:
                self.ctx.audit.record(
                    session, actor, action="citizen.read", outcome="success",
                    resource_type="citizen", resource_id=f"c{i}",
                )  # fmt: skip
            self.clock.advance(timedelta(minutes=10))

    def witness_head(self, label: str) -> tuple[int, Path]:
        """Sign the log's head, hand it to the witness with the digests since the
        witness's latest, and write the cosigned note to a file; returns its size."""
        with session_scope(self.ctx.sessions) as session:
            cp = sign_head(
                session, self.ctx.crypto, self.ctx.clock, self.ctx.audit, SYSTEM,
                "interval", origin=ORIGIN,
            )  # fmt: skip
            assert cp is not None
            seq, note = cp.seq, checkpoint_note(cp, self.ctx.crypto.public_key)
        latest = self.witness.store.latest(ORIGIN)
        old = 0 if latest is None else latest.size
        with self.ctx.sessions() as session:  # the first checkpoint is trusted on first use
            digests = (
                []
                if latest is None
                else [
                    bytes.fromhex(event_digest(as_record(e)))
                    for e in session.scalars(
                        select(AuditEvent)
                        .where(AuditEvent.seq > old, AuditEvent.seq <= seq)
                        .order_by(AuditEvent.seq)
                    )
                ]
            )
        cosignature = self.witness.add_checkpoint(format_add_checkpoint(old, digests, note))
        path = self.tmp / f"{label}.note"
        path.write_text(note + cosignature.line, encoding="utf-8")
        self.clock.advance(timedelta(minutes=10))
        return seq, path

    def checkpoint(self) -> None:
        with session_scope(self.ctx.sessions) as session:
            sign_head(
                session, self.ctx.crypto, self.ctx.clock, self.ctx.audit, SYSTEM,
                "interval", origin=ORIGIN,
            )  # fmt: skip

    def export(self, start: datetime, end: datetime, label: str = "export") -> Path:
        out = io.StringIO()
        with session_scope(self.ctx.sessions) as session:
            export_range(
                session, self.ctx.crypto, self.ctx.clock, self.ctx.audit, SYSTEM,
                start, end, out, origin=ORIGIN,
            )  # fmt: skip
        path = self.tmp / f"{label}.jsonl"
        path.write_text(out.getvalue(), encoding="utf-8")
        self.clock.advance(timedelta(minutes=10))
        return path

    def everything(self, label: str = "export") -> Path:
        return self.export(DAY - timedelta(days=1), DAY + timedelta(days=30), label)


@pytest.fixture
def setup(ctx: AppContext, clock: FixedClock, tmp_path: Path) -> Iterator[Setup]:
    clock.set(DAY)
    state = tmp_path / "witness"
    create_key(state, NAME)
    store = WitnessStore(state)
    log_vkey = n.make_verifier(ORIGIN, ctx.crypto.public_key).vkey
    store.add_log(ORIGIN, log_vkey, int(DAY.timestamp()))
    # The witness's clock is the test's: its cosignature times are comparable to the
    # export's exported_at.
    witness = Witness(load_key(state), store, now=lambda: int(clock.now().timestamp()))
    yield Setup(ctx, clock, witness, tmp_path)
    store.close()


def run(export: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFY), str(export), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK: "), result.stdout


def _resign_every_checkpoint(s: Setup, db_url: str) -> None:
    """The attacker holds the signing key: every checkpoint row gets its event's (new)
    hash and a valid signature over it."""
    with tamper.attacker(db_url) as conn:
        rows = conn.execute(select(tamper.EVENTS.c.seq, tamper.EVENTS.c.hash)).all()
        hashes = {cast(int, seq): str(h) for seq, h in rows}
        for seq, origin in conn.execute(
            select(tamper.CHECKPOINTS.c.seq, tamper.CHECKPOINTS.c.origin)
        ).all():
            new = hashes[cast(int, seq)]
            sig = s.ctx.crypto.sign(checkpoint_message(str(origin), cast(int, seq), new))
            conn.execute(
                update(tamper.CHECKPOINTS)
                .where(tamper.CHECKPOINTS.c.seq == seq)
                .values(hash=new, signature=base64.b64encode(sig).decode())
            )


# --- an untouched log ---------------------------------------------------------------------


def test_an_untouched_log_verifies_with_its_witnessed_checkpoints(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.events(4)
    first, first_note = setup.witness_head("first")
    setup.events(3)
    setup.witness_head("ignored")
    # the second note as the witness's operator prints it: `consent-service witness latest`
    capsys.readouterr()
    state = str(setup.tmp / "witness")
    assert main(["witness", "latest", "--state", state, "--origin", ORIGIN]) == 0
    second_note = setup.tmp / "second.note"
    second_note.write_text(capsys.readouterr().out, encoding="utf-8")
    second = n.parse_checkpoint(second_note.read_text().split("\n\n")[0] + "\n").size
    setup.events(2)
    export = setup.everything()
    result = run(export, "--witness", first_note, "--witness", second_note,
                 "--witness-key", setup.vkey)  # fmt: skip
    _ok(result)
    assert "2 witnessed checkpoints match" in result.stdout
    assert f"{first} (first.note: cosigned by {NAME} at 2026-11-02T" in result.stdout
    assert f"{second} (second.note: cosigned by {NAME}" in result.stdout
    # The note as mailed to the DPO carries only the log's signature: it still counts,
    # and the output says its cosignatures were not checked.
    mailed = setup.tmp / "mailed.note"
    mailed.write_text("".join(first_note.read_text().splitlines(keepends=True)[:-1]))
    alone = run(export, "--witness", mailed)
    _ok(alone)
    assert "log signature only" in alone.stdout
    assert "cosignatures were not checked" in alone.stdout
    # ... but with a trusted witness key it needs that witness's cosignature.
    needs = run(export, "--witness", mailed, "--witness-key", setup.vkey)
    assert needs.returncode == 1
    assert "has no valid cosignature from a trusted witness key" in needs.stdout


# --- the attacker with the database and the signing key ---------------------------------


def test_a_rewrite_before_a_witnessed_checkpoint_is_caught_only_by_the_witness(
    setup: Setup, db_url: str
) -> None:
    setup.events(5)
    witnessed, note = setup.witness_head("w")
    setup.events(3)
    setup.witness_head("later")  # checkpoints after the witnessed one, re-signed too
    tamper.rewrite_from(db_url, 3, outcome="failure")
    _resign_every_checkpoint(setup, db_url)

    export = setup.everything()
    alone = run(export)
    _ok(alone)  # the chain and every signature hold: the key signed the rewrite
    result = run(export, "--witness", note, "--witness-key", setup.vkey)
    assert result.returncode == 1, result.stdout
    assert result.stdout.startswith(
        f"FAIL: rewritten: the log's event {witnessed} is not what witness {NAME} countersigned"
    ), result.stdout
    assert "Traceback" not in result.stderr
    # The note mailed to the DPO at the time (the log's signature only) catches it too.
    mailed = setup.tmp / "mailed.note"
    mailed.write_text("".join(note.read_text().splitlines(keepends=True)[:-1]))
    by_mail = run(export, "--witness", mailed)
    assert by_mail.returncode == 1
    assert f"FAIL: rewritten: the log's event {witnessed} is not what" in by_mail.stdout
    # The witness refuses to cosign the rewritten log's head (a fork).
    with pytest.raises(Exception, match="422"):
        setup.witness_head("after-rewrite")


def test_a_cut_across_a_witnessed_checkpoint_is_truncation(setup: Setup, db_url: str) -> None:
    setup.events(6)
    witnessed, note = setup.witness_head("w")
    assert witnessed == 6
    # Cut every event from 4 on and every checkpoint row beyond: what is left is a whole,
    # signed log of 3 events as far as the database can tell.
    tamper.delete_events(db_url, from_seq=4)
    with tamper.attacker(db_url) as conn:
        conn.execute(delete(tamper.CHECKPOINTS).where(tamper.CHECKPOINTS.c.seq > 3))
    export = setup.everything()
    _ok(run(export))
    result = run(export, "--witness", note, "--witness-key", setup.vkey)
    assert result.returncode == 1, result.stdout
    assert result.stdout.startswith(
        f"FAIL: truncated: a witness holds checkpoint {witnessed}, the log ended at event 3"
    ), result.stdout
    # Without trusted witness keys, a log-signed note beyond the head is truncation too.
    assert run(export, "--witness", note).returncode == 1


# --- the export's reach --------------------------------------------------------------------


def test_an_old_period_export_checks_a_newer_witnessed_checkpoint_through_its_tail(
    setup: Setup, db_url: str
) -> None:
    setup.events(3)
    setup.clock.set(DAY + timedelta(days=2))
    setup.events(4)
    newer, note = setup.witness_head("newer")
    setup.events(1)
    old_period = setup.export(DAY, DAY + timedelta(days=1), "old-period")
    text = old_period.read_text()
    assert '{"type":"tail","digest":"' in text
    assert '"event"' not in text.split('{"type":"tail"')[1]  # the tail shows digests only
    result = run(old_period, "--witness", note, "--witness-key", setup.vkey)
    _ok(result)
    assert "tail of" in result.stdout
    assert f"1 witnessed checkpoint matches: {newer} (newer.note" in result.stdout

    # The same old period, exported after a rewrite inside the tail, re-signed: caught.
    tamper.rewrite_from(db_url, 5, outcome="failure")
    _resign_every_checkpoint(setup, db_url)
    rewritten = setup.export(DAY, DAY + timedelta(days=1), "old-period-rewritten")
    _ok(run(rewritten))
    caught = run(rewritten, "--witness", note, "--witness-key", setup.vkey)
    assert caught.returncode == 1
    assert f"rewritten: the log's event {newer}" in caught.stdout


def test_a_checkpoint_witnessed_after_the_export_cannot_be_checked_by_it(setup: Setup) -> None:
    setup.events(3)
    export = setup.everything()
    setup.events(2)
    _, note = setup.witness_head("after")
    result = run(export, "--witness", note, "--witness-key", setup.vkey)
    assert result.returncode == 3, result.stdout
    assert "OK" not in result.stdout
    assert result.stdout.startswith("UNCHECKED: witness file after.note: checkpoint ")
    assert "after this export was made: export again" in result.stdout


def test_a_checkpoint_before_the_anchor_counts_only_through_a_later_one(setup: Setup) -> None:
    setup.events(3)
    early, early_note = setup.witness_head("early")
    setup.events(2)
    setup.checkpoint()  # not witnessed: the later export's anchor
    setup.clock.set(DAY + timedelta(days=2))
    setup.events(3)
    _, late_note = setup.witness_head("late")
    setup.events(1)
    period = setup.export(DAY + timedelta(days=2), DAY + timedelta(days=3), "period")
    # the early checkpoint lies before this export's anchor
    lonely = run(period, "--witness", early_note, "--witness-key", setup.vkey)
    assert lonely.returncode == 3, lonely.stdout
    assert f"checkpoint {early} is not covered" in lonely.stdout
    assert f"starts at or before event {early}" in lonely.stdout
    both = run(period, "--witness", early_note, "--witness", late_note, "--witness-key", setup.vkey)
    _ok(both)
    assert "2 witnessed checkpoints match" in both.stdout
    assert f"{early} (early.note: cosigned by {NAME}" in both.stdout
    assert "via a later checkpoint" in both.stdout


# --- witness notes that must be refused ----------------------------------------------------


def _note(s: Setup, origin: str, size: int, root: bytes, sign: Ed25519PrivateKey | None) -> str:
    """A checkpoint note signed under the name ``origin`` by ``sign`` (None: the service's
    own key)."""
    if sign is None:
        signer = n.signer_from_function(origin, s.ctx.crypto.public_key, s.ctx.crypto.sign)
    else:
        signer = n.signer_from_function(origin, sign.public_key(), sign.sign)
    return n.sign_checkpoint(n.Checkpoint(origin, size, root), signer)


def test_witness_notes_that_do_not_hold_are_refused(setup: Setup) -> None:
    setup.events(4)
    size, good = setup.witness_head("good")
    setup.events(1)
    export = setup.everything()
    text = good.read_text()
    log_part, cosig_line = text[: text.rindex("— ")], text[text.rindex("— ") :]
    cp = n.parse_checkpoint(text.split("\n\n")[0] + "\n")
    own_witness = load_key(setup.tmp / "witness")
    stamp = int(setup.clock.now().timestamp()) - 60

    def write(name: str, body: str) -> Path:
        path = setup.tmp / name
        path.write_text(body, encoding="utf-8")
        return path

    other_origin = "andet.test/audit"
    other_cp = n.Checkpoint(other_origin, size, cp.root_hash)
    another_log = write(
        "another-log.note",
        _note(setup, other_origin, size, cp.root_hash, None)
        + n.cosign(other_cp, own_witness, stamp).line,
    )
    another_key = write(
        "another-key.note",
        _note(setup, ORIGIN, size, cp.root_hash, Ed25519PrivateKey.generate()) + cosig_line,
    )
    sig_at = log_part.rindex(" ") + 1
    flipped = "A" if log_part[sig_at + 20] != "A" else "B"
    forged_log_sig = write(
        "forged-log.note",
        log_part[: sig_at + 20] + flipped + log_part[sig_at + 21 :] + cosig_line,
    )
    forged_cosig = write(
        "forged-cosig.note",
        log_part + cosig_line[:30] + ("A" if cosig_line[30] != "A" else "B") + cosig_line[31:],
    )
    stranger = n.parse_signer_key(n.generate_signer_key("fremmed.test/w", n.ALG_COSIGNATURE_V1))
    untrusted = write("untrusted.note", log_part + n.cosign(cp, stranger, stamp).line)

    expected = {
        another_log: "is a checkpoint of another log, 'andet.test/audit'",
        another_key: "is not signed by the export's key",
        forged_log_sig: "the log's signature does not verify",
        forged_cosig: f"the cosignature by {NAME} does not verify",
        untrusted: "no valid cosignature from a trusted witness key (it carries cosignatures "
        "by: fremmed.test/w)",
    }
    for path, says in expected.items():
        result = run(export, "--witness", path, "--witness-key", setup.vkey)
        assert result.returncode == 1, (path.name, result.stdout)
        assert result.stdout.startswith(f"FAIL: witness file {path.name}"), result.stdout
        assert says in result.stdout, result.stdout
        assert "Traceback" not in result.stderr
    # the good note next to a bad one: still a failure
    mixed = run(export, "--witness", good, "--witness", untrusted, "--witness-key", setup.vkey)
    assert mixed.returncode == 1
    _ok(run(export, "--witness", good, "--witness-key", setup.vkey))


def test_hostile_witness_files_and_keys_are_unreadable_input(setup: Setup) -> None:
    setup.events(2)
    _, good = setup.witness_head("good")
    export = setup.everything()
    text = good.read_bytes()
    hostile = {
        "junk": b"\x00\x01junk" * 10,
        "huge": text + b"x" * 20_000,
        "latin-1": text.replace(b"\n\n", "\næøå\n\n".encode("latin-1")),
        "no-blank-line": text.replace(b"\n\n", b"\n"),
        "empty": b"",
        "bad-size": text.replace(b"\n", b"\n01", 1),
        "bad-base64": text[: text.rindex(b" ") + 1] + b"!!!!\n",
        "control-char": text.replace(b"\n\n", b"\r\n\n"),
    }
    for name, body in hostile.items():
        path = setup.tmp / f"{name}.note"
        path.write_bytes(body)
        result = run(export, "--witness", path, "--witness-key", setup.vkey)
        assert result.returncode == 2, (name, result.stdout, result.stderr)
        assert f"cannot read the witness file {name}.note" in result.stderr
        assert "Traceback" not in result.stderr
    missing = run(export, "--witness", setup.tmp / "missing.note")
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr
    for bad_key in ("nonsense", setup.vkey[:-4] + "AAAA", n.make_verifier(
        ORIGIN, setup.ctx.crypto.public_key).vkey):  # fmt: skip
        result = run(export, "--witness", good, "--witness-key", bad_key)
        assert result.returncode == 2, (bad_key, result.stdout)
        assert "cannot read the witness key" in result.stderr
        assert "Traceback" not in result.stderr
    # the key from a file, as a newcomer would pass it
    key_file = setup.tmp / "witness.vkey"
    key_file.write_text(setup.vkey + "\n")
    _ok(run(export, "--witness", good, "--witness-key", key_file))


def test_an_export_made_before_exports_had_a_tail_does_not_claim_a_later_checkpoint(
    setup: Setup,
) -> None:
    """An export without ``tail_events`` (the form before the tail) still verifies, but a
    witnessed checkpoint after its period is neither matched nor called rewritten."""
    setup.events(3)
    setup.clock.set(DAY + timedelta(days=2))
    setup.events(3)
    _, note = setup.witness_head("newer")
    path = setup.export(DAY, DAY + timedelta(days=1))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header = json.loads(lines[0])
    closing = f'{{"type":"checkpoint","origin":"{ORIGIN}","seq":{header["last_seq"]},'
    period = lines[1 : next(i for i, line in enumerate(lines) if line.startswith(closing)) + 1]
    assert not [line for line in period if '"type":"tail"' in line]
    del header["tail_events"], header["signature"]
    header["signature"] = base64.b64encode(setup.ctx.crypto.sign(header_message(header))).decode()
    legacy = setup.tmp / "legacy.jsonl"
    legacy.write_text(json.dumps(header, separators=(",", ":")) + "\n" + "".join(period))
    _ok(run(legacy))
    result = run(legacy, "--witness", note, "--witness-key", setup.vkey)
    assert result.returncode == 3, result.stdout
    assert "carries no tail to the log's head" in result.stdout

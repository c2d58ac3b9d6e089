"""The DPO takes the witnesses' evidence out: the newest checkpoint each witness cosigned,
as a cosigned note, from the DPO page and from ``consent-service audit witnessed``. With
two real witness services on loopback ports (the fixtures of ``test_witnessing``), the
downloaded note checks a fresh export with ``audit/verify.py --witness --witness-key``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from consent_service.app import create_app
from consent_service.audit import witnessing
from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import SYSTEM
from consent_service.cli import main
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.oversight.export import export_range
from tests.conftest import ORIGIN, enrolled_person, log_in
from tests.integration import test_witnessing
from tests.integration.test_witnessing import Running, _pass

# The two witnesses on loopback ports and the context that hands checkpoints to them.
pair = test_witnessing.pair
wctx = test_witnessing.wctx

VERIFY = Path(__file__).resolve().parents[2] / "audit" / "verify.py"


def _export(ctx: AppContext, clock: FixedClock, path: Path) -> Path:
    clock.advance(timedelta(minutes=5))
    out = io.StringIO()
    with session_scope(ctx.sessions) as session:
        export_range(
            session, ctx.crypto, ctx.clock, ctx.audit, SYSTEM,
            clock.now() - timedelta(days=30), clock.now() + timedelta(days=1), out,
            origin=ORIGIN,
        )  # fmt: skip
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _verify(export: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFY), str(export), *map(str, args)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def _fetched(ctx: AppContext) -> list[tuple[str | None, str, str]]:
    with ctx.sessions() as session:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "audit.cosigned_note_fetched")
            .order_by(AuditEvent.seq)
        ).all()
        return [(e.resource_id, e.outcome, json.loads(e.details)["witness"]) for e in rows]


def test_the_dpo_downloads_each_witness_note_and_it_checks_a_fresh_export(
    wctx: AppContext, clock: FixedClock, pair: list[Running], tmp_path: Path
) -> None:
    dpo = enrolled_person(wctx, "dpo")
    with TestClient(create_app(wctx), follow_redirects=False) as client:
        log_in(client, dpo, clock)
        before = client.get("/dpo").text  # nothing cosigned yet: a key, no link
        assert pair[0].vkey in before
        assert "Hent kontrolpunkt med vidnets medsignatur" not in before
        assert (
            client.get("/dpo/vidner/kontrolpunkt", params={"vidne": pair[0].name}).status_code
            == 404
        )

    _pass(wctx, clock)
    second = _pass(wctx, clock, events=4)
    with TestClient(create_app(wctx), follow_redirects=False) as client:
        log_in(client, dpo, clock)
        page = client.get("/dpo").text
        notes = {}
        for w in pair:
            assert w.vkey in page  # the key to pass as --witness-key
            href = f"/dpo/vidner/kontrolpunkt?vidne={w.name}"  # '/' may stand in a query
            assert f'href="{href}">Hent kontrolpunkt med vidnets medsignatur</a>' in page
            r = client.get(href)
            assert r.status_code == 200, r.text
            assert r.headers["content-type"].startswith("text/plain")
            safe = w.name.replace("/", "-")
            assert r.headers["content-disposition"] == (
                f'attachment; filename="checkpoint-{second.seq}-{safe}.txt"'
            )
            notes[w.name] = tmp_path / f"{safe}.txt"
            notes[w.name].write_bytes(r.content)
        # A typo in the witness's name is not found, and nothing is recorded for it.
        assert (
            client.get("/dpo/vidner/kontrolpunkt", params={"vidne": "w1.example"}).status_code
            == 404
        )
        assert "kontrolprogrammet" in page  # the checking program, without a file path
    assert _fetched(wctx) == [(str(second.seq), "success", w.name) for w in pair]

    export = _export(wctx, clock, tmp_path / "export.jsonl")
    w1, w2 = pair
    result = _verify(export, "--witness", notes[w1.name], "--witness-key", w1.vkey)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK: "), result.stdout
    # Each note carries only its own witness's cosignature: w2's key finds none on w1's.
    other = _verify(export, "--witness", notes[w1.name], "--witness-key", w2.vkey)
    assert other.returncode != 0
    assert "has no valid cosignature from a trusted witness key" in other.stdout

    # All witnesses of one checkpoint on one note, also verifiable with both keys.
    with wctx.sessions() as session:
        both = witnessing.cosigned_note_at(session, wctx.crypto.public_key, second.seq)
    assert both is not None
    assert sorted(both.witnesses) == sorted(w.name for w in pair)
    (tmp_path / "both.txt").write_text(both.text, encoding="utf-8")
    ok = _verify(export, "--witness", tmp_path / "both.txt",
                 "--witness-key", w1.vkey, "--witness-key", w2.vkey)  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_a_user_without_the_export_permission_is_refused_and_it_is_audited(
    wctx: AppContext, clock: FixedClock, pair: list[Running]
) -> None:
    _pass(wctx, clock)
    navigator = enrolled_person(wctx, "navigator")
    with TestClient(create_app(wctx), follow_redirects=False) as client:
        log_in(client, navigator, clock)
        r = client.get("/dpo/vidner/kontrolpunkt", params={"vidne": pair[0].name})
    assert r.status_code == 403
    assert ORIGIN not in r.text  # no note
    with wctx.sessions() as session:
        denied = session.scalars(
            select(AuditEvent).where(
                AuditEvent.request_id == r.headers["x-request-id"], AuditEvent.outcome == "deny"
            )
        ).all()
        assert [(e.action, json.loads(e.details)["permission"]) for e in denied] == [
            ("access.denied", "audit:export")
        ]
    assert _fetched(wctx) == []


def test_the_cli_writes_one_note_per_witness_and_never_overwrites(
    wctx: AppContext,
    clock: FixedClock,
    pair: list[Running],
    tmp_path: Path,
    test_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CONSENT_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("CONSENT_DATABASE_URL", wctx.settings.database_url)
    monkeypatch.setenv("CONSENT_AUDIT_ORIGIN", ORIGIN)
    monkeypatch.setenv(
        "CONSENT_WITNESSES", json.dumps([{"url": w.url, "key": w.vkey} for w in pair])
    )
    for name, value in test_keys.items():
        monkeypatch.setenv(f"CONSENT_{name.upper()}", value)
    out = tmp_path / "notes"
    capsys.readouterr()
    assert main(["audit", "witnessed", "--out", str(out)]) == 1  # nothing cosigned yet
    assert not list(out.iterdir())

    cp = _pass(wctx, clock)
    capsys.readouterr()
    assert main(["audit", "witnessed", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    files = sorted(out.iterdir())
    assert [f.name for f in files] == sorted(
        f"checkpoint-{cp.seq}-{w.name.replace('/', '-')}.txt" for w in pair
    )
    for w in pair:
        assert f"--witness-key '{w.vkey}'" in printed
    export = _export(wctx, clock, tmp_path / "export.jsonl")
    for w, f in zip(sorted(pair, key=lambda w: w.name), files, strict=True):
        result = _verify(export, "--witness", f, "--witness-key", w.vkey)
        assert result.returncode == 0, result.stdout + result.stderr

    # Again into the same folder: refused before writing anything, the DPO's copy kept.
    files[0].write_bytes(b"the DPO's own copy")
    fetched = len(_fetched(wctx))
    capsys.readouterr()
    assert main(["audit", "witnessed", "--out", str(out)]) == 1
    assert "never overwritten" in capsys.readouterr().out
    assert files[0].read_bytes() == b"the DPO's own copy"
    assert sorted(out.iterdir()) == files
    assert len(_fetched(wctx)) == fetched

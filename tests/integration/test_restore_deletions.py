"""Restoring an older backup applies the deletions made since, on both engines.

The issue's attack: a citizen is crypto-shredded, then an older data file is restored with
today's keys file. The keys file carries the deletion ledger, so the restore deletes the
citizen again (row, blind index, answers) with the same code and says so; the CPR search
then answers exactly as for a CPR never registered. And where no ledger says so (a keys
file of before the ledger), a citizen whose key is gone is treated as deleted: the list
skips them, their page and a search give the same 404 as for an unknown one, never 500,
and registering the CPR again works.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from consent_service.app import create_app
from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import Actor
from consent_service.backup import BackupFiles, restore_backup
from consent_service.backup.files import open_file, seal_file
from consent_service.citizens.models import Citizen, CitizenKey
from consent_service.cli import main
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.deletion.service import delete_citizen
from tests.conftest import PG_APP, enrolled_person, log_in
from tests.factories import synthetic_cpr
from tests.integration.test_backup import (  # noqa: F401 - fixtures
    Seeded,
    _actor,
    _backup,
    _chain,
    _seed,
    restored_ctx,
    target_url,
)


def _delete(ctx: AppContext, actor: Actor, who: Seeded) -> None:
    with session_scope(ctx.sessions) as session:
        citizen = session.scalar(select(Citizen).where(Citizen.public_id == who.public_id))
        assert citizen is not None
        delete_citizen(session, ctx.deps, actor, citizen, rule="pilot_end")


def _shredded_backups(
    ctx: AppContext, clock: FixedClock, tmp_path: Path
) -> tuple[Seeded, Seeded, BackupFiles, BackupFiles]:
    """Two citizens, an old backup, then one citizen deleted, then today's backup."""
    actor = _actor(ctx)
    gone, kept = _seed(ctx, actor)
    old = _backup(ctx, clock, tmp_path / "old")
    clock.advance(timedelta(days=2))
    _delete(ctx, actor, gone)
    new = _backup(ctx, clock, tmp_path / "new")
    return gone, kept, old, new


@pytest.fixture
def restored_client(restored_ctx: AppContext) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(restored_ctx), follow_redirects=False) as c:
        yield c


def _search(client: TestClient, token: str, cpr: str) -> tuple[int, str]:
    r = client.post("/borgere/soeg", data={"cpr": cpr, "csrf_token": token})
    body = r.text.replace(cpr, "<typed>")  # the search field keeps what was typed
    body = re.sub(r"[0-9a-f]{32}", "<id>", body)  # request ids, csrf tokens
    body = re.sub(r'name="csrf_token" value="[^"]*"', "", body)
    return r.status_code, body


def _unknown_cpr() -> str:
    return synthetic_cpr(date(1944, 2, 2), 7, dash=False)


def test_restoring_a_pre_deletion_backup_deletes_the_citizen_again(
    ctx: AppContext,
    clock: FixedClock,
    tmp_path: Path,
    target_url: str,  # noqa: F811
    restored_ctx: AppContext,  # noqa: F811
    restored_client: TestClient,
) -> None:
    gone, kept, old, new = _shredded_backups(ctx, clock, tmp_path)
    report = restore_backup(
        target_url,
        ctx.settings.keys.master,
        old.data_path,
        new.keys_path,
        PG_APP,
        public_key=ctx.crypto.public_key,
        clock=clock,
    )
    assert [(e.kind, e.citizen, e.rule) for e in report.redeleted] == [
        ("citizen", gone.public_id, "pilot_end")
    ]
    with restored_ctx.sessions() as session:
        row = session.scalar(select(Citizen).where(Citizen.public_id == gone.public_id))
        assert row is not None
        assert row.deleted_at is not None
        assert (row.cpr_index, row.cpr_sealed, row.name_sealed) == (None, None, None)
        event = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "citizen.deleted")
            .order_by(AuditEvent.seq.desc())
        ).first()
        assert event is not None
        assert event.resource_id == gone.public_id
        assert json.loads(event.details)["rule"] == "pilot_end"
    _chain(restored_ctx)  # the re-deletion is chained after the verified log

    # The attacker's test: a navigator of the organisation searches the deleted CPR.
    nav = enrolled_person(restored_ctx, "navigator")
    token = log_in(restored_client, nav, clock)
    assert _search(restored_client, token, gone.cpr) == _search(
        restored_client, token, _unknown_cpr()
    )
    assert _search(restored_client, token, gone.cpr)[0] == 404
    found = restored_client.post("/borgere/soeg", data={"cpr": kept.cpr, "csrf_token": token})
    assert found.headers["location"] == f"/borgere/{kept.public_id}"
    listing = restored_client.get("/borgere")
    assert listing.status_code == 200
    assert gone.name not in listing.text
    assert kept.name in listing.text
    assert restored_client.get(f"/borgere/{gone.public_id}").status_code == 404


def test_the_restore_command_prints_what_it_deleted_again(
    ctx: AppContext,
    clock: FixedClock,
    tmp_path: Path,
    target_url: str,  # noqa: F811
    test_keys: dict[str, str],
    restored_ctx: AppContext,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    gone, kept, old, new = _shredded_backups(ctx, clock, tmp_path)
    monkeypatch.setenv("CONSENT_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("CONSENT_DATABASE_URL", ctx.settings.database_url)
    for name, value in test_keys.items():
        monkeypatch.setenv(f"CONSENT_{name.upper()}", value)
    capsys.readouterr()
    args = ["restore", str(old.data_path), "--keys", str(new.keys_path), "--to", target_url]
    assert main(args) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[1].startswith(f"re-deleted citizen {gone.public_id}: deleted ")
    assert lines[1].endswith("by rule pilot_end")
    assert gone.cpr not in out
    assert gone.name not in out
    assert kept.public_id not in out
    with restored_ctx.sessions() as session:
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert last is not None
        assert last.action == "backup.restored"
        assert json.loads(last.details)["redeleted"] == 1


def test_a_restore_with_the_old_keys_file_brings_back_nothing_new_to_delete(
    ctx: AppContext,
    clock: FixedClock,
    tmp_path: Path,
    target_url: str,  # noqa: F811
) -> None:
    """The careless user's restore of a backup taken after the deletion: the tombstone is
    in the data already; nothing is deleted twice, the live citizen stays readable."""
    _gone, _kept, _old, new = _shredded_backups(ctx, clock, tmp_path)
    report = restore_backup(
        target_url,
        ctx.settings.keys.master,
        new.data_path,
        new.keys_path,
        PG_APP,
        public_key=ctx.crypto.public_key,
        clock=clock,
    )
    assert report.redeleted == ()
    assert (report.citizens, report.keys_restored) == (2, 1)


def test_a_citizen_whose_key_is_gone_is_treated_as_deleted(
    ctx: AppContext,
    clock: FixedClock,
    tmp_path: Path,
    target_url: str,  # noqa: F811
    restored_ctx: AppContext,  # noqa: F811
    restored_client: TestClient,
) -> None:
    """No ledger to apply (a keys file written before the ledger existed: a bare list of
    key rows): the citizen's row and blind index come back, but not their key."""
    gone, kept, old, new = _shredded_backups(ctx, clock, tmp_path)
    master = ctx.settings.keys.master
    payload = json.loads(open_file(master, new.keys_path, "keys", new.engine))
    legacy = tmp_path / "legacy-keys.backup"
    legacy.write_bytes(seal_file(master, "keys", new.engine, json.dumps(payload["keys"]).encode()))
    report = restore_backup(
        target_url, master, old.data_path, legacy, PG_APP, public_key=ctx.crypto.public_key
    )
    assert report.redeleted == ()
    with restored_ctx.sessions() as session:
        row = session.scalar(select(Citizen).where(Citizen.public_id == gone.public_id))
        assert row is not None
        assert row.deleted_at is None
        assert row.cpr_index is not None
        assert session.get(CitizenKey, (row.id, "identity")) is None

    nav = enrolled_person(restored_ctx, "navigator")
    token = log_in(restored_client, nav, clock)
    listing = restored_client.get("/borgere")
    assert listing.status_code == 200  # was 500 for everyone
    assert gone.name not in listing.text
    assert kept.name in listing.text
    unknown_page = restored_client.get("/borgere/" + "0" * 32)
    gone_page = restored_client.get(f"/borgere/{gone.public_id}")
    assert gone_page.status_code == unknown_page.status_code == 404  # was 500
    assert _search(restored_client, token, gone.cpr) == _search(
        restored_client, token, _unknown_cpr()
    )
    # The careless user registers the person again: allowed, and they can be found.
    r = restored_client.post(
        "/borgere/ny",
        data={
            "cpr": gone.cpr,
            "name": "Ny Registrering",
            "phone": "",
            "email": "",
            "municipality": "Norddjurs",
            "gp_clinic": "Lægehuset Grenaa",
            "csrf_token": token,
        },
    )
    assert r.status_code == 303, r.text
    again = restored_client.post("/borgere/soeg", data={"cpr": gone.cpr, "csrf_token": token})
    assert again.headers["location"] == r.headers["location"].split("?")[0]


def test_shredded_wellbeing_answers_are_shredded_again(
    ctx: AppContext,
    clock: FixedClock,
    tmp_path: Path,
    target_url: str,  # noqa: F811
    restored_ctx: AppContext,  # noqa: F811
) -> None:
    """Answers under a wellbeing consent withdrawn (and shredded) after the backup: their
    key is gone from today's keys file, and the restore deletes the rows again."""
    from consent_service.consents.models import Consent
    from consent_service.deletion.service import shred_withdrawn_wellbeing
    from consent_service.wellbeing.models import WellbeingResponse
    from tests.scenario import Pilot

    pilot = Pilot.start(ctx, clock)
    pilot.at(date(2026, 11, 2))
    pid = pilot.citizen()
    pilot.refer(pid, date(2026, 11, 2))
    consent_pid = pilot.sign(pid, "wellbeing", date(2026, 11, 10))
    pilot.answer(pid, "baseline", date(2026, 11, 20))
    old = _backup(ctx, clock, tmp_path / "old")
    pilot.withdraw(pid, consent_pid, date(2026, 11, 25))
    with session_scope(ctx.sessions) as session:
        citizen = session.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        consent = session.scalar(select(Consent).where(Consent.public_id == consent_pid))
        assert consent is not None
        assert shred_withdrawn_wellbeing(session, ctx.deps, pilot.actor, citizen, consent.id) == 1
    new = _backup(ctx, clock, tmp_path / "new")

    report = restore_backup(
        target_url,
        ctx.settings.keys.master,
        old.data_path,
        new.keys_path,
        PG_APP,
        public_key=ctx.crypto.public_key,
        clock=clock,
    )
    assert [(e.kind, e.citizen, e.consent) for e in report.redeleted] == [
        ("wellbeing", pid, consent_pid)
    ]
    with restored_ctx.sessions() as session:
        assert session.scalars(select(WellbeingResponse)).all() == []
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert last is not None
        assert last.action == "wellbeing.deleted"
        assert json.loads(last.details)["consent"] == consent_pid
    _chain(restored_ctx)

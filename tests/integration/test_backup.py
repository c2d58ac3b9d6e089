"""Encrypted backup and restore, on SQLite and PostgreSQL.

The restore drill: citizens registered through the services, backed up, restored into an
empty database, read back decrypted with the restored keys, and the audit chain verifies
with the same number of events. The data file holds no key rows and no clear CPR number or
name. Another master key, a flipped byte, a keys file given as data or a backup of the
other engine are refused and leave nothing behind; a non-empty target is refused. And the
point of the design: after a citizen's keys are destroyed, restoring an OLD data backup
with a keys file taken after the deletion leaves that citizen unreadable.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import inspect, select

from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import Actor
from consent_service.audit.service import verify_chain
from consent_service.backup import (
    UNDECRYPTABLE,
    BackupError,
    BackupFiles,
    create_backup,
    restore_backup,
)
from consent_service.citizens import service as citizens
from consent_service.citizens.models import Citizen
from consent_service.citizens.vault import CitizenKeyDestroyed
from consent_service.cli import main
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.crypto import derive, open_sealed
from consent_service.db import make_engine, session_scope
from consent_service.deletion.service import delete_citizen
from consent_service.startup import check_database
from tests.conftest import (
    IN_CI,
    PG_ADMIN_URL,
    PG_APP,
    PG_OWNER,
    _sqla_pg,
    app_url,
    as_login,
    enrolled_person,
    make_settings,
)
from tests.factories import synthetic_cpr

_counter = itertools.count()


@dataclass(frozen=True)
class Seeded:
    public_id: str
    cpr: str  # ten digits
    name: str
    organisation_id: int
    wrapped_key: bytes


@pytest.fixture
def target_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty restore target of the same engine as ``db_url``: a file path on SQLite (not
    created), a new empty database on PostgreSQL (dropped afterwards), as its owner (a
    restore writes a schema: only the owner may)."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'consent.db'}"
        return
    missing = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} missing: install the Debian package postgresql-client"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    name = f"cs_r_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{PG_OWNER}"')
    yield as_login(_sqla_pg(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"), PG_OWNER)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _actor(ctx: AppContext) -> Actor:
    person = enrolled_person(ctx, "navigator")
    return Actor(
        user_id=person.user_id,
        username=person.username,
        organisation_id=person.organisation_id,
        source_ip="10.0.0.1",
    )


def _seed(ctx: AppContext, actor: Actor, n: int = 2) -> list[Seeded]:
    """Citizens registered and read through the service (so audited)."""
    names = ["Margrethe Bækgaard Testperson", "Jens Ølgaard Prøvebruger", "Ida Testsen"]
    seeded = []
    assert actor.organisation_id is not None
    for i in range(n):
        cpr = synthetic_cpr(date(1958, 7, 3), i)
        with session_scope(ctx.sessions) as session:
            citizen = citizens.register_citizen(
                session,
                ctx.deps,
                actor,
                actor.organisation_id,
                citizens.CitizenInput(
                    cpr=cpr,
                    name=names[i],
                    phone="+45 86 12 34 56",
                    email=None,
                    municipality="Norddjurs",
                    gp_clinic="Lægehuset i Grenaa",
                ),
            )
            citizens.read_citizen(session, ctx.deps, actor, citizen, "test")
            assert citizen.wrapped_key is not None
            seeded.append(
                Seeded(
                    citizen.public_id,
                    cpr.replace("-", ""),
                    names[i],
                    actor.organisation_id,
                    citizen.wrapped_key,
                )
            )
    return seeded


def _chain(ctx: AppContext) -> int:
    with ctx.sessions() as session:
        result = verify_chain(session, ctx.crypto.public_key)
    assert result.intact, result.problems
    return result.events


def _backup(ctx: AppContext, clock: FixedClock, out: Path) -> BackupFiles:
    clock.advance(timedelta(seconds=1))
    return create_backup(ctx.settings.database_url, ctx.settings.keys.master, out, clock.now())


def _is_empty(url: str) -> bool:
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return not path.exists() or path.stat().st_size == 0
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return inspect(conn).get_table_names() == []
    finally:
        engine.dispose()


def _plain_data(files: BackupFiles, master: bytes, tmp_path: Path) -> bytes:
    """The data backup decrypted independently of consent_service.backup; on PostgreSQL
    the custom-format dump (compressed) turned into SQL text by pg_restore, so a search
    for clear values means something."""
    header, _, sealed = files.data_path.read_bytes().partition(b"\n")
    plain = open_sealed(derive(master, "backup-data"), sealed, header + b"\n")
    if files.engine == "sqlite":
        return plain
    dump = tmp_path / "plain.dump"
    dump.write_bytes(plain)
    return subprocess.run(
        ["pg_restore", "--file=-", str(dump)], capture_output=True, check=True
    ).stdout


@pytest.fixture
def restored_ctx(
    target_url: str, test_keys: dict[str, str], clock: FixedClock
) -> Iterator[AppContext]:
    context = AppContext.build(make_settings(app_url(target_url), test_keys), clock)
    yield context
    context.engine.dispose()


# --- (a) the restore drill -------------------------------------------------------------------


def test_restore_drill(
    ctx: AppContext,
    clock: FixedClock,
    tmp_path: Path,
    target_url: str,
    test_keys: dict[str, str],
) -> None:
    actor = _actor(ctx)
    seeded = _seed(ctx, actor)
    events = _chain(ctx)
    files = _backup(ctx, clock, tmp_path / "out")

    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    assert files.data_path.name == f"consent-data-{stamp}.backup"
    assert files.keys_path.name == f"consent-keys-{stamp}.backup"
    for path in (files.data_path, files.keys_path):
        assert path.stat().st_mode & 0o777 == 0o600
    assert files.data_path.read_bytes().startswith(b"consent-service backup v1 data ")
    assert files.keys == len(seeded)

    report = restore_backup(
        target_url,
        ctx.settings.keys.master,
        files.data_path,
        files.keys_path,
        PG_APP,
        public_key=ctx.crypto.public_key,
    )
    assert (report.events_verified, report.citizens, report.keys_restored) == (
        events,
        len(seeded),
        len(seeded),
    )
    # The service runs on the restored database as the application login: its grants hold.
    restored = AppContext.build(make_settings(app_url(target_url), test_keys), clock)
    try:
        check_database(restored.engine, restored.crypto)  # head migration, same keys
        with session_scope(restored.sessions) as session:
            for citizen in seeded:
                row = citizens.citizen_in_organisation(
                    session, citizen.organisation_id, citizen.public_id
                )
                view = citizens.read_citizen(session, restored.deps, actor, row, "restore drill")
                assert (view.cpr.value, view.name) == (citizen.cpr, citizen.name)
        assert _chain(restored) == events + len(seeded)
    finally:
        restored.engine.dispose()


# --- (b) what the data file holds ------------------------------------------------------------


def test_data_file_holds_no_keys_and_no_clear_identity(
    ctx: AppContext, clock: FixedClock, tmp_path: Path, target_url: str
) -> None:
    seeded = _seed(ctx, _actor(ctx))
    files = _backup(ctx, clock, tmp_path / "out")
    plain = _plain_data(files, ctx.settings.keys.master, tmp_path)
    assert b"citizen_key" in plain  # the table itself is there (its schema), ...
    if files.engine == "sqlite":
        copy = tmp_path / "copy.db"
        copy.write_bytes(plain)
        with sqlite3.connect(copy) as conn:
            assert conn.execute("SELECT count(*) FROM citizen_key").fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM citizen").fetchone() == (len(seeded),)
    else:
        assert b"COPY public.citizen_key" not in plain  # ... but not its rows
        assert b"COPY public.citizen " in plain
    for citizen in seeded:
        dashed = f"{citizen.cpr[:6]}-{citizen.cpr[6:]}"
        for needle in (citizen.cpr, dashed, citizen.name, citizen.name.split()[0]):
            assert needle.encode() not in plain
        assert citizen.wrapped_key not in plain
        assert citizen.wrapped_key.hex().encode() not in plain
        assert citizen.public_id.encode() in plain  # the search itself can find rows
    assert citizen.cpr.encode() not in files.keys_path.read_bytes()


# --- (c), (d) wrong key, altered files, wrong kind or engine ---------------------------------


def test_another_master_key_fails_and_creates_nothing(
    ctx: AppContext, clock: FixedClock, tmp_path: Path, target_url: str
) -> None:
    _seed(ctx, _actor(ctx), 1)
    files = _backup(ctx, clock, tmp_path / "out")
    other = os.urandom(32)
    with pytest.raises(BackupError, match=UNDECRYPTABLE):
        restore_backup(
            target_url, other, files.data_path, files.keys_path, public_key=ctx.crypto.public_key
        )
    with pytest.raises(BackupError, match=UNDECRYPTABLE):
        restore_backup(target_url, other, files.data_path, None, public_key=ctx.crypto.public_key)
    assert _is_empty(target_url)


@pytest.mark.parametrize("which", ["data", "keys"])
def test_a_flipped_byte_fails(
    ctx: AppContext, clock: FixedClock, tmp_path: Path, target_url: str, which: str
) -> None:
    _seed(ctx, _actor(ctx), 1)
    files = _backup(ctx, clock, tmp_path / "out")
    path = files.data_path if which == "data" else files.keys_path
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(BackupError, match=UNDECRYPTABLE):
        restore_backup(
            target_url,
            ctx.settings.keys.master,
            files.data_path,
            files.keys_path,
            public_key=ctx.crypto.public_key,
        )
    assert _is_empty(target_url)


def test_a_keys_file_is_not_data_and_engines_do_not_mix(
    ctx: AppContext, clock: FixedClock, tmp_path: Path, target_url: str
) -> None:
    _seed(ctx, _actor(ctx), 1)
    files = _backup(ctx, clock, tmp_path / "out")
    master = ctx.settings.keys.master
    with pytest.raises(BackupError, match="is a keys file, not a data backup"):
        restore_backup(target_url, master, files.keys_path, None, public_key=ctx.crypto.public_key)
    with pytest.raises(BackupError, match="is a data backup, not a keys file"):
        restore_backup(
            target_url, master, files.data_path, files.data_path, public_key=ctx.crypto.public_key
        )
    raw = files.data_path.read_bytes()
    other = "postgresql" if files.engine == "sqlite" else "sqlite"
    forged = tmp_path / "forged.backup"
    forged.write_bytes(raw.replace(files.engine.encode(), other.encode(), 1))
    other_url = (
        f"sqlite:///{tmp_path / 'other.db'}"
        if other == "sqlite"
        else "postgresql+psycopg://nobody@127.0.0.1:1/none"
    )
    with pytest.raises(BackupError, match=UNDECRYPTABLE):  # the header is authenticated
        restore_backup(other_url, master, forged, None, public_key=ctx.crypto.public_key)
    with pytest.raises(BackupError, match="backup; restore it into a"):
        restore_backup(other_url, master, files.data_path, None, public_key=ctx.crypto.public_key)
    assert _is_empty(target_url)
    assert not (tmp_path / "other.db").exists()


# --- (e) only into an empty database ---------------------------------------------------------


def test_restore_into_a_non_empty_database_is_refused(
    ctx: AppContext, clock: FixedClock, tmp_path: Path, target_url: str
) -> None:
    _seed(ctx, _actor(ctx), 1)
    events = _chain(ctx)
    files = _backup(ctx, clock, tmp_path / "out")
    master = ctx.settings.keys.master
    with pytest.raises(BackupError, match="is not empty"):
        restore_backup(
            ctx.settings.database_url,
            master,
            files.data_path,
            files.keys_path,
            public_key=ctx.crypto.public_key,
        )
    assert _chain(ctx) == events  # the live database is untouched
    restore_backup(
        target_url, master, files.data_path, files.keys_path, public_key=ctx.crypto.public_key
    )
    with pytest.raises(BackupError, match="is not empty"):
        restore_backup(
            target_url, master, files.data_path, files.keys_path, public_key=ctx.crypto.public_key
        )


# --- (f) crypto-shredding reaches older data backups -----------------------------------------


def test_deleted_citizen_stays_unreadable_in_an_old_backup(
    ctx: AppContext, clock: FixedClock, tmp_path: Path, target_url: str, restored_ctx: AppContext
) -> None:
    gone, kept = _seed(ctx, _actor(ctx))
    old = _backup(ctx, clock, tmp_path / "old")
    actor = _actor(ctx)
    with session_scope(ctx.sessions) as session:
        citizen = session.scalar(select(Citizen).where(Citizen.public_id == gone.public_id))
        assert citizen is not None
        delete_citizen(session, ctx.deps, actor, citizen, rule="pilot_end")
    new = _backup(ctx, clock, tmp_path / "new")
    assert new.keys == old.keys - 1

    report = restore_backup(
        target_url,
        ctx.settings.keys.master,
        old.data_path,
        new.keys_path,
        PG_APP,
        public_key=ctx.crypto.public_key,
    )
    assert (report.citizens, report.keys_restored) == (2, 1)
    assert [entry.citizen for entry in report.redeleted] == [gone.public_id]
    with restored_ctx.sessions() as session:
        # The deletion made after the backup is made again: a tombstone, no blind index.
        row = session.scalar(select(Citizen).where(Citizen.public_id == gone.public_id))
        assert row is not None
        assert row.deleted_at is not None
        assert (row.cpr_index, row.cpr_sealed, row.name_sealed) == (None, None, None)
        with pytest.raises(CitizenKeyDestroyed):
            citizens.decrypt(restored_ctx.deps, row)
        view = citizens.decrypt(
            restored_ctx.deps,
            citizens.citizen_in_organisation(session, kept.organisation_id, kept.public_id),
        )
        assert (view.cpr.value, view.name) == (kept.cpr, kept.name)


# --- the commands ----------------------------------------------------------------------------


def test_backup_and_restore_commands(
    ctx: AppContext,
    clock: FixedClock,
    tmp_path: Path,
    target_url: str,
    test_keys: dict[str, str],
    restored_ctx: AppContext,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _seed(ctx, _actor(ctx), 1)
    before = _chain(ctx)
    capsys.readouterr()
    monkeypatch.setenv("CONSENT_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("CONSENT_DATABASE_URL", ctx.settings.database_url)
    for name, value in test_keys.items():
        monkeypatch.setenv(f"CONSENT_{name.upper()}", value)

    assert main(["backup", "--out", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    data = Path(lines[0].split(": ", 1)[1])
    keys = Path(lines[1].split(": ", 1)[1].split(" (", 1)[0].strip())
    with ctx.sessions() as session:
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert last is not None
        assert last.action == "backup.created"
        assert set(json.loads(last.details)) == {"engine", "data_sha256", "keys_sha256"}
    assert _chain(ctx) == before + 1

    assert main(["restore", str(data), "--keys", str(keys), "--to", target_url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert "audit events verified, 1 citizens, 1 keys restored" in out[0]
    assert _chain(restored_ctx) == before + 1  # the backup, then backup.restored
    with restored_ctx.sessions() as session:
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert last is not None
        assert last.action == "backup.restored"

    assert main(["restore", str(data), "--to", target_url]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("consent-service: restore failed: ")
    assert "is not empty" in err[0]


def test_the_password_goes_to_the_environment_not_the_command_line() -> None:
    from consent_service.backup.engines import libpq, parse

    parsed, engine = parse(
        "postgresql+psycopg://consent:p%40ss@db.internal:5433/consent?sslmode=require"
    )
    url, env = libpq(parsed)
    assert engine == "postgresql"
    assert url == "postgresql://consent@db.internal:5433/consent?sslmode=require"
    assert env["PGPASSWORD"] == "p@ss"

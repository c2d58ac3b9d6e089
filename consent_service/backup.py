"""Encrypted backup and restore of the database, on SQLite and PostgreSQL.

A backup is two files. The data file holds the whole database except the rows of
``citizen_key``: the citizens' data keys never enter it, so deleting a citizen (which
destroys their key rows) makes them unreadable in every older data backup too
(crypto-shredding). The keys file holds the ``citizen_key`` rows, still wrapped by the
master key; it is meant to be kept only briefly, for less time than the deletion deadline.

Both files are sealed with AES-256-GCM under keys derived from the master key, one per
kind. The keys file also carries the deletion ledger: every deletion the database had
made when the backup was taken (citizens by public id, wellbeing answers by consent, with
rule and time; no personal data). Restoring an older data file with a newer keys file
applies again, with the same code, every deletion of that ledger the data file does not
have yet, so an older backup never brings back a deleted citizen's row or CPR blind index.

A file is a one-line header (magic, version, kind, engine) followed by the sealed
bytes; the header is the associated data, so a keys file cannot be restored as data, nor a
SQLite backup into PostgreSQL, and any edit is detected. Files are written with mode 600.

A restore goes only into an empty database, then checks the schema is at the migration
head and the audit log verifies (its chain, signed checkpoints and start; the service's
public key is needed for that). On PostgreSQL the backup is taken as the
application login (it may read every table) and restored as the owner of the new
database, without the dump's grants: ``consent-service restore`` then grants the
application login what ``migrate`` would (``migrations.privileges``). Nothing here logs
or prints key material or any personal data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, create_engine, func, insert, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from consent_service.audit.recorder import SYSTEM, Actor, AuditRecorder
from consent_service.audit.service import verify_chain
from consent_service.citizens.models import Citizen, CitizenKey
from consent_service.clock import Clock, SystemClock
from consent_service.crypto import DecryptionError, derive, open_sealed, seal
from consent_service.db import make_engine, make_sessionmaker, session_scope
from consent_service.retention.deletion import LedgerEntry, deletion_ledger, reapply_deletions

MAGIC = b"consent-service backup v1"
KINDS = ("data", "keys")
ENGINES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
KEYS_TABLE = CitizenKey.__tablename__
UNDECRYPTABLE = "the backup cannot be decrypted with this master key or was altered"
_SYSTEM_SCHEMAS = {"information_schema", "pg_catalog", "pg_toast"}


class BackupError(Exception):
    """Why a backup or restore was refused or failed, in one line; never holds secrets."""


@dataclass(frozen=True)
class BackupFiles:
    engine: str
    data_path: Path
    keys_path: Path
    data_sha256: str
    keys_sha256: str
    keys: int


@dataclass(frozen=True)
class RestoreReport:
    engine: str
    events_verified: int
    citizens: int
    keys_restored: int
    keys_skipped: int  # keys of citizens the data backup does not hold (registered later)
    redeleted: tuple[LedgerEntry, ...] = ()  # deletions made after the backup, made again


# --- file format -------------------------------------------------------------------------


def _header(kind: str, engine: str) -> bytes:
    return MAGIC + f" {kind} {engine}\n".encode()


def _file_key(master_key: bytes, kind: str) -> bytes:
    return derive(master_key, f"backup-{kind}")


def _seal_file(master_key: bytes, kind: str, engine: str, plaintext: bytes) -> bytes:
    header = _header(kind, engine)
    try:
        return header + seal(_file_key(master_key, kind), plaintext, header)
    except OverflowError:
        raise BackupError(
            f"the {kind} is too large for this backup format (at most 2 GiB)"
        ) from None


def _open_file(master_key: bytes, path: Path, kind: str, engine: str) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from None
    line, sep, sealed = raw.partition(b"\n")
    parts = line.split(b" ")
    if not sep or not line.startswith(MAGIC + b" ") or len(parts) != 5:
        raise BackupError(f"{path} is not a consent-service backup file")
    file_kind, file_engine = parts[3].decode(errors="replace"), parts[4].decode(errors="replace")
    if file_kind not in KINDS or file_engine not in ENGINES:
        raise BackupError(f"{path} is not a consent-service backup file")
    if file_kind != kind:
        what = "a keys file" if file_kind == "keys" else "a data backup"
        raise BackupError(
            f"{path} is {what}, not a {'keys file' if kind == 'keys' else 'data backup'}"
        )
    if file_engine != engine:
        raise BackupError(
            f"{path} is a {ENGINES[file_engine]} backup; restore it into a "
            f"{ENGINES[file_engine]} database, not {ENGINES[engine]}"
        )
    try:
        return open_sealed(_file_key(master_key, kind), sealed, line + sep)
    except DecryptionError:
        raise BackupError(UNDECRYPTABLE) from None


def _write_private(path: Path, content: bytes) -> None:
    """Create ``path`` with mode 600; never overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupError(f"{path} exists already; backups are never overwritten") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def sha256_of(path: Path) -> str:
    """The SHA-256 of a backup file as written (of the ciphertext: safe to record)."""
    return _sha256(path.read_bytes())


# --- URLs and engines --------------------------------------------------------------------


def _parse(url: str) -> tuple[URL, str]:
    try:
        parsed = make_url(url)
    except Exception:
        raise BackupError("the database URL is not valid") from None
    engine = parsed.get_backend_name()
    if engine not in ENGINES:
        raise BackupError(f"backups support SQLite and PostgreSQL, not {engine}")
    return parsed, engine


def _shown(parsed: URL) -> str:
    return parsed.render_as_string(hide_password=True)


def _sqlite_path(parsed: URL) -> Path:
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("a SQLite backup needs a database file, not an in-memory database")
    return Path(parsed.database)


def _libpq(parsed: URL) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and an environment carrying it (PGPASSWORD):
    a password is never put on a command line, where other users could see it."""
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = URL.create(  # URL.set() cannot clear a field: build the URL anew
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is missing: install the Debian package postgresql-client")
    return found


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(args, env=env, capture_output=True, check=False)  # noqa: S603
    if result.returncode != 0:
        lines = [
            line for line in result.stderr.decode(errors="replace").splitlines() if line.strip()
        ]
        reason = lines[0] if lines else f"exit status {result.returncode}"
        raise BackupError(f"{Path(args[0]).name} failed: {reason}")


def _db_problem(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    lines = str(orig or exc).splitlines()
    return lines[0] if lines else type(exc).__name__


def _keys_payload(conn: Connection) -> dict[str, Any]:
    """What the keys file holds: the key rows and the deletion ledger, of one moment."""
    return {
        "keys": _key_rows(conn),
        "deletions": [entry.as_json() for entry in deletion_ledger(conn)],
    }


def _key_rows(conn: Connection) -> list[dict[str, Any]]:
    table = CitizenKey.__table__
    rows = conn.execute(select(table).order_by(table.c.citizen_id, table.c.purpose)).mappings()
    return [
        {
            "citizen_id": row["citizen_id"],
            "purpose": row["purpose"],
            "wrapped_key": base64.b64encode(row["wrapped_key"]).decode(),
            "created_at": row["created_at"].isoformat(),
        }
        for row in rows
    ]


# --- backup ------------------------------------------------------------------------------


def _dump_sqlite(parsed: URL, workdir: Path) -> tuple[bytes, dict[str, Any]]:
    """A consistent copy (online backup API) with the key rows read from it, then deleted
    and vacuumed away; returns the copy's bytes and the key rows."""
    source = _sqlite_path(parsed)
    if not source.is_file():
        raise BackupError(f"database {_shown(parsed)} does not exist")
    copy = workdir / "copy.db"
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            dst = sqlite3.connect(copy)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                dst.close()
        finally:
            src.close()
        engine = create_engine(f"sqlite:///{copy}", poolclass=NullPool, hide_parameters=True)
        try:
            with engine.connect() as conn:
                keys = _keys_payload(conn)
        finally:
            engine.dispose()
        dst = sqlite3.connect(copy, isolation_level=None)
        try:
            dst.execute("PRAGMA secure_delete=ON")
            dst.execute(f"DELETE FROM {KEYS_TABLE}")  # noqa: S608 - a constant
            dst.execute("VACUUM")
        finally:
            dst.close()
    except (sqlite3.Error, SQLAlchemyError) as exc:
        reason = _db_problem(exc) if isinstance(exc, SQLAlchemyError) else str(exc)
        raise BackupError(f"cannot back up {_shown(parsed)}: {reason}") from None
    return copy.read_bytes(), keys


def _dump_postgresql(parsed: URL, workdir: Path) -> tuple[bytes, dict[str, Any]]:
    """pg_dump (custom format) without the key rows' data; the key rows are read in the
    same snapshot, exported to pg_dump, so data and keys belong to one moment."""
    pg_dump = _tool("pg_dump")
    libpq_url, env = _libpq(parsed)
    out = workdir / "dump"
    engine = make_engine(parsed.render_as_string(hide_password=False), poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            with conn.begin():
                snapshot = conn.scalar(text("SELECT pg_export_snapshot()"))
                keys = _keys_payload(conn)
                _run(
                    [
                        pg_dump,
                        "--format=custom",
                        "--no-owner",
                        f"--exclude-table-data=*.{KEYS_TABLE}",
                        f"--snapshot={snapshot}",
                        f"--file={out}",
                        f"--dbname={libpq_url}",
                    ],
                    env,
                )
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot back up {_shown(parsed)}: {_db_problem(exc)}") from None
    finally:
        engine.dispose()
    return out.read_bytes(), keys


def create_backup(url: str, master_key: bytes, out_dir: Path, now: datetime) -> BackupFiles:
    """Write an encrypted data backup and a separate encrypted keys file into ``out_dir``."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    parsed, engine = _parse(url)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_path = out_dir / f"consent-data-{stamp}.backup"
    keys_path = out_dir / f"consent-keys-{stamp}.backup"
    for path in (data_path, keys_path):
        if path.exists():
            raise BackupError(f"{path} exists already; backups are never overwritten")
    with tempfile.TemporaryDirectory(prefix="consent-backup-") as tmp:
        dump = _dump_sqlite if engine == "sqlite" else _dump_postgresql
        data, keys = dump(parsed, Path(tmp))
    sealed_data = _seal_file(master_key, "data", engine, data)
    sealed_keys = _seal_file(
        master_key, "keys", engine, json.dumps(keys, separators=(",", ":")).encode()
    )
    _write_private(data_path, sealed_data)
    try:
        _write_private(keys_path, sealed_keys)
    except BaseException:
        data_path.unlink(missing_ok=True)
        raise
    return BackupFiles(
        engine=engine,
        data_path=data_path,
        keys_path=keys_path,
        data_sha256=_sha256(sealed_data),
        keys_sha256=_sha256(sealed_keys),
        keys=len(keys["keys"]),
    )


# --- restore -----------------------------------------------------------------------------


def _key_row(item: Any) -> dict[str, Any]:
    created_at = datetime.fromisoformat(item["created_at"])
    if created_at.tzinfo is None:
        raise ValueError("naive created_at")
    return {
        "citizen_id": int(item["citizen_id"]),
        "purpose": str(item["purpose"]),
        "wrapped_key": base64.b64decode(item["wrapped_key"], validate=True),
        "created_at": created_at,
    }


def _parse_keys(raw: bytes) -> tuple[list[dict[str, Any]], list[LedgerEntry]]:
    """The key rows and the deletion ledger (a keys file of before the ledger is a bare
    list of key rows)."""
    try:
        content = json.loads(raw)
        if isinstance(content, list):
            content = {"keys": content, "deletions": []}
        if not isinstance(content, dict):
            raise TypeError("not a keys file")
        items, deletions = content["keys"], content["deletions"]
        if not isinstance(items, list) or not isinstance(deletions, list):
            raise TypeError("not a list")
        return [_key_row(item) for item in items], [LedgerEntry.from_json(d) for d in deletions]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BackupError("the keys file does not hold key rows") from None


def _refuse_non_empty_sqlite(parsed: URL) -> Path:
    target = _sqlite_path(parsed)
    if target.exists() and (not target.is_file() or target.stat().st_size > 0):
        raise BackupError(
            f"database {_shown(parsed)} is not empty: restore only into a new, empty database"
        )
    for suffix in ("-wal", "-journal"):
        leftover = target.with_name(target.name + suffix)
        if leftover.exists() and leftover.stat().st_size > 0:
            raise BackupError(f"{leftover} is left over from an earlier database: remove it first")
    return target


def _refuse_non_empty_postgresql(parsed: URL, engine: Engine) -> None:
    try:
        with engine.connect() as conn:
            inspector = inspect(conn)
            tables = [
                table
                for schema in inspector.get_schema_names()
                if schema not in _SYSTEM_SCHEMAS
                for table in inspector.get_table_names(schema=schema)
            ]
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot reach {_shown(parsed)}: {_db_problem(exc)}") from None
    if tables:
        raise BackupError(
            f"database {_shown(parsed)} is not empty ({len(tables)} tables): restore only "
            "into a new, empty database"
        )


def _restore_sqlite(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".restoring")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, target)


def _restore_postgresql(parsed: URL, data: bytes) -> None:
    pg_restore = _tool("pg_restore")
    libpq_url, env = _libpq(parsed)
    with tempfile.TemporaryDirectory(prefix="consent-restore-") as tmp:
        dump = Path(tmp) / "dump"
        _write_private(dump, data)
        try:
            _run(
                [
                    pg_restore,
                    "--no-owner",  # the restoring login (the owner) owns everything
                    "--no-privileges",  # grants: `restore` applies them for this cluster
                    "--exit-on-error",
                    "--single-transaction",
                    f"--dbname={libpq_url}",
                    str(dump),
                ],
                env,
            )
        finally:
            dump.unlink(missing_ok=True)


def _check_head(engine: Engine) -> None:
    from consent_service.startup import migration_heads

    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    heads = migration_heads()
    if current != heads:
        raise BackupError(
            f"the backup is at migration {', '.join(sorted(current)) or '(none)'}, not at this "
            f"version's {', '.join(sorted(heads))}: restore it with the service version that "
            "made it"
        )


def _grant(engine: Engine, app_role: str | None) -> None:
    from consent_service.migrations.privileges import PrivilegeError, apply_privileges

    try:
        with engine.begin() as conn:
            apply_privileges(conn, app_role)
    except PrivilegeError as exc:
        raise BackupError(str(exc)) from None


def _load_keys_and_verify(
    engine: Engine,
    keys: list[dict[str, Any]],
    ledger: list[LedgerEntry],
    public_key: Ed25519PublicKey,
    clock: Clock,
    actor: Actor,
) -> tuple[int, int, int, int, list[LedgerEntry]]:
    """Insert the key rows of citizens the backup holds, verify the audit log (its chain,
    checkpoints and start), then make again the ledger's deletions the backup does not
    have; all in one transaction, rolled back if anything fails."""
    with session_scope(make_sessionmaker(engine)) as session:
        present = set(session.scalars(select(Citizen.id)))
        wanted = [row for row in keys if row["citizen_id"] in present]
        if wanted:
            session.execute(insert(CitizenKey), wanted)
        verification = verify_chain(session, public_key)
        if not verification.intact:
            raise BackupError(
                f"the restored audit log does not verify ({verification.problems[0]}; "
                f"{verification.summary}): the restored database must not be used"
            )
        redeleted = reapply_deletions(session, clock, AuditRecorder(clock), actor, ledger)
        citizens = session.scalar(select(func.count()).select_from(Citizen)) or 0
    return verification.events, citizens, len(wanted), len(keys) - len(wanted), redeleted


def restore_backup(
    url: str,
    master_key: bytes,
    data_path: Path,
    keys_path: Path | None,
    app_role: str | None = None,
    *,
    public_key: Ed25519PublicKey,
    clock: Clock | None = None,
    actor: Actor = SYSTEM,
) -> RestoreReport:
    """Restore a data backup (and a keys file) into the empty database at ``url``; its
    audit log must verify with the service's checkpoint ``public_key``. Every deletion of
    the keys file's ledger that the data backup predates is made again, audited as done
    by ``actor``. On PostgreSQL ``url`` is the new database's owner, and ``app_role`` the
    application login that gets its grants there (``migrations.privileges``)."""
    parsed, engine_name = _parse(url)
    # Decrypt everything before touching the target: a wrong key or an altered file
    # leaves nothing behind.
    data = _open_file(master_key, data_path, "data", engine_name)
    keys, ledger = (
        _parse_keys(_open_file(master_key, keys_path, "keys", engine_name))
        if keys_path is not None
        else ([], [])
    )
    sqlite_target: Path | None = None
    engine = make_engine(url) if engine_name == "postgresql" else None
    try:
        if engine is None:
            sqlite_target = _refuse_non_empty_sqlite(parsed)
            try:
                _restore_sqlite(sqlite_target, data)
            except OSError as exc:
                raise BackupError(f"cannot write {sqlite_target}: {exc.strerror or exc}") from None
            engine = make_engine(url)
        else:
            _refuse_non_empty_postgresql(parsed, engine)
            _restore_postgresql(parsed, data)
        try:
            _check_head(engine)
            if engine_name == "postgresql":
                _grant(engine, app_role)
            events, citizens, restored, skipped, redeleted = _load_keys_and_verify(
                engine, keys, ledger, public_key, clock or SystemClock(), actor
            )
        except SQLAlchemyError as exc:
            raise BackupError(
                f"the restored database {_shown(parsed)} cannot be used: {_db_problem(exc)}"
            ) from None
    except BackupError:
        if engine is not None:
            engine.dispose()
        if sqlite_target is not None:
            for suffix in ("", "-wal", "-shm"):
                sqlite_target.with_name(sqlite_target.name + suffix).unlink(missing_ok=True)
        raise
    engine.dispose()
    return RestoreReport(
        engine=engine_name,
        events_verified=events,
        citizens=citizens,
        keys_restored=restored,
        keys_skipped=skipped,
        redeleted=tuple(redeleted),
    )

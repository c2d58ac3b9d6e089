"""SQLite: a consistent copy through the online backup API, with the key rows read from
it and then deleted and vacuumed away; a restore writes the file into place."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from consent_service.backup import repository
from consent_service.backup.engines import db_problem, shown, sqlite_path
from consent_service.backup.files import BackupError
from consent_service.backup.keys_file import keys_payload


def dump(parsed: URL, workdir: Path) -> tuple[bytes, dict[str, Any]]:
    """A consistent copy (online backup API) with the key rows read from it, then deleted
    and vacuumed away; returns the copy's bytes and the key rows."""
    source = sqlite_path(parsed)
    if not source.is_file():
        raise BackupError(f"database {shown(parsed)} does not exist")
    copy = workdir / "copy.db"
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            dst = sqlite3.connect(copy)
            try:
                src.backup(dst)
                repository.make_self_contained(dst)
            finally:
                dst.close()
        finally:
            src.close()
        engine = create_engine(f"sqlite:///{copy}", poolclass=NullPool, hide_parameters=True)
        try:
            with engine.connect() as conn:
                keys = keys_payload(conn)
        finally:
            engine.dispose()
        repository.erase_key_rows(copy)
    except (sqlite3.Error, SQLAlchemyError) as exc:
        reason = db_problem(exc) if isinstance(exc, SQLAlchemyError) else str(exc)
        raise BackupError(f"cannot back up {shown(parsed)}: {reason}") from None
    return copy.read_bytes(), keys


def refuse_non_empty(parsed: URL) -> Path:
    """The target file, if it is absent or empty and no journal is left over."""
    target = sqlite_path(parsed)
    if target.exists() and (not target.is_file() or target.stat().st_size > 0):
        raise BackupError(
            f"database {shown(parsed)} is not empty: restore only into a new, empty database"
        )
    for suffix in ("-wal", "-journal"):
        leftover = target.with_name(target.name + suffix)
        if leftover.exists() and leftover.stat().st_size > 0:
            raise BackupError(f"{leftover} is left over from an earlier database: remove it first")
    return target


def restore(target: Path, data: bytes) -> None:
    """Write the database file into place (mode 600), atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".restoring")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, target)

"""PostgreSQL: pg_dump of one snapshot shared with the key rows' read, without the key
rows' data; pg_restore without owner or grants into an empty database."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from consent_service.backup import repository
from consent_service.backup.engines import db_problem, libpq, run, shown, tool
from consent_service.backup.files import BackupError, write_private
from consent_service.backup.keys_file import keys_payload
from consent_service.db import make_engine

_SYSTEM_SCHEMAS = {"information_schema", "pg_catalog", "pg_toast"}


def dump(parsed: URL, workdir: Path) -> tuple[bytes, dict[str, Any]]:
    """pg_dump (custom format) without the key rows' data; the key rows are read in the
    same snapshot, exported to pg_dump, so data and keys belong to one moment."""
    pg_dump = tool("pg_dump")
    libpq_url, env = libpq(parsed)
    out = workdir / "dump"
    engine = make_engine(parsed.render_as_string(hide_password=False), poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            with conn.begin():
                snapshot = repository.export_snapshot(conn)
                keys = keys_payload(conn)
                run(
                    [
                        pg_dump,
                        "--format=custom",
                        "--no-owner",
                        f"--exclude-table-data=*.{repository.KEYS_TABLE}",
                        f"--snapshot={snapshot}",
                        f"--file={out}",
                        f"--dbname={libpq_url}",
                    ],
                    env,
                )
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot back up {shown(parsed)}: {db_problem(exc)}") from None
    finally:
        engine.dispose()
    return out.read_bytes(), keys


def refuse_non_empty(parsed: URL, engine: Engine) -> None:
    """Refuse a target database that has any table outside the system schemas."""
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
        raise BackupError(f"cannot reach {shown(parsed)}: {db_problem(exc)}") from None
    if tables:
        raise BackupError(
            f"database {shown(parsed)} is not empty ({len(tables)} tables): restore only "
            "into a new, empty database"
        )


def restore(parsed: URL, data: bytes) -> None:
    """pg_restore the dump as the connecting login (the new database's owner)."""
    pg_restore = tool("pg_restore")
    libpq_url, env = libpq(parsed)
    with tempfile.TemporaryDirectory(prefix="consent-restore-") as tmp:
        dump_file = Path(tmp) / "dump"
        write_private(dump_file, data)
        try:
            run(
                [
                    pg_restore,
                    "--no-owner",  # the restoring login (the owner) owns everything
                    "--no-privileges",  # grants: `restore` applies them for this cluster
                    "--exit-on-error",
                    "--single-transaction",
                    f"--dbname={libpq_url}",
                    str(dump_file),
                ],
                env,
            )
        finally:
            dump_file.unlink(missing_ok=True)

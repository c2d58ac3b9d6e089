"""All database queries of backup and restore: the key rows the keys file carries (the
only rows a data backup leaves out), the snapshot a PostgreSQL dump shares with them,
and what a restore loads and counts."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.orm import Session

from consent_service.citizens.models import Citizen, CitizenKey

KEYS_TABLE = CitizenKey.__tablename__


def key_rows(conn: Connection) -> list[dict[str, Any]]:
    """Every ``citizen_key`` row, as the keys file holds it (the key still wrapped)."""
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


def make_self_contained(conn: sqlite3.Connection) -> None:
    """SQLite copy: one self-contained file, no write-ahead log beside it."""
    conn.execute("PRAGMA journal_mode=DELETE")


def erase_key_rows(path: Path) -> None:
    """SQLite copy: delete the key rows, overwritten and vacuumed so that no free page
    of the file still holds them."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute(f"DELETE FROM {KEYS_TABLE}")  # noqa: S608 - a constant
        conn.execute("VACUUM")
    finally:
        conn.close()


def export_snapshot(conn: Connection) -> str | None:
    """PostgreSQL: export this transaction's snapshot, for pg_dump to share."""
    snapshot: str | None = conn.scalar(text("SELECT pg_export_snapshot()"))
    return snapshot


def citizen_ids(session: Session) -> set[int]:
    """The id of every citizen row the restored data holds."""
    return set(session.scalars(select(Citizen.id)))


def insert_key_rows(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert key rows as the keys file holds them (decoded)."""
    if rows:
        session.execute(insert(CitizenKey), list(rows))


def count_citizens(session: Session) -> int:
    """How many citizen rows, tombstones included."""
    count: int | None = session.scalar(select(func.count()).select_from(Citizen))
    return count or 0

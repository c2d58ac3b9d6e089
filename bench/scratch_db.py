"""A scratch PostgreSQL database for a benchmark run: created fresh, dropped afterwards."""

from __future__ import annotations

import os
from collections.abc import Iterator

from sqlalchemy import create_engine, text

PG_ADMIN = os.environ.get("CONSENT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def scratch_database(prefix: str) -> Iterator[str]:
    """Yields the SQLAlchemy URL of a new database ``<prefix>_<pid>``; drops it after."""
    name = f"{prefix}_{os.getpid()}"
    admin = create_engine(
        PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

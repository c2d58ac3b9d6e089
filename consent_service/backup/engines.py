"""Database URLs and the command-line tools of the engines: which engine a URL names,
how it is shown without its password, and running pg_dump/pg_restore with the password
in the environment, never on a command line."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from consent_service.backup.files import ENGINES, BackupError


def parse(url: str) -> tuple[URL, str]:
    """The parsed URL and its engine (``sqlite`` or ``postgresql``)."""
    try:
        parsed = make_url(url)
    except Exception:
        raise BackupError("the database URL is not valid") from None
    engine = parsed.get_backend_name()
    if engine not in ENGINES:
        raise BackupError(f"backups support SQLite and PostgreSQL, not {engine}")
    return parsed, engine


def shown(parsed: URL) -> str:
    """The URL as a message may show it: without the password."""
    return parsed.render_as_string(hide_password=True)


def sqlite_path(parsed: URL) -> Path:
    """The database file a SQLite URL names; refuses an in-memory database."""
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("a SQLite backup needs a database file, not an in-memory database")
    return Path(parsed.database)


def libpq(parsed: URL) -> tuple[str, dict[str, str]]:
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


def tool(name: str) -> str:
    """The path of a PostgreSQL client tool; refuses when it is missing."""
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is missing: install the Debian package postgresql-client")
    return found


def run(args: list[str], env: dict[str, str]) -> None:
    """Run a tool; its first line of error output becomes the BackupError."""
    result = subprocess.run(args, env=env, capture_output=True, check=False)  # noqa: S603
    if result.returncode != 0:
        lines = [
            line for line in result.stderr.decode(errors="replace").splitlines() if line.strip()
        ]
        reason = lines[0] if lines else f"exit status {result.returncode}"
        raise BackupError(f"{Path(args[0]).name} failed: {reason}")


def db_problem(exc: SQLAlchemyError) -> str:
    """The first line of a database error, for a BackupError."""
    orig = getattr(exc, "orig", None)
    lines = str(orig or exc).splitlines()
    return lines[0] if lines else type(exc).__name__

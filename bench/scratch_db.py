"""A scratch database for a benchmark run, set up as in production: created fresh, dropped
afterwards.

PostgreSQL has the two logins of a production set-up (README, "Running on PostgreSQL"),
made here as the superuser if missing, with the names the tests use: the owner
(``consent_owner``) owns the database and runs the migrations, whose privileges step
grants the application login (``consent_app``) its privileges; the application login owns
nothing and is what the measured service code runs as. So a benchmark measures the
service with the grants, ``SECURITY DEFINER`` functions and checks it runs with in
production. The set-up restates what ``tests/conftest.py`` does (benchmarks do not import
the tests) and what ``consent-service migrate`` does (``migrate``).

SQLite has one file and no roles: both URLs are the same file. ``superuser=True`` gives
the set-up of the benchmarks before the two logins (everything as the superuser), to
compare against in the same run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from sqlalchemy import make_url

from consent_service.clock import SystemClock
from consent_service.config import Settings
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.identity import users as identity
from consent_service.migrations import upgrade

PG_ADMIN = os.environ.get("CONSENT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_OWNER = "consent_owner"  # owns the database, its tables and functions; migrates
PG_APP = "consent_app"  # the application login: owns nothing, has the declared grants


@dataclass(frozen=True)
class ScratchDatabase:
    """SQLAlchemy URLs of one database: as its owner (migrations, bulk loads, VACUUM) and
    as the application login (everything the service does)."""

    owner_url: str
    app_url: str

    @property
    def is_sqlite(self) -> bool:
        return self.app_url.startswith("sqlite")


def sqlite_database(url: str) -> ScratchDatabase:
    return ScratchDatabase(owner_url=url, app_url=url)


def ensure_roles() -> None:
    """The two logins, made once per cluster (idempotent, safe when processes race)."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for role in (PG_OWNER, PG_APP):
            try:
                conn.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')
            except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
                pass


def _as_login(url: str, user: str) -> str:
    return make_url(url).set(username=user).render_as_string(hide_password=False)


def scratch_database(prefix: str, *, superuser: bool = False) -> Iterator[ScratchDatabase]:
    """Yields a new PostgreSQL database ``<prefix>_<pid>`` owned by the owner login (not
    yet migrated: see ``migrate``); drops it after. ``superuser``: owned by and used as
    the superuser, for comparison only."""
    name = f"{prefix}_{os.getpid()}"
    owner = make_url(PG_ADMIN).username or "postgres"
    if not superuser:
        ensure_roles()
        owner = PG_OWNER
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    url = _as_login(f"{base}/{name}", owner)
    try:
        if superuser:
            yield ScratchDatabase(owner_url=url, app_url=url)
        else:
            yield ScratchDatabase(owner_url=url, app_url=_as_login(url, PG_APP))
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(db: ScratchDatabase, keys: dict[str, str]) -> None:
    """``consent-service migrate``: as the owner, the migrations and the privileges step
    (granting the application login on PostgreSQL), then the key check row."""
    settings = Settings(database_url=db.owner_url, **keys)  # type: ignore[arg-type]
    ctx = AppContext.build(settings, SystemClock())
    try:
        app_role = make_url(db.app_url).username if db.app_url != db.owner_url else None
        upgrade(ctx.engine, app_role=app_role)
        with session_scope(ctx.sessions) as session:
            identity.ensure_key_check(session, ctx.crypto, ctx.clock)
    finally:
        ctx.engine.dispose()

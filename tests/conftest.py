"""Shared fixtures: keys generated per run, a fresh migrated database per test on SQLite
and on PostgreSQL, an app with a fixed clock, and users who have enrolled TOTP.

Databases: the schema is made once per run and engine with ``alembic upgrade head`` (which
also tests the migrations); each test then gets its own copy (a file copy on SQLite, a
``CREATE DATABASE ... TEMPLATE`` on PostgreSQL).

PostgreSQL runs as in production, with two logins (README, "Running on PostgreSQL"), made
here as the superuser if missing: the owner (``consent_owner``) owns the databases and
migrates, the application login (``consent_app``) owns nothing and is what ``db_url``,
``settings``, ``ctx`` and ``client`` use, so a missing grant fails the test that needs
it. Tests that must act as the owner or superuser (tamper helpers, restore) ask for it
with ``owner_url``/``superuser_url``. A copy per test rather than a rolled-back
transaction, because denials and failed logins are recorded in transactions of their own,
and browser tests need a real server, so tests must see real commits.
"""

from __future__ import annotations

import base64
import itertools
import logging
import os
import queue
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import structlog
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text

from consent_service.app import create_app
from consent_service.clock import FixedClock
from consent_service.config import Settings
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.identity import passwords, totp
from consent_service.identity import users as identity
from consent_service.identity.models import Organisation, User
from consent_service.identity.passwords import hash_password
from consent_service.migrations import upgrade

PG_ADMIN_URL = os.environ.get("CONSENT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_OWNER = "consent_owner"  # owns every table and function; runs migrate and restore
PG_APP = "consent_app"  # the application login: owns nothing
IN_CI = os.environ.get("CI", "").lower() == "true"
# Every database test runs on both engines; ``CONSENT_TEST_ENGINES=sqlite`` narrows that (how
# ``consent-service rules verify`` runs the scenarios on a scratch SQLite file only).
ENGINES = [
    e.strip()
    for e in os.environ.get("CONSENT_TEST_ENGINES", "sqlite,postgresql").split(",")
    if e.strip() in ("sqlite", "postgresql")
] or ["sqlite", "postgresql"]
_counter = itertools.count()

# Passwords in the tests are argon2id hashes at the lowest cost argon2 allows (one pass over
# 8 KiB): the production profile (RFC 9106 low-memory: 3 passes over 64 MiB, 4 lanes) costs
# 0.4-0.5 s of CPU per hash or login here, and the suite makes thousands. Only the cost
# parameters differ; ``tests/unit/test_passwords.py`` checks the service's own hasher keeps
# the production profile. Servers the tests start as subprocesses use it unchanged.
PRODUCTION_HASHER = passwords._hasher
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
passwords._DUMMY_HASH = passwords._hasher.hash("consent-service-dummy-password")
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ORIGIN = "samtykke.test/audit"  # the audit log's origin in the tests' checkpoints


def _sqla_pg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def as_login(url: str, user: str) -> str:
    """The same database (a SQLAlchemy URL), logged in as ``user`` (trust auth in tests)."""
    return make_url(url).set(username=user).render_as_string(hide_password=False)


def owner_url(url: str) -> str:
    """The database of ``url`` as its owner (SQLite: one file, no roles: unchanged)."""
    return url if url.startswith("sqlite") else as_login(url, PG_OWNER)


def app_url(url: str) -> str:
    """The database of ``url`` as the application login (SQLite: unchanged)."""
    return url if url.startswith("sqlite") else as_login(url, PG_APP)


def superuser_url(url: str) -> str:
    """The database of ``url`` as the PostgreSQL superuser (SQLite: unchanged)."""
    admin = make_url(PG_ADMIN_URL).username or "postgres"
    return url if url.startswith("sqlite") else as_login(url, admin)


def owner_engine(ctx: AppContext) -> Engine:
    """An engine on the context's database as the owner: for what only the owner may do
    (tamper, create triggers). Dispose it after use."""
    return create_engine(owner_url(ctx.engine.url.render_as_string(hide_password=False)))


def ensure_roles() -> None:
    """The two logins of a production set-up, made once per cluster (idempotent, and safe
    when several test processes race)."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for role in (PG_OWNER, PG_APP):
            try:
                conn.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')
            except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
                pass


def _pg_available() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def test_keys() -> dict[str, str]:
    """Fresh keys for this run: never from the repository."""
    return {
        name: base64.b64encode(os.urandom(32)).decode()
        for name in ("master_key", "index_key", "signing_key")
    }


def make_settings(url: str, keys: dict[str, str], **extra: object) -> Settings:
    extra.setdefault("audit_origin", ORIGIN)
    return Settings(database_url=url, **keys, **extra)  # type: ignore[arg-type]


def _migrate(url: str, keys: dict[str, str], app_role: str | None = None) -> None:
    settings = make_settings(url, keys)
    ctx = AppContext.build(settings, FixedClock(START))
    upgrade(ctx.engine, app_role=app_role)
    with session_scope(ctx.sessions) as session:
        identity.ensure_key_check(session, ctx.crypto, ctx.clock)
    ctx.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory, test_keys: dict[str, str]) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrate(f"sqlite:///{path}", test_keys)
    return path


@pytest.fixture(scope="session")
def pg_template(test_keys: dict[str, str]) -> Iterator[str]:
    problem = _pg_available()
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI and unreachable: {problem}")
        pytest.skip(f"PostgreSQL unreachable: {problem}")
    ensure_roles()
    name = f"cs_tpl_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{PG_OWNER}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    _migrate(as_login(_sqla_pg(f"{base}/{name}"), PG_OWNER), test_keys, app_role=PG_APP)
    yield name
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PgCopies:
    """Fresh copies of the PostgreSQL template for one test process, made one ahead and
    dropped after use by a thread of their own, so a test waits for neither: a
    ``CREATE DATABASE ... TEMPLATE`` and a ``DROP DATABASE`` take 0.2-0.6 s here, mostly
    waiting on the disk, for each of some 1,300 PostgreSQL tests. Each copy is still made
    once per test and never reused."""

    def __init__(self, template: str) -> None:
        self._template = template
        self._jobs: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        self._ready: queue.SimpleQueue[tuple[str, BaseException | None]] = queue.SimpleQueue()
        self._failures: list[str] = []
        self._thread = threading.Thread(target=self._run, name="pg-copies", daemon=True)
        self._thread.start()
        self._ask()

    def _ask(self) -> None:
        self._jobs.put(("create", f"cs_t_{os.getpid()}_{next(_counter)}"))

    def _run(self) -> None:
        try:
            conn = psycopg.connect(PG_ADMIN_URL, autocommit=True)
        except psycopg.Error as exc:
            self._ready.put(("", exc))  # the first ``take`` raises it
            return
        with conn:
            while (job := self._jobs.get()) is not None:
                kind, name = job
                try:
                    if kind == "create":
                        conn.execute(
                            f'CREATE DATABASE "{name}" TEMPLATE "{self._template}" '
                            f'OWNER "{PG_OWNER}"'
                        )
                    else:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                except psycopg.Error as exc:
                    if kind == "create":
                        self._ready.put((name, exc))
                    else:
                        self._failures.append(f"{name}: {exc}")
                    continue
                if kind == "create":
                    self._ready.put((name, None))

    def take(self) -> str:
        """A fresh copy's name; the next one is started at once."""
        name, problem = self._ready.get(timeout=300)
        self._ask()
        if problem is not None:
            raise problem
        return name

    def drop(self, name: str) -> None:
        self._jobs.put(("drop", name))

    def close(self) -> list[str]:
        """Drop the copy made ahead, wait for every drop; the drops that failed."""
        if self._thread.is_alive():
            name, problem = self._ready.get(timeout=300)
            if problem is None:
                self.drop(name)
        self._jobs.put(None)
        self._thread.join(timeout=300)
        return self._failures


@pytest.fixture(scope="session")
def pg_copies(pg_template: str) -> Iterator[PgCopies]:
    copies = PgCopies(pg_template)
    yield copies
    failures = copies.close()
    assert not failures, f"test databases not dropped: {failures}"


@pytest.fixture(params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of each engine; on PostgreSQL as the application login."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    copies: PgCopies = request.getfixturevalue("pg_copies")
    name = copies.take()
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield app_url(_sqla_pg(f"{base}/{name}"))
    finally:
        copies.drop(name)


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """A test that configures logging (a command run in-process through ``cli.main``, a
    fixture capturing log lines into a buffer) leaves it as it found it, so the next test
    on the same worker still sees its own log lines."""
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**config)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def settings(db_url: str, test_keys: dict[str, str]) -> Settings:
    return make_settings(db_url, test_keys)


@pytest.fixture
def ctx(settings: Settings, clock: FixedClock) -> Iterator[AppContext]:
    context = AppContext.build(settings, clock)
    yield context
    context.engine.dispose()


@pytest.fixture
def client(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx), follow_redirects=False) as c:
        yield c


# --- people ---------------------------------------------------------------------------------

PASSWORD = "lang og sikker sætning om kaffe"  # a passphrase, valid under the policy


@dataclass
class Person:
    user_id: int
    username: str
    password: str
    secret: str
    organisation_id: int
    role: str


def organisation(ctx: AppContext, name: str = "Region Midtjylland") -> int:
    with session_scope(ctx.sessions) as session:
        from consent_service.identity import repository

        org = repository.organisation_by_name(session, name)
        if org is None:
            org = Organisation(name=name, created_at=ctx.clock.now())
            session.add(org)
            session.flush()
        return org.id


def enrolled_person(
    ctx: AppContext, role: str, username: str | None = None, org_name: str = "Region Midtjylland"
) -> Person:
    """A user who has set a password and enrolled TOTP, made directly in the database."""
    org_id = organisation(ctx, org_name)
    username = username or f"{role}{next(_counter)}"
    secret = totp.new_secret()
    with session_scope(ctx.sessions) as session:
        now = ctx.clock.now()
        user = User(
            organisation_id=org_id,
            username=username,
            display_name=f"Test {role}",
            role=role,
            password_hash=hash_password(PASSWORD),
            must_change_password=False,
            is_active=True,
            password_failures=0,
            password_lockouts=0,
            code_failures=0,
            needs_admin_unlock=False,
            created_at=now,
            updated_at=now,
        )
        session.add(user)
        session.flush()
        user.totp_secret_sealed = ctx.crypto.seal_totp_secret(user.id, secret)
        user.totp_enrolled_at = now
        return Person(user.id, username, PASSWORD, secret, org_id, role)


def current_code(person: Person, clock: FixedClock) -> str:
    return totp.code_for_step(person.secret, totp.time_step(clock.now()))


def csrf_from(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def log_in(client: TestClient, person: Person, clock: FixedClock) -> str:
    """Full login (password, then a fresh code); returns the session's CSRF token."""
    clock.advance(timedelta(seconds=30))  # a new time step: codes work once
    page = client.get("/login")
    r = client.post(
        "/login",
        data={
            "username": person.username,
            "password": person.password,
            "csrf_token": csrf_from(page.text),
        },
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/login/kode"
    page = client.get("/login/kode")
    r = client.post(
        "/login/kode",
        data={"code": current_code(person, clock), "csrf_token": csrf_from(page.text)},
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    return csrf_from(home.text)


def refuse_inserts(ctx: AppContext, table: str) -> None:
    """A trigger that makes every INSERT into ``table`` fail, as a full disk or a broken
    constraint would; ``allow_inserts`` removes it. Made as the owner: the application
    login cannot."""
    if ctx.engine.dialect.name == "sqlite":
        with ctx.engine.begin() as conn:
            conn.execute(
                text(
                    f"CREATE TRIGGER test_refuse BEFORE INSERT ON {table} "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )
        return
    engine = owner_engine(ctx)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation'; "
                "END $$"
            )
        )
        conn.execute(
            text(
                f"CREATE TRIGGER test_refuse BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION test_refuse()"
            )
        )
    engine.dispose()


def allow_inserts(ctx: AppContext, table: str) -> None:
    if ctx.engine.dialect.name == "sqlite":
        with ctx.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER test_refuse"))
        return
    engine = owner_engine(ctx)
    with engine.begin() as conn:
        conn.execute(text(f"DROP TRIGGER test_refuse ON {table}"))
        conn.execute(text("DROP FUNCTION test_refuse()"))
    engine.dispose()

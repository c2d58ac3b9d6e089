"""Least privilege on PostgreSQL, tried as the attacker would: with the application's own
database login (what an SQL injection or a leaked connection string gives), every way of
changing, deleting or reordering audit events, faking a purge or changing the schema is
refused by the database itself. The rest of the suite runs as the same login, so a grant
the service needs and lacks fails there."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from consent_service.app import create_app
from consent_service.audit.catalogue import default_event_catalogue
from consent_service.audit.checkpoints import sign_head
from consent_service.audit.recorder import SYSTEM, Actor, seal_pending
from consent_service.audit.retention import purge_expired
from consent_service.audit.service import verify_chain
from consent_service.cli import main
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.migrations import upgrade
from consent_service.migrations.privileges import ALL_DML, APP_GRANTS
from consent_service.models import Base
from consent_service.startup import StartupError, check_database
from tests.conftest import (
    ORIGIN,
    PG_APP,
    PG_OWNER,
    as_login,
    make_settings,
    owner_url,
    superuser_url,
)

INSUFFICIENT_PRIVILEGE = "42501"
READER = Actor(user_id=1, username="nav1", organisation_id=1, source_ip="10.0.0.1")


@pytest.fixture
def app_engine(db_url: str) -> Iterator[Engine]:
    """The application login's own connection to a fresh, migrated database."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite has one file and no logins: least privilege is PostgreSQL's")
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


def _record(ctx: AppContext, clock: FixedClock, n: int, at: datetime) -> None:
    clock.set(at)
    with session_scope(ctx.sessions) as session:
        for i in range(n):
            ctx.audit.record(
                session, READER, action="citizen.read", outcome="success",
                resource_type="citizen", resource_id=f"c{i}",
            )  # fmt: skip
            clock.advance(timedelta(minutes=1))


def _sign(ctx: AppContext) -> int:
    with session_scope(ctx.sessions) as session:
        checkpoint = sign_head(
            session, ctx.crypto, ctx.clock, ctx.audit, SYSTEM, "interval", origin=ORIGIN
        )
        assert checkpoint is not None
        return checkpoint.seq


def _log(engine: Engine) -> list[tuple[int, str, str]]:
    with engine.connect() as conn:
        return [
            (r.seq, r.hash, r.outcome)
            for r in conn.execute(text("SELECT seq, hash, outcome FROM audit_event ORDER BY seq"))
        ]


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _refused(engine: Engine, *statements: str) -> str:
    """Run the statements in one transaction; the database must refuse with
    insufficient_privilege. Returns its message."""

    def attempt() -> None:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))

    with pytest.raises(DBAPIError) as caught:
        attempt()
    orig = caught.value.orig
    assert isinstance(orig, psycopg.Error)
    assert orig.sqlstate == INSUFFICIENT_PRIVILEGE, orig
    return str(orig)


def _stage(conn: Connection, occurred_at: str = "now()") -> None:
    conn.execute(
        text(
            "INSERT INTO audit_pending (occurred_at, action, outcome, details) "
            f"VALUES ({occurred_at}, 'citizen.read', 'success', '{{}}')"
        )
    )


# --- the login itself ---------------------------------------------------------------------


def test_the_application_login_is_no_superuser_and_owns_nothing(app_engine: Engine) -> None:
    with app_engine.connect() as conn:
        row = conn.execute(
            text("SELECT current_user AS me, rolsuper FROM pg_roles WHERE rolname = current_user")
        ).one()
        owned = conn.execute(
            text(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND pg_has_role(current_user, c.relowner, 'MEMBER')"
            )
        ).scalar_one()
    assert (row.me, row.rolsuper, owned) == (PG_APP, False, 0)


# --- the audit log ------------------------------------------------------------------------


def test_the_sealing_setting_no_longer_lets_staged_events_be_deleted(app_engine: Engine) -> None:
    with app_engine.begin() as conn:
        _stage(conn)
    message = _refused(app_engine, "SET LOCAL audit.sealing = 'on'", "DELETE FROM audit_pending")
    assert "permission denied for table audit_pending" in message
    assert _count(app_engine, "audit_pending") == 1


def test_the_application_login_cannot_disable_a_trigger(
    ctx: AppContext, clock: FixedClock, app_engine: Engine
) -> None:
    _record(ctx, clock, 2, datetime.now(UTC))
    before = _log(app_engine)
    for table in (
        "audit_event", "audit_pending", "audit_checkpoint", "audit_purge", "audit_cosignature",
    ):  # fmt: skip
        message = _refused(app_engine, f"ALTER TABLE {table} DISABLE TRIGGER ALL")
        assert "must be owner" in message
    # Nor redefine or strip the functions that run as the owner.
    _refused(app_engine, "ALTER FUNCTION audit_seal(bigint, integer) SECURITY INVOKER")
    _refused(
        app_engine,
        "CREATE OR REPLACE FUNCTION audit_seal(p_lock_key bigint, p_batch integer) "
        "RETURNS integer LANGUAGE sql AS 'SELECT 0'",
    )
    _refused(app_engine, "DROP FUNCTION audit_purge_expired(integer, text, integer, text, text)")
    assert _log(app_engine) == before


AUDIT_TABLES = [
    "audit_event", "audit_pending", "audit_checkpoint", "audit_purge", "audit_cosignature",
]  # fmt: skip
STAGED = ("audit_event", "audit_pending", "audit_checkpoint")


@pytest.mark.parametrize("table", AUDIT_TABLES)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {table} SET {key} = {key}",
        "DELETE FROM {table}",
        "TRUNCATE {table} CASCADE",
    ],
)
def test_no_audit_table_can_be_changed_or_emptied(
    ctx: AppContext, clock: FixedClock, app_engine: Engine, table: str, statement: str
) -> None:
    _record(ctx, clock, 3, datetime.now(UTC))
    _sign(ctx)
    with app_engine.begin() as conn:
        _stage(conn)
    counts = {t: _count(app_engine, t) for t in STAGED}
    log = _log(app_engine)
    key = "seq" if table == "audit_event" else "id"
    message = _refused(app_engine, statement.format(table=table, key=key))
    assert "permission denied" in message
    assert {t: _count(app_engine, t) for t in counts} == counts
    assert _log(app_engine) == log


def test_events_cannot_be_written_into_the_chain_directly(app_engine: Engine) -> None:
    _refused(
        app_engine,
        "INSERT INTO audit_event (seq, occurred_at, action, outcome, details, prev_hash, hash) "
        f"VALUES (1, now(), 'citizen.read', 'success', '{{}}', '{'0' * 64}', '{'1' * 64}')",
    )


def test_a_purge_record_cannot_be_faked(
    ctx: AppContext, clock: FixedClock, app_engine: Engine
) -> None:
    _record(ctx, clock, 3, datetime.now(UTC))
    seq = _sign(ctx)
    _refused(
        app_engine,
        "INSERT INTO audit_purge (up_to_seq, events, removed_sha256, purged_at) "
        f"VALUES ({seq}, {seq}, '{'0' * 64}', now())",
    )
    # Nor shortened retention periods for the database's own purge.
    _refused(app_engine, "UPDATE audit_retention SET months = 1")
    _refused(app_engine, "DELETE FROM audit_retention")
    _refused(
        app_engine,
        "INSERT INTO audit_retention (action, months) VALUES ('test.fake', 1)",
    )
    assert _count(app_engine, "audit_purge") == 0


def test_an_unsigned_checkpoint_and_a_purge_call_remove_nothing_unexpired(
    ctx: AppContext, clock: FixedClock, app_engine: Engine
) -> None:
    _record(ctx, clock, 4, datetime.now(UTC) - timedelta(days=10))
    # Events the attacker backdates: chained after the real ones, so they hold back nothing.
    with app_engine.begin() as conn:
        _stage(conn, "now() - interval '20 years'")
    seal_pending(app_engine)
    log = _log(app_engine)
    head_seq, head_hash, _ = log[-1]
    with app_engine.begin() as conn:  # the application login may add checkpoint rows
        conn.execute(
            text(
                "INSERT INTO audit_checkpoint (origin, seq, hash, signed_at, key_id, signature,"
                " made_for) VALUES ('samtykke.test/audit',"
                " :seq, :hash, now(), 'forged', 'not a signature', 'interval')"
            ),
            {"seq": head_seq, "hash": head_hash},
        )
        conn.execute(
            text(
                "INSERT INTO audit_checkpoint (origin, seq, hash, signed_at, key_id, signature,"
                " made_for) VALUES ('samtykke.test/audit',"
                " 2, :hash, now(), 'forged', 'not a signature', 'interval')"
            ),
            {"hash": "f" * 64},  # not event 2's hash: never a boundary
        )
        removed = conn.execute(
            text("SELECT * FROM audit_purge_expired(NULL, 'attacker', NULL, NULL, NULL)")
        ).all()
    assert removed == []
    assert _log(app_engine) == log
    assert _count(app_engine, "audit_purge") == 0


def test_a_purge_before_the_retention_period_removes_nothing(
    ctx: AppContext, clock: FixedClock, app_engine: Engine
) -> None:
    deadline = default_event_catalogue().retention_deadline
    _record(ctx, clock, 4, datetime.now(UTC) - timedelta(days=150))  # kept 6 months
    _sign(ctx)
    _record(ctx, clock, 2, datetime.now(UTC))
    _sign(ctx)
    log = _log(app_engine)
    clock.set(datetime.now(UTC) + timedelta(days=3650))  # the service's clock does not decide
    with session_scope(ctx.sessions) as session:
        plan = purge_expired(session, ctx.clock, ctx.audit, SYSTEM, deadline)
    assert plan.up_to_seq is None
    assert _log(app_engine) == log
    assert _count(app_engine, "audit_purge") == 0


def test_the_purge_function_removes_an_expired_segment_and_records_it(
    ctx: AppContext, clock: FixedClock, app_engine: Engine
) -> None:
    deadline = default_event_catalogue().retention_deadline
    _record(ctx, clock, 4, datetime.now(UTC) - timedelta(days=200))  # kept 6 months
    boundary = _sign(ctx)
    _record(ctx, clock, 2, datetime.now(UTC) - timedelta(days=1))
    _sign(ctx)
    removed = [(seq, h) for seq, h, _ in _log(app_engine) if seq <= boundary]
    with session_scope(ctx.sessions) as session:
        plan = purge_expired(session, ctx.clock, ctx.audit, SYSTEM, deadline)
    assert (plan.up_to_seq, plan.events, plan.segments) == (boundary, boundary, 1)
    digest = hashlib.sha256(b"".join(bytes.fromhex(h) for _, h in removed)).hexdigest()
    with app_engine.connect() as conn:
        purge = conn.execute(text("SELECT * FROM audit_purge")).one()
        event = conn.execute(
            text(
                "SELECT actor_username, details FROM audit_event "
                "WHERE action = 'audit.purged' ORDER BY seq"
            )
        ).one()  # sealed when the purge committed
        lowest = conn.execute(text("SELECT min(seq) FROM audit_event")).scalar_one()
    assert (purge.up_to_seq, purge.events, purge.removed_sha256) == (boundary, boundary, digest)
    assert purge.up_to_hash == removed[-1][1]
    assert lowest == boundary + 1
    details = json.loads(event.details)
    assert event.actor_username == SYSTEM.username
    assert details == {
        "up_to_seq": boundary,
        "events": boundary,
        "segments": 1,
        "removed_sha256": digest,
        "up_to_hash": removed[-1][1],
    }
    assert set(details) == set(default_event_catalogue().events["audit.purged"].fields)
    with ctx.sessions() as session:
        result = verify_chain(session, ctx.crypto.public_key)
    assert result.problems == ()  # the chain starts at a signed, confirmed purge


# --- the schema ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE citizen CASCADE",
        "ALTER TABLE citizen ADD COLUMN stolen text",
        "ALTER TABLE consent DISABLE TRIGGER ALL",
        "CREATE TABLE public.stash (x text)",
        "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE SCHEMA stash",
        "UPDATE key_check SET master_check = master_check",
        "UPDATE alembic_version SET version_num = version_num",
        "UPDATE consent SET id = id",
    ],
)
def test_the_application_login_cannot_change_the_schema(app_engine: Engine, statement: str) -> None:
    _refused(app_engine, statement)


# --- who may run the service --------------------------------------------------------------


def test_check_and_readyz_refuse_the_owner_and_a_superuser(
    db_url: str, test_keys: dict[str, str], app_engine: Engine
) -> None:
    for url, reason in (
        (owner_url(db_url), f"'{PG_OWNER}' owns the tables"),
        (superuser_url(db_url), "is a superuser"),
    ):
        other = AppContext.build(make_settings(url, test_keys))
        try:
            with pytest.raises(StartupError, match=reason):
                check_database(other.engine, other.crypto)
            with TestClient(create_app(other)) as client:
                assert client.get("/readyz").status_code == 503
        finally:
            other.engine.dispose()
    ctx = AppContext.build(make_settings(db_url, test_keys))
    try:
        check_database(ctx.engine, ctx.crypto)  # the application login is in order
        with TestClient(create_app(ctx)) as client:
            assert client.get("/readyz").status_code == 200
    finally:
        ctx.engine.dispose()


def _cli_env(monkeypatch: pytest.MonkeyPatch, keys: dict[str, str], tmp: str) -> None:
    monkeypatch.setenv("CONSENT_ENV_FILE", f"{tmp}/absent.env")
    for name, value in keys.items():
        monkeypatch.setenv(f"CONSENT_{name.upper()}", value)


def test_check_as_the_owner_prints_one_line(
    db_url: str,
    test_keys: dict[str, str],
    app_engine: Engine,
    tmp_path: object,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _cli_env(monkeypatch, test_keys, str(tmp_path))
    monkeypatch.setenv("CONSENT_DATABASE_URL", owner_url(db_url))
    assert main(["check"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "owns the tables" in err[0]
    assert "CONSENT_MIGRATION_DATABASE_URL" in err[0]
    monkeypatch.setenv("CONSENT_DATABASE_URL", db_url)
    assert main(["check"]) == 0


def test_migrate_runs_as_the_owner_and_grants_the_application_login(
    db_url: str,
    test_keys: dict[str, str],
    app_engine: Engine,
    tmp_path: object,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _cli_env(monkeypatch, test_keys, str(tmp_path))
    monkeypatch.setenv("CONSENT_MIGRATION_DATABASE_URL", owner_url(db_url))
    monkeypatch.setenv("CONSENT_DATABASE_URL", db_url)
    assert main(["migrate"]) == 0  # idempotent on a migrated database
    assert main(["check"]) == 0
    # The same login for both: refused, since the application login would own the tables.
    monkeypatch.setenv("CONSENT_DATABASE_URL", owner_url(db_url))
    capsys.readouterr()
    assert main(["migrate"]) == 2
    assert "is the owner" in capsys.readouterr().err
    # An application login that does not exist: one clear line.
    monkeypatch.setenv("CONSENT_DATABASE_URL", as_login(db_url, "consent_nobody"))
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "'consent_nobody' of CONSENT_DATABASE_URL does not exist" in err[0]


def test_the_privileges_step_restores_the_functions_after_a_create_or_replace(
    db_url: str, test_keys: dict[str, str], app_engine: Engine
) -> None:
    """A later migration (``CREATE OR REPLACE FUNCTION audit_seal``) resets SECURITY
    DEFINER and the search_path; the step after every upgrade puts them back."""
    owner = create_engine(owner_url(db_url))
    try:
        with owner.begin() as conn:
            definition = conn.execute(
                text("SELECT pg_get_functiondef('audit_seal(bigint, integer)'::regprocedure)")
            ).scalar_one()
            plain = definition.replace(" SECURITY DEFINER", "").replace(
                " SET search_path TO 'pg_catalog', 'public'", ""
            )
            assert plain != definition
            conn.execute(text(plain))
            conn.execute(text("GRANT EXECUTE ON FUNCTION audit_seal(bigint, integer) TO PUBLIC"))
        upgrade(owner, app_role=PG_APP)
        with owner.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT p.proname, p.prosecdef, p.proconfig, pg_get_userbyid(p.proowner) AS "
                    "owner, has_function_privilege(:app, p.oid, 'EXECUTE') AS app_may, "
                    "coalesce(p.proacl::text, '') AS acl FROM pg_proc p "
                    "WHERE p.proname IN ('audit_seal', 'audit_purge_expired') ORDER BY p.proname"
                ),
                {"app": PG_APP},
            ).all()
    finally:
        owner.dispose()
    assert [r.proname for r in rows] == ["audit_purge_expired", "audit_seal"]
    for row in rows:
        assert row.prosecdef
        assert "search_path=pg_catalog, public" in row.proconfig
        assert row.owner == PG_OWNER
        assert row.app_may
        assert not any(entry.startswith("=") for entry in row.acl.strip("{}").split(","))


def test_the_database_knows_the_catalogue_s_retention_periods(app_engine: Engine) -> None:
    """audit_retention (synced by migrate) gives, in the purge function's UTC arithmetic,
    the deadline the catalogue gives, month ends included."""
    catalogue = default_event_catalogue()
    at = datetime(2026, 8, 31, 23, 30, tzinfo=UTC)  # a month end: six months on is Feb 28
    with app_engine.begin() as conn:
        conn.execute(text("SET LOCAL TimeZone = 'UTC'"))
        rows = conn.execute(
            text(
                "SELECT action, coalesce(keep_until, CAST(:at AS timestamptz) "
                "+ make_interval(months => months)) AS until FROM audit_retention"
            ),
            {"at": at},
        ).all()
    assert {r.action for r in rows} == set(catalogue.events)
    for row in rows:
        assert row.until == catalogue.retention_deadline(row.action, at), row.action


# --- the declared grants ------------------------------------------------------------------


def test_every_table_has_declared_grants() -> None:
    """Deny by default: a table nobody declared gets no privilege, so a new model's table
    must be named in APP_GRANTS (with what the application login may do to it)."""
    declared = set(APP_GRANTS)
    assert set(Base.metadata.tables) | {"alembic_version"} == declared
    assert all(set(grants) <= set(ALL_DML) for grants in APP_GRANTS.values())


def test_the_application_login_holds_exactly_the_declared_grants(app_engine: Engine) -> None:
    with app_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = current_user AND table_schema = 'public'"
            )
        ).all()
    held: dict[str, set[str]] = {}
    for table, privilege in rows:
        held.setdefault(table, set()).add(privilege)
    assert held == {table: set(grants) for table, grants in APP_GRANTS.items() if grants}

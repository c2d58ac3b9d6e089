"""The migrations produce exactly the models' schema, and protect the audit log.

The triggers are tested as the owner (on PostgreSQL the application login may not even
try: tests/integration/test_database_privileges.py): they hold against the owner too,
as defence in depth."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from consent_service.db import make_engine
from consent_service.migrations import alembic_config
from consent_service.models import Base
from consent_service.startup import migration_heads
from tests.conftest import owner_url


def test_migrations_match_the_models(db_url: str) -> None:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        diff = compare_metadata(ctx, Base.metadata)
        assert set(ctx.get_current_heads()) == migration_heads()
    engine.dispose()
    assert diff == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET outcome = 'allow'",
        "DELETE FROM audit_event",
    ],
)
def test_the_database_refuses_changes_to_the_audit_log(db_url: str, statement: str) -> None:
    engine = create_engine(owner_url(db_url))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_event (seq, occurred_at, action, outcome, details, prev_hash,"
                " hash) VALUES (1, CURRENT_TIMESTAMP, 'test', 'success', '{}', :p, :h)"
            ),
            {"p": "0" * 64, "h": "1" * 64},
        )
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT outcome FROM audit_event")).scalar_one() == "success"
    engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_checkpoint SET hash = :h",
        "DELETE FROM audit_checkpoint",
    ],
)
def test_the_database_refuses_changes_to_a_signed_checkpoint(db_url: str, statement: str) -> None:
    engine = create_engine(owner_url(db_url))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_checkpoint (origin, seq, hash, signed_at, key_id, signature,"
                " made_for) VALUES ('samtykke.test/audit',"
                " 1, :h, CURRENT_TIMESTAMP, 'k', 's', 'on_demand')"
            ),
            {"h": "1" * 64},
        )
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement), {"h": "2" * 64})
    with engine.connect() as conn:
        assert conn.execute(text("SELECT hash FROM audit_checkpoint")).scalar_one() == "1" * 64
    engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_cosignature SET line = 'forged'",
        "DELETE FROM audit_cosignature",
    ],
)
def test_the_database_refuses_changes_to_a_kept_cosignature(db_url: str, statement: str) -> None:
    """Even the owner: the triggers of revision 0009, on both engines."""
    engine = create_engine(owner_url(db_url))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_cosignature (witness, witness_key_id, origin, seq,"
                " cosigned_at, received_at, line) VALUES ('w.example/witness', '01020304',"
                " 'samtykke.test/audit', 3, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'line')"
            )
        )
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT line FROM audit_cosignature")).scalar_one() == "line"
    engine.dispose()


@pytest.mark.parametrize(
    "table", ["audit_event", "audit_checkpoint", "audit_purge", "audit_cosignature"]
)
def test_postgres_refuses_truncate(db_url: str, table: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    engine = create_engine(owner_url(db_url))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {table} CASCADE"))
    engine.dispose()


def test_audit_events_go_only_through_a_recorded_purge(db_url: str) -> None:
    """Log retention's narrow path: DELETE passes only at or below a purge record, which
    must name a signed checkpoint; UPDATE is refused even there."""
    engine = make_engine(owner_url(db_url))  # the service's engine: SQLite enforces FKs
    with engine.begin() as conn:
        for seq in (1, 2, 3):
            conn.execute(
                text(
                    "INSERT INTO audit_event (seq, occurred_at, action, outcome, details,"
                    " prev_hash, hash) VALUES (:s, CURRENT_TIMESTAMP, 'test', 'success', '{}',"
                    " :p, :h)"
                ),
                {"s": seq, "p": str(seq - 1) * 64, "h": str(seq) * 64},
            )
        conn.execute(
            text(
                "INSERT INTO audit_checkpoint (origin, seq, hash, signed_at, key_id, signature,"
                " made_for) VALUES ('samtykke.test/audit',"
                " 2, :h, CURRENT_TIMESTAMP, 'k', 's', 'interval')"
            ),
            {"h": "2" * 64},
        )
    with pytest.raises(DBAPIError), engine.begin() as conn:  # no such checkpoint
        conn.execute(
            text(
                "INSERT INTO audit_purge (up_to_seq, events, removed_sha256, purged_at)"
                " VALUES (3, 3, :h, CURRENT_TIMESTAMP)"
            ),
            {"h": "0" * 64},
        )
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_purge (up_to_seq, events, removed_sha256, purged_at)"
                " VALUES (2, 2, :h, CURRENT_TIMESTAMP)"
            ),
            {"h": "0" * 64},
        )
        conn.execute(text("DELETE FROM audit_event WHERE seq <= 2"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq = 3"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET outcome = 'allow' WHERE seq = 3"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_purge"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT seq FROM audit_event")).scalars().all() == [3]
    engine.dispose()


def test_postgres_analyses_the_audit_log_after_a_fixed_number_of_new_events(db_url: str) -> None:
    """Migration 0021: on PostgreSQL autovacuum analyses ``audit_event`` after 20,000 new
    events whatever its size (not after 10% of it); going back to 0020 resets that.
    SQLite has no autovacuum statistics: the migration leaves it as it is."""
    engine = create_engine(owner_url(db_url))
    postgresql = engine.dialect.name == "postgresql"
    options = text("SELECT reloptions FROM pg_class WHERE oid = 'audit_event'::regclass")
    cfg = alembic_config()
    try:
        if postgresql:
            with engine.connect() as conn:
                assert sorted(conn.execute(options).scalar_one()) == [
                    "autovacuum_analyze_scale_factor=0",
                    "autovacuum_analyze_threshold=20000",
                ]
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0020")
        if postgresql:
            with engine.connect() as conn:
                assert conn.execute(options).scalar_one() is None
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0021")
        if postgresql:
            with engine.connect() as conn:
                assert len(conn.execute(options).scalar_one()) == 2
    finally:
        engine.dispose()

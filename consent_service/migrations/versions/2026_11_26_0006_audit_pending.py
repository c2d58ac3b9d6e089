"""audit_pending: events recorded in request transactions, chained by the sealer

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_pending",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("occurred_at", consent_service.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_username", sa.String(length=64), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("resource_type", sa.String(length=32), nullable=True),
        sa.Column("resource_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_pending")),
    )
    _guard("audit_pending")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CANONICAL_FUNCTION)
        op.execute(SEAL_FUNCTION)


# The canonical JSON of an event, exactly as consent_service.audit.chain.canonical_bytes
# writes it: the chain fields in sorted key order, no spaces, strings escaped as
# Python's json.dumps(ensure_ascii=False) escapes them (to_json escapes the same
# characters: quote, backslash, \b \f \n \r \t, other controls as \u00xx), times as
# YYYY-MM-DDTHH:MM:SS.ffffffZ in UTC. A test seals awkward values here and checks every
# hash with the Python definition.
CANONICAL_FUNCTION = """
CREATE FUNCTION audit_canonical(
    p_seq bigint, p_occurred_at timestamptz, p_actor_user_id integer, p_actor_username text,
    p_organisation_id integer, p_action text, p_resource_type text, p_resource_id text,
    p_outcome text, p_reason text, p_request_id text, p_source_ip text, p_details text,
    p_prev_hash text
) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT '{"action":' || coalesce(to_json(p_action)::text, 'null')
        || ',"actor_user_id":' || coalesce(p_actor_user_id::text, 'null')
        || ',"actor_username":' || coalesce(to_json(p_actor_username)::text, 'null')
        || ',"details":' || coalesce(to_json(p_details)::text, 'null')
        || ',"occurred_at":' || coalesce(to_json(to_char(p_occurred_at AT TIME ZONE 'UTC',
               'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text, 'null')
        || ',"organisation_id":' || coalesce(p_organisation_id::text, 'null')
        || ',"outcome":' || coalesce(to_json(p_outcome)::text, 'null')
        || ',"prev_hash":' || coalesce(to_json(p_prev_hash)::text, 'null')
        || ',"reason":' || coalesce(to_json(p_reason)::text, 'null')
        || ',"request_id":' || coalesce(to_json(p_request_id)::text, 'null')
        || ',"resource_id":' || coalesce(to_json(p_resource_id)::text, 'null')
        || ',"resource_type":' || coalesce(to_json(p_resource_type)::text, 'null')
        || ',"seq":' || coalesce(p_seq::text, 'null')
        || ',"source_ip":' || coalesce(to_json(p_source_ip)::text, 'null')
        || '}'
$$
"""

# The sealer (consent_service.audit.recorder.seal_pending): one statement, one round trip.
# Takes the chain lock, then chains up to p_batch committed pending events in id order.
# Each statement of a PL/pgSQL function takes a fresh snapshot under READ COMMITTED, so
# the rows read after the lock include everything the previous sealer did. The commit
# does not wait for its WAL flush (see seal_pending for why nothing can be lost).
SEAL_FUNCTION = """
CREATE FUNCTION audit_seal(p_lock_key bigint, p_batch integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    head_seq bigint;
    head_hash text;
    next_hash text;
    sealed integer := 0;
    r audit_pending%ROWTYPE;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM set_config('audit.sealing', 'on', true);
    PERFORM pg_advisory_xact_lock(p_lock_key);
    SELECT seq, hash INTO head_seq, head_hash FROM audit_event ORDER BY seq DESC LIMIT 1;
    IF head_seq IS NULL THEN
        head_seq := 0;
        head_hash := repeat('0', 64);
    END IF;
    FOR r IN SELECT * FROM audit_pending ORDER BY id LIMIT p_batch LOOP
        head_seq := head_seq + 1;
        next_hash := encode(sha256(convert_to(audit_canonical(
            head_seq, r.occurred_at, r.actor_user_id, r.actor_username, r.organisation_id,
            r.action, r.resource_type, r.resource_id, r.outcome, r.reason, r.request_id,
            r.source_ip, r.details, head_hash), 'UTF8')), 'hex');
        INSERT INTO audit_event (
            seq, occurred_at, actor_user_id, actor_username, organisation_id, action,
            resource_type, resource_id, outcome, reason, request_id, source_ip, details,
            prev_hash, hash
        ) VALUES (
            head_seq, r.occurred_at, r.actor_user_id, r.actor_username, r.organisation_id,
            r.action, r.resource_type, r.resource_id, r.outcome, r.reason, r.request_id,
            r.source_ip, r.details, head_hash, next_hash
        );
        DELETE FROM audit_pending WHERE id = r.id;
        head_hash := next_hash;
        sealed := sealed + 1;
    END LOOP;
    RETURN sealed;
END $$
"""


def _guard(table: str) -> None:
    """A recorded event waits as recorded: the database refuses UPDATE, and TRUNCATE on
    PostgreSQL. DELETE goes through only inside audit_seal, which marks its transaction
    (``audit.sealing``) and deletes only rows it has just chained. SQLite never stages
    events, so it refuses every DELETE."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} rows are not changed'); END"
            )
        return
    op.execute(
        f"""
        CREATE FUNCTION {table}_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' AND current_setting('audit.sealing', true) = 'on' THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION '{table} rows are only removed by the sealer'
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_guard()"
    )
    op.execute(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_guard()"
    )


def downgrade() -> None:
    op.drop_table("audit_pending")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_seal(bigint, integer)")
        op.execute(
            "DROP FUNCTION audit_canonical(bigint, timestamptz, integer, text, integer, "
            "text, text, text, text, text, text, text, text, text)"
        )
        op.execute("DROP FUNCTION audit_pending_guard()")

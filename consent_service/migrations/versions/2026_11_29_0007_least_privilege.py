"""Least privilege: the sealer and the retention purge run as the owner (SECURITY
DEFINER), the audit.sealing guard goes, retention periods live in the database

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 20:40:00

The grants themselves are not a migration: ``consent_service.migrations.privileges``
applies them after every upgrade, so tables added later get theirs too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_retention",
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("months", sa.Integer(), nullable=True),
        sa.Column("keep_until", consent_service.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("action", name=op.f("pk_audit_retention")),
    )
    op.add_column("audit_purge", sa.Column("up_to_hash", sa.String(length=64), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    # audit_pending: UPDATE and TRUNCATE are refused to everyone; DELETE is not granted to
    # the application login, so only audit_seal (running as the owner) removes rows.
    op.execute("DROP TRIGGER audit_pending_no_update_delete ON audit_pending")
    op.execute("DROP TRIGGER audit_pending_no_truncate ON audit_pending")
    op.execute("DROP FUNCTION audit_pending_guard()")
    op.execute(PENDING_GUARD)
    op.execute(
        "CREATE TRIGGER audit_pending_no_update BEFORE UPDATE ON audit_pending "
        "FOR EACH ROW EXECUTE FUNCTION audit_pending_guard()"
    )
    op.execute(
        "CREATE TRIGGER audit_pending_no_truncate BEFORE TRUNCATE ON audit_pending "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_pending_guard()"
    )
    op.execute(SEAL_FUNCTION)
    op.execute(PURGE_FUNCTION)


PENDING_GUARD = """
CREATE FUNCTION audit_pending_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_pending rows are only removed by the sealer'
        USING ERRCODE = 'insufficient_privilege';
END $$
"""

# As in 0006, without the audit.sealing mark (the privileges do that work now) and with
# every name schema-qualified: it runs as the owner with a fixed search_path (the
# privileges step re-asserts SECURITY DEFINER, the search_path, owner and EXECUTE).
SEAL_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_seal(p_lock_key bigint, p_batch integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    head_seq bigint;
    head_hash text;
    next_hash text;
    sealed integer := 0;
    r public.audit_pending%ROWTYPE;
BEGIN
    PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
    PERFORM pg_catalog.pg_advisory_xact_lock(p_lock_key);
    SELECT seq, hash INTO head_seq, head_hash FROM public.audit_event ORDER BY seq DESC LIMIT 1;
    IF head_seq IS NULL THEN
        head_seq := 0;
        head_hash := pg_catalog.repeat('0', 64);
    END IF;
    FOR r IN SELECT * FROM public.audit_pending ORDER BY id LIMIT p_batch LOOP
        head_seq := head_seq + 1;
        next_hash := pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
            public.audit_canonical(
                head_seq, r.occurred_at, r.actor_user_id, r.actor_username, r.organisation_id,
                r.action, r.resource_type, r.resource_id, r.outcome, r.reason, r.request_id,
                r.source_ip, r.details, head_hash), 'UTF8')), 'hex');
        INSERT INTO public.audit_event (
            seq, occurred_at, actor_user_id, actor_username, organisation_id, action,
            resource_type, resource_id, outcome, reason, request_id, source_ip, details,
            prev_hash, hash
        ) VALUES (
            head_seq, r.occurred_at, r.actor_user_id, r.actor_username, r.organisation_id,
            r.action, r.resource_type, r.resource_id, r.outcome, r.reason, r.request_id,
            r.source_ip, r.details, head_hash, next_hash
        );
        DELETE FROM public.audit_pending WHERE id = r.id;
        head_hash := next_hash;
        sealed := sealed + 1;
    END LOOP;
    RETURN sealed;
END $$
"""

# The retention purge (consent_service.audit.retention.purge_expired on PostgreSQL). It
# decides by itself, from the database clock and audit_retention (synced by migrate from
# audit/events.yaml; an action not in it is kept for good), what may go: whole segments
# (the events up to a checkpoint whose hash is its event's hash), oldest first, each only
# if every event in it is past its retention. It records the removal in audit_purge and
# as an audit.purged event (staged in audit_pending, in this transaction), and returns
# what it removed (no row: nothing could go). Months are added in UTC, as add_months does.
PURGE_FUNCTION = """
CREATE FUNCTION audit_purge_expired(
    p_actor_user_id integer, p_actor_username text, p_organisation_id integer,
    p_request_id text, p_source_ip text
) RETURNS TABLE (
    up_to_seq bigint, events bigint, segments integer, removed_sha256 text, up_to_hash text
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public SET TimeZone = 'UTC'
AS $$
DECLARE
    v_start bigint;
    v_low bigint;
    v_up_to bigint;
    v_events bigint := 0;
    v_segments integer := 0;
    v_count bigint;
    v_kept boolean;
    v_first timestamptz;
    v_last timestamptz;
    v_digest text;
    v_hash text;
    cp record;
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('audit_purge_expired'));
    SELECT coalesce(max(p.up_to_seq), 0) INTO v_start FROM public.audit_purge p;
    v_low := v_start;
    FOR cp IN
        SELECT c.seq, c.hash FROM public.audit_checkpoint c
        WHERE c.seq > v_start ORDER BY c.seq
    LOOP
        CONTINUE WHEN NOT EXISTS (
            SELECT 1 FROM public.audit_event e WHERE e.seq = cp.seq AND e.hash = cp.hash
        );
        SELECT count(*), coalesce(bool_or(
                   r.action IS NULL
                   OR coalesce(r.keep_until, e.occurred_at + pg_catalog.make_interval(
                          months => r.months)) > pg_catalog.now()
               ), false)
          INTO v_count, v_kept
          FROM public.audit_event e LEFT JOIN public.audit_retention r ON r.action = e.action
         WHERE e.seq > v_low AND e.seq <= cp.seq;
        EXIT WHEN v_kept OR v_count <> cp.seq - v_low;
        v_up_to := cp.seq;
        v_events := v_events + v_count;
        v_segments := v_segments + 1;
        v_low := cp.seq;
    END LOOP;
    IF v_up_to IS NULL THEN
        RETURN;
    END IF;
    SELECT min(e.occurred_at), max(e.occurred_at),
           pg_catalog.encode(pg_catalog.sha256(
               pg_catalog.string_agg(pg_catalog.decode(e.hash, 'hex'), ''::bytea ORDER BY e.seq)
           ), 'hex')
      INTO v_first, v_last, v_digest
      FROM public.audit_event e WHERE e.seq > v_start AND e.seq <= v_up_to;
    SELECT e.hash INTO v_hash FROM public.audit_event e WHERE e.seq = v_up_to;
    INSERT INTO public.audit_purge (
        up_to_seq, events, first_occurred_at, last_occurred_at, removed_sha256, up_to_hash,
        purged_at
    ) VALUES (v_up_to, v_events, v_first, v_last, v_digest, v_hash, pg_catalog.now());
    DELETE FROM public.audit_event e WHERE e.seq > v_start AND e.seq <= v_up_to;
    INSERT INTO public.audit_pending (
        occurred_at, actor_user_id, actor_username, organisation_id, action, outcome,
        request_id, source_ip, details
    ) VALUES (
        pg_catalog.now(), p_actor_user_id, p_actor_username, p_organisation_id,
        'audit.purged', 'success', p_request_id, p_source_ip,
        '{"events":' || v_events || ',"removed_sha256":"' || v_digest
        || '","segments":' || v_segments || ',"up_to_hash":"' || v_hash
        || '","up_to_seq":' || v_up_to || '}'
    );
    RETURN QUERY SELECT v_up_to, v_events, v_segments, v_digest, v_hash;
END $$
"""


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_purge_expired(integer, text, integer, text, text)")
        # 0006's sealer: invoker's rights, marking its transaction for the guard below.
        op.execute(
            SEAL_FUNCTION.replace(
                "SECURITY DEFINER SET search_path = pg_catalog, public ", ""
            ).replace(
                "    PERFORM pg_catalog.pg_advisory_xact_lock",
                "    PERFORM pg_catalog.set_config('audit.sealing', 'on', true);\n"
                "    PERFORM pg_catalog.pg_advisory_xact_lock",
            )
        )
        op.execute("ALTER FUNCTION audit_seal(bigint, integer) SECURITY INVOKER RESET ALL")
        op.execute("DROP TRIGGER audit_pending_no_update ON audit_pending")
        op.execute("DROP TRIGGER audit_pending_no_truncate ON audit_pending")
        op.execute("DROP FUNCTION audit_pending_guard()")
        op.execute(
            """
            CREATE FUNCTION audit_pending_guard() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' AND current_setting('audit.sealing', true) = 'on' THEN
                    RETURN OLD;
                END IF;
                RAISE EXCEPTION 'audit_pending rows are only removed by the sealer'
                    USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_pending_no_update_delete BEFORE UPDATE OR DELETE ON "
            "audit_pending FOR EACH ROW EXECUTE FUNCTION audit_pending_guard()"
        )
        op.execute(
            "CREATE TRIGGER audit_pending_no_truncate BEFORE TRUNCATE ON audit_pending "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_pending_guard()"
        )
    # A plain DROP COLUMN (SQLite 3.35+), not a batch table copy: a copy would lose
    # audit_purge's own triggers, and SQLite refuses the rename while audit_event's
    # delete trigger names the table.
    op.execute("ALTER TABLE audit_purge DROP COLUMN up_to_hash")
    op.drop_table("audit_retention")

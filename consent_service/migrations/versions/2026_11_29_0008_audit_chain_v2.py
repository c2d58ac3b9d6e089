"""audit chain v2: an event's hash links the previous hash to the digest of its content

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 20:45:00

``digest = SHA-256(canonical content)`` (the chain fields but prev_hash) and
``hash = SHA-256(prev_hash || digest)`` over the 64 raw bytes, as
``consent_service.audit.chain`` defines it, so a link can be checked from a digest
without the content (an organisation's export, a witness). The log is not rewritten: a
database that already holds chained events is refused, since rewriting a log is exactly
what the log must never allow (the service was never deployed with chain v1; only a
development database can hold one, and it is started afresh). Checkpoints now sign the
C2SP checkpoint body, which names the log: ``audit_checkpoint.origin``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

from consent_service.startup import StartupError

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

REFUSAL = (
    "audit_event holds events chained in format v1, which chain v2 (revision 0008) "
    "cannot extend; start from a fresh database (the log is never rewritten)"
)


def _refuse_a_chained_log() -> None:
    """One line, printed as such by ``consent-service migrate``."""
    if op.get_bind().execute(sa.text("SELECT 1 FROM audit_event LIMIT 1")).first():
        raise StartupError(REFUSAL)


def upgrade() -> None:
    _refuse_a_chained_log()
    _add_checkpoint_origin()
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite chains in Python (consent_service.audit.chain)
    op.execute(
        "DROP FUNCTION audit_canonical(bigint, timestamptz, integer, text, integer, "
        "text, text, text, text, text, text, text, text, text)"
    )
    op.execute(CONTENT_FUNCTION)
    op.execute(SEAL_FUNCTION.format(next_hash=V2_HASH))


def _add_checkpoint_origin() -> None:
    """A checkpoint now signs the C2SP checkpoint body, which names the log (its origin).
    The table is empty here (no event, so no checkpoint, survives the refusal above).
    Added in place, not by a batch table copy, which on SQLite would lose the table's
    append-only triggers; SQLite needs a default for a NOT NULL column (an empty origin
    never verifies)."""
    op.execute("ALTER TABLE audit_checkpoint ADD COLUMN origin VARCHAR(200) NOT NULL DEFAULT ''")


# The canonical content of an event, exactly as consent_service.audit.chain.content_bytes
# writes it: the content fields in sorted key order, no spaces, strings escaped as
# Python's json.dumps(ensure_ascii=False) escapes them (to_json escapes the same
# characters: quote, backslash, \b \f \n \r \t, other controls as \u00xx), times as
# YYYY-MM-DDTHH:MM:SS.ffffffZ in UTC. A test seals awkward values here and checks every
# hash with the Python definition.
CONTENT_FUNCTION = """
CREATE FUNCTION audit_canonical(
    p_seq bigint, p_occurred_at timestamptz, p_actor_user_id integer, p_actor_username text,
    p_organisation_id integer, p_action text, p_resource_type text, p_resource_id text,
    p_outcome text, p_reason text, p_request_id text, p_source_ip text, p_details text
) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT '{"action":' || coalesce(to_json(p_action)::text, 'null')
        || ',"actor_user_id":' || coalesce(p_actor_user_id::text, 'null')
        || ',"actor_username":' || coalesce(to_json(p_actor_username)::text, 'null')
        || ',"details":' || coalesce(to_json(p_details)::text, 'null')
        || ',"occurred_at":' || coalesce(to_json(to_char(p_occurred_at AT TIME ZONE 'UTC',
               'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text, 'null')
        || ',"organisation_id":' || coalesce(p_organisation_id::text, 'null')
        || ',"outcome":' || coalesce(to_json(p_outcome)::text, 'null')
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
# does not wait for its WAL flush (see seal_pending for why nothing can be lost). It runs
# with its owner's rights and a fixed search_path, every name qualified, so a caller who
# may not touch the audit tables can still seal, and cannot substitute a function or a
# table of its own.
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
        next_hash := {next_hash};
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
_FIELDS = """head_seq, r.occurred_at, r.actor_user_id, r.actor_username,
                r.organisation_id, r.action, r.resource_type, r.resource_id, r.outcome,
                r.reason, r.request_id, r.source_ip, r.details"""
# Chain v2: SHA-256(prev_hash || SHA-256(content)), the two as raw bytes.
V2_HASH = f"""pg_catalog.encode(pg_catalog.sha256(
            pg_catalog.decode(head_hash, 'hex') || pg_catalog.sha256(pg_catalog.convert_to(
                public.audit_canonical({_FIELDS}), 'UTF8'))), 'hex')"""
# Chain v1 (for the downgrade only): SHA-256 of the canonical JSON with prev_hash inside.
V1_HASH = f"""pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
            public.audit_canonical({_FIELDS}, head_hash), 'UTF8')), 'hex')"""


def _revision_0006() -> ModuleType:
    path = next(Path(__file__).parent.glob("*_0006_audit_pending.py"))
    spec = importlib.util.spec_from_file_location("audit_pending_0006", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path.name}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def downgrade() -> None:
    """Back to chain v1's canonical function and formula and unnamed checkpoints, on an
    empty log only. The seal stays SECURITY DEFINER: that is revision 0007's."""
    _refuse_a_chained_log()
    op.execute("ALTER TABLE audit_checkpoint DROP COLUMN origin")
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "DROP FUNCTION audit_canonical(bigint, timestamptz, integer, text, integer, "
        "text, text, text, text, text, text, text, text)"
    )
    op.execute(_revision_0006().CANONICAL_FUNCTION)
    op.execute(SEAL_FUNCTION.format(next_hash=V1_HASH))

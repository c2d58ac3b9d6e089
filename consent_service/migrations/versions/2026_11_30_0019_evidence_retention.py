"""The consent evidence's own retention: the first day it may go, and on PostgreSQL the
database function that alone may delete it

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 12:00:00

- ``evidence_retention``: per consent-evidence category of ``retention/schedule.yaml``
  (consent records, disclosures, extract manifests) the first day it may be deleted.
  Written only by ``consent-service migrate`` (``privileges.sync_evidence_retention``).
- ``evidence_purge_expired`` (PostgreSQL): deletes one organisation's consent evidence
  (consents and their history, printed-form records, disclosures, paper custody, extract
  requests with their manifests and file rows, the jobs naming them, and the citizens'
  tombstones), only when the database's own date (Copenhagen) has reached every
  category's ``delete_from`` and no citizen of the organisation is still live (the
  pilot-end deletion came first); otherwise it raises and nothing changes. It stages the
  ``retention.evidence_deleted`` deletion record (rows per category and a hash) in
  ``audit_pending`` in the same transaction, and returns its details. It runs as the
  owner (SECURITY DEFINER, fixed search_path): the application login, which may only
  SELECT and INSERT on the evidence tables, may call it and nothing more
  (``consent_service.migrations.privileges``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

FUNCTION = "evidence_purge_expired(integer, integer, text, text, text)"


def upgrade() -> None:
    op.create_table(
        "evidence_retention",
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("delete_from", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("category", name=op.f("pk_evidence_retention")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PURGE_FUNCTION)


# The rows' keys, the hashed body and the details are the JSON of
# consent_service.deletion.evidence (sorted keys, no spaces), so both engines record the
# same deletion record; EV001: too early, EV002: live citizens remain.
PURGE_FUNCTION = """
CREATE FUNCTION evidence_purge_expired(
    p_organisation_id integer, p_actor_user_id integer, p_actor_username text,
    p_request_id text, p_source_ip text
) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public SET TimeZone = 'Europe/Copenhagen'
AS $$
DECLARE
    v_today date := current_date;  -- the Copenhagen date (the function's TimeZone)
    v_from date;
    v_known integer;
    n_jobs bigint; n_disclosures bigint; n_custody bigint; n_events bigint;
    n_consents bigint; n_forms bigint; n_files bigint; n_requests bigint; n_tombs bigint;
    n_subject bigint; n_erasure bigint;
    v_rows text;
    v_hash text;
    v_details text;
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtext('evidence_purge_expired'), p_organisation_id);
    SELECT max(r.delete_from), count(*) INTO v_from, v_known
      FROM public.evidence_retention r
     WHERE r.category IN ('consent_records', 'disclosures', 'extract_manifests',
                          'subject_requests', 'erasure_proposals');
    IF p_organisation_id IS NULL OR v_known <> 5 OR v_today < v_from THEN
        RAISE EXCEPTION 'consent evidence may not be deleted before %', v_from
            USING ERRCODE = 'EV001';
    END IF;
    IF EXISTS (
        SELECT 1 FROM public.citizen c
         WHERE c.organisation_id = p_organisation_id AND c.deleted_at IS NULL
    ) THEN
        RAISE EXCEPTION 'citizens of the organisation are not deleted yet'
            USING ERRCODE = 'EV002';
    END IF;
    DELETE FROM public.job j
     WHERE j.organisation_id = p_organisation_id
       AND (j.citizen_id IN (SELECT c.id FROM public.citizen c
                              WHERE c.organisation_id = p_organisation_id)
            OR j.consent_id IN (SELECT s.id FROM public.consent s
                                 WHERE s.organisation_id = p_organisation_id));
    GET DIAGNOSTICS n_jobs = ROW_COUNT;
    DELETE FROM public.disclosure d WHERE d.organisation_id = p_organisation_id;
    GET DIAGNOSTICS n_disclosures = ROW_COUNT;
    DELETE FROM public.paper_custody p WHERE p.organisation_id = p_organisation_id;
    GET DIAGNOSTICS n_custody = ROW_COUNT;
    DELETE FROM public.consent_event e
     WHERE e.consent_id IN (SELECT s.id FROM public.consent s
                             WHERE s.organisation_id = p_organisation_id);
    GET DIAGNOSTICS n_events = ROW_COUNT;
    DELETE FROM public.consent s WHERE s.organisation_id = p_organisation_id;
    GET DIAGNOSTICS n_consents = ROW_COUNT;
    DELETE FROM public.consent_form f WHERE f.organisation_id = p_organisation_id;
    GET DIAGNOSTICS n_forms = ROW_COUNT;
    DELETE FROM public.extract_chunk k
     WHERE k.file_id IN (SELECT f.id FROM public.extract_file f
                          JOIN public.extract_request q ON q.id = f.request_id
                         WHERE q.organisation_id = p_organisation_id);
    DELETE FROM public.extract_file f
     WHERE f.request_id IN (SELECT q.id FROM public.extract_request q
                             WHERE q.organisation_id = p_organisation_id);
    GET DIAGNOSTICS n_files = ROW_COUNT;
    DELETE FROM public.extract_request q WHERE q.organisation_id = p_organisation_id;
    GET DIAGNOSTICS n_requests = ROW_COUNT;
    DELETE FROM public.subject_request r WHERE r.organisation_id = p_organisation_id;
    GET DIAGNOSTICS n_subject = ROW_COUNT;
    DELETE FROM public.erasure_proposal e WHERE e.organisation_id = p_organisation_id;
    GET DIAGNOSTICS n_erasure = ROW_COUNT;
    DELETE FROM public.citizen c
     WHERE c.organisation_id = p_organisation_id AND c.deleted_at IS NOT NULL;
    GET DIAGNOSTICS n_tombs = ROW_COUNT;
    v_rows := '{"citizen_tombstones":' || n_tombs || ',"consent_events":' || n_events
        || ',"consent_forms":' || n_forms || ',"consent_records":' || n_consents
        || ',"disclosures":' || n_disclosures || ',"erasure_proposals":' || n_erasure
        || ',"extract_files":' || n_files
        || ',"extract_manifests":' || n_requests || ',"jobs":' || n_jobs
        || ',"paper_custody":' || n_custody || ',"subject_requests":' || n_subject || '}';
    v_hash := pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
        '{"at":"' || pg_catalog.to_char(v_today, 'YYYY-MM-DD') || '","organisation":'
        || p_organisation_id || ',"rows":' || v_rows || ',"rule":"evidence_end"}',
        'UTF8')), 'hex');
    v_details := '{"hash":"' || v_hash || '","rows":' || v_rows || ',"rule":"evidence_end"}';
    IF n_tombs + n_events + n_forms + n_consents + n_disclosures + n_files + n_requests
       + n_jobs + n_custody + n_subject + n_erasure > 0 THEN
        INSERT INTO public.audit_pending (
            occurred_at, actor_user_id, actor_username, organisation_id, action, outcome,
            resource_type, resource_id, request_id, source_ip, details
        ) VALUES (
            pg_catalog.now(), p_actor_user_id, p_actor_username, p_organisation_id,
            'retention.evidence_deleted', 'success', 'organisation',
            p_organisation_id::text, p_request_id, p_source_ip, v_details
        );
    END IF;
    RETURN v_details;
END $$
"""


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION {FUNCTION}")
    op.drop_table("evidence_retention")

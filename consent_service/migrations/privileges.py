"""Least privilege on PostgreSQL: what the application login may do, applied by
``consent-service migrate`` (as the owner) after every upgrade, and after a restore.

Two logins (README, "Running on PostgreSQL"): the owner (``CONSENT_MIGRATION_DATABASE_URL``)
owns every table and function and is the only one that changes the schema; the
application login (``CONSENT_DATABASE_URL``), used by ``serve``, ``worker`` and every other
command, owns nothing and gets exactly the grants below. The step is idempotent: it
revokes everything from the application login and grants the declared privileges again
(a table not declared gets none), and a function re-created by a
later migration (``CREATE OR REPLACE`` resets ``SECURITY DEFINER`` and its settings) gets
its attributes back.

The audit log: the application login reads the chain and stages events
(``audit_pending``: INSERT, SELECT); it cannot update, delete or truncate any audit
table. Chaining (``audit_seal``) and the retention purge (``audit_purge_expired``) are
``SECURITY DEFINER`` functions owned by the owner with a fixed ``search_path``; the
application login may only call them.

The consent evidence (``consent``, ``consent_event``, ``disclosure``, ``paper_custody``):
the application login may read and append, never delete; at the end of its retention the
``SECURITY DEFINER`` function ``evidence_purge_expired`` deletes an organisation's, and
only from the day ``evidence_retention`` (synced here from the schedule) gives.

On SQLite (one file, no roles) only the retention tables are synced.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, make_url, text

from consent_service.audit.catalogue import default_event_catalogue
from consent_service.audit.models import AuditRetention
from consent_service.config import ConfigError
from consent_service.retention.models import EvidenceRetention
from consent_service.retention.schedule import (
    EVIDENCE_CATEGORIES,
    default_schedule,
    evidence_delete_from,
)

ALL_DML = ("SELECT", "INSERT", "UPDATE", "DELETE")

# Privileges of the application login on every table, and nothing on a table not named
# here (deny by default: a test fails while a model's table is missing). Never TRUNCATE,
# REFERENCES or TRIGGER.
APP_GRANTS: dict[str, tuple[str, ...]] = {
    # The working tables: rows are created, changed and removed (deletion, expiry).
    **dict.fromkeys(
        (
            "api_token",
            "app_user",
            "citizen",
            "citizen_key",
            "consent_scan",
            "extract_chunk",
            "extract_file",
            "job",
            "organisation",
            "rate_limit_counter",
            "recovery_code",
            "referral",
            "task",
            "user_session",
            "wellbeing_response",
        ),
        ALL_DML,
    ),
    "alembic_version": ("SELECT",),  # the start-up check reads it; only migrate writes
    "key_check": ("SELECT",),  # written once, by migrate
    "audit_event": ("SELECT",),  # appended by audit_seal, removed by audit_purge_expired
    "audit_pending": ("SELECT", "INSERT"),  # removed only by audit_seal
    "audit_checkpoint": ("SELECT", "INSERT"),
    "audit_purge": ("SELECT",),  # written only by audit_purge_expired
    "audit_retention": ("SELECT",),  # written only by migrate, from audit/events.yaml
    # Written only by migrate, from retention/schedule.yaml; read by evidence_purge_expired,
    # which alone deletes the consent evidence (the login has no DELETE on it).
    "evidence_retention": ("SELECT",),
    "audit_cosignature": ("SELECT", "INSERT"),  # witnesses' cosignatures, as received
    "audit_alert": ("SELECT", "INSERT", "UPDATE"),  # UPDATE: notified, acknowledged
    "access_proposal": ("SELECT", "INSERT", "UPDATE"),  # UPDATE: decided, expired; kept
    # Evidence of what was printed (the PDF itself is cleared on a citizen's deletion) and
    # the extract requests with their signed manifests: changed, never deleted by the
    # login; evidence_purge_expired deletes them with the consents.
    "consent_form": ("SELECT", "INSERT", "UPDATE"),
    "extract_request": ("SELECT", "INSERT", "UPDATE"),
    "consent": ("SELECT", "INSERT"),  # consent evidence: the database refuses UPDATE
    "consent_event": ("SELECT", "INSERT"),
    # What each extract disclosed about whom: evidence, kept after a citizen's erasure.
    "disclosure": ("SELECT", "INSERT"),
    # Appended, never changed; a citizen's deletion removes them.
    "citizen_change": ("SELECT", "INSERT", "DELETE"),
    "referral_contact": ("SELECT", "INSERT", "DELETE"),
    # Overrides of a measurement's planned date: appended, the newest wins.
    "measurement_plan": ("SELECT", "INSERT", "DELETE"),
    # Paper originals: the locations are renamed and retired (UPDATE), never deleted; the
    # custody history is evidence like the consent it belongs to: appended only.
    "paper_location": ("SELECT", "INSERT", "UPDATE"),
    "paper_custody": ("SELECT", "INSERT"),
    # The legal adviser's sign-offs, the files as approved and the scenario runs: evidence,
    # appended, never changed (no personal data, so the pilot-end deletion keeps them).
    "rulebook_approval": ("SELECT", "INSERT"),
    "rulebook_approved_file": ("SELECT", "INSERT"),
    "rulebook_verification": ("SELECT", "INSERT"),
    # Citizens' requests (GDPR art. 12-21): handled (UPDATE: extended, answered, the
    # overdue mark), never deleted: evidence the request was answered in time; erasure
    # shreds their sealed text with the citizen's key.
    "subject_request": ("SELECT", "INSERT", "UPDATE"),
    # Erasure proposals: decided once (UPDATE: status, decider, comment, the sealed note
    # emptied at erasure); kept after the erasure as its record, never deleted.
    "erasure_proposal": ("SELECT", "INSERT", "UPDATE"),
}

# SECURITY DEFINER functions the application login may call; the settings each runs with.
DEFINER_FUNCTIONS: dict[str, str] = {
    "audit_seal(bigint, integer)": "SET search_path = pg_catalog, public",
    "audit_purge_expired(integer, text, integer, text, text)": (
        "SET search_path = pg_catalog, public SET TimeZone = 'UTC'"
    ),
    # The consent evidence's retention-end deletion (migration 0019): the date is the
    # database's own, in Copenhagen.
    "evidence_purge_expired(integer, integer, text, text, text)": (
        "SET search_path = pg_catalog, public SET TimeZone = 'Europe/Copenhagen'"
    ),
}


class PrivilegeError(ConfigError):
    """The logins are not set up as least privilege needs; one line saying what to fix."""


def app_role_of(url: str) -> str:
    """The role of the login in a database URL (libpq's default: the OS user)."""
    return make_url(url).username or getpass.getuser()


def apply_privileges(conn: Connection, app_role: str | None) -> None:
    """Sync the retention tables; on PostgreSQL also assert the audit functions'
    attributes and, given the application login's role, its grants. Runs as the owner,
    in the caller's transaction."""
    sync_retention(conn)
    sync_evidence_retention(conn)
    if conn.dialect.name != "postgresql":
        return
    q = conn.dialect.identifier_preparer.quote
    owner = conn.scalar(
        text(
            "SELECT tableowner FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename = 'audit_event'"
        )
    )
    if owner is None:
        raise PrivilegeError("the database has no audit_event table: run the migrations first")
    for function, settings in DEFINER_FUNCTIONS.items():
        conn.execute(text(f"ALTER FUNCTION public.{function} OWNER TO {q(owner)}"))
        conn.execute(text(f"ALTER FUNCTION public.{function} SECURITY DEFINER {settings}"))
        conn.execute(text(f"REVOKE ALL ON FUNCTION public.{function} FROM PUBLIC"))
    conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    if app_role is None:
        return
    _check_app_role(conn, app_role, owner)
    role = q(app_role)
    conn.execute(text(f"REVOKE ALL ON SCHEMA public FROM {role}"))
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
    tables = conn.scalars(
        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    ).all()
    for table in tables:
        conn.execute(text(f"REVOKE ALL ON TABLE public.{q(table)} FROM {role}"))
        grants = APP_GRANTS.get(table, ())
        if grants:
            conn.execute(text(f"GRANT {', '.join(grants)} ON TABLE public.{q(table)} TO {role}"))
    sequences = conn.scalars(
        text(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' "
            "ORDER BY sequencename"
        )
    ).all()
    for sequence in sequences:
        conn.execute(text(f"REVOKE ALL ON SEQUENCE public.{q(sequence)} FROM {role}"))
        # USAGE: inserts draw ids; SELECT: pg_dump (backup) reads every sequence.
        conn.execute(text(f"GRANT USAGE, SELECT ON SEQUENCE public.{q(sequence)} TO {role}"))
    for function in DEFINER_FUNCTIONS:
        conn.execute(text(f"GRANT EXECUTE ON FUNCTION public.{function} TO {role}"))


def _check_app_role(conn: Connection, app_role: str, owner: str) -> None:
    row = conn.execute(
        text(
            "SELECT rolsuper, pg_has_role(rolname, :owner, 'MEMBER') AS owns, "
            "rolname = current_user AS is_me FROM pg_roles WHERE rolname = :role"
        ),
        {"role": app_role, "owner": owner},
    ).first()
    if row is None:
        raise PrivilegeError(
            f"the application login {app_role!r} of CONSENT_DATABASE_URL does not exist: "
            "create it first (README, Running on PostgreSQL)"
        )
    if row.rolsuper:
        raise PrivilegeError(
            f"the application login {app_role!r} of CONSENT_DATABASE_URL is a superuser: "
            "use a login that owns nothing (README, Running on PostgreSQL)"
        )
    if row.is_me or row.owns:
        raise PrivilegeError(
            f"the application login {app_role!r} of CONSENT_DATABASE_URL is the owner: set "
            "CONSENT_MIGRATION_DATABASE_URL to the owner login and CONSENT_DATABASE_URL to "
            "a login that owns nothing (README, Running on PostgreSQL)"
        )


def retention_rows() -> list[dict[str, Any]]:
    """One row per catalogued event type: months after the event, or a fixed end."""
    catalogue = default_event_catalogue()
    rows: list[dict[str, Any]] = []
    for action, event in sorted(catalogue.events.items()):
        if event.retention.months is not None:
            rows.append({"action": action, "months": event.retention.months, "keep_until": None})
        else:  # pilot_end_plus_years: the same instant whenever the event occurred
            until = catalogue.retention_deadline(action, datetime(2000, 1, 1, tzinfo=UTC))
            rows.append({"action": action, "months": None, "keep_until": until})
    return rows


def sync_retention(conn: Connection) -> None:
    """Make ``audit_retention`` say what ``audit/events.yaml`` says."""
    conn.execute(delete(AuditRetention))
    conn.execute(insert(AuditRetention), retention_rows())


def sync_evidence_retention(conn: Connection) -> None:
    """Make ``evidence_retention`` say what ``retention/schedule.yaml`` says."""
    schedule = default_schedule()
    conn.execute(delete(EvidenceRetention))
    conn.execute(
        insert(EvidenceRetention),
        [
            {"category": name, "delete_from": evidence_delete_from(schedule, name)}
            for name in EVIDENCE_CATEGORIES
        ],
    )

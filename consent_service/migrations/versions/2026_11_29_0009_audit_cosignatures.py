"""Witness cosignatures of audit checkpoints, kept as received (never updated or deleted)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 21:40:00

The worker hands every signed checkpoint to the configured witnesses
(``consent_service.audit.witnessing``) and keeps each verified cosignature here. Like
``audit_checkpoint``, the table is append-only: triggers refuse UPDATE and DELETE on both
engines (and TRUNCATE on PostgreSQL), and the application login gets INSERT and SELECT
only (``consent_service.migrations.privileges``). A new table, so no batch table copy
touches the triggers of existing ones.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLE = "audit_cosignature"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("witness_key_id", sa.String(length=8), nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("cosigned_at", consent_service.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("received_at", consent_service.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_cosignature")),
        sa.UniqueConstraint(
            "witness",
            "witness_key_id",
            "seq",
            "cosigned_at",
            name=op.f("uq_audit_cosignature_witness"),
        ),
    )
    op.create_index(
        "ix_audit_cosignature_received", TABLE, ["witness", "received_at"], unique=False
    )
    message = f"{TABLE} is append-only"
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_{verb.lower()} BEFORE {verb} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
        return
    op.execute(
        f"""
        CREATE FUNCTION {TABLE}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{message}' USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
        f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()"
    )
    op.execute(
        f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{verb}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
        op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_append_only()")
    op.drop_index("ix_audit_cosignature_received", table_name=TABLE)
    op.drop_table(TABLE)

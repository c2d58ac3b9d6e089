"""Access proposals: two people for access to citizens' data and for credential resets

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 23:00:00

An administrator proposes a new user or role that can read citizens' data, or a
password or second-factor reset; a data controller of the same organisation approves it
with a fresh code (``consent_service.identity.proposals``). The application login may
insert and update proposals (decided, expired) but not delete them
(``consent_service.migrations.privileges``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLE = "access_proposal"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("target_user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("proposed_by", sa.Integer(), nullable=False),
        sa.Column("proposed_at", consent_service.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", consent_service.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", consent_service.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("decision_comment", sa.String(length=200), nullable=True),
        sa.Column("delivery", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_access_proposal_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["target_user_id"],
            ["app_user.id"],
            name=op.f("fk_access_proposal_target_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by"],
            ["app_user.id"],
            name=op.f("fk_access_proposal_proposed_by_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["app_user.id"],
            name=op.f("fk_access_proposal_decided_by_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_proposal")),
    )
    op.create_index(
        op.f("ix_access_proposal_organisation_id"), TABLE, ["organisation_id"], unique=False
    )
    op.create_index(op.f("ix_access_proposal_status"), TABLE, ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_access_proposal_status"), table_name=TABLE)
    op.drop_index(op.f("ix_access_proposal_organisation_id"), table_name=TABLE)
    op.drop_table(TABLE)

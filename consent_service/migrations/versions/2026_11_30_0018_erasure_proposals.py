"""Erasure of one citizen: proposals and their decisions

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 11:30:00

- ``erasure_proposal``: a navigator's or the DPO's proposal to erase one citizen, with a
  reason (policies/erasure.yaml) and a free-text note sealed under the citizen's identity
  key; decided (approved and carried out, or rejected) by a data controller of the same
  organisation who is not the proposer, or cancelled. Kept after the erasure as its
  record, without the note.

The application login may read, insert and update ``erasure_proposal`` (the decision);
nothing deletes it (``consent_service.migrations.privileges``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasure_proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("note_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.Integer(), nullable=False),
        sa.Column("proposed_at", consent_service.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", consent_service.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        sa.Column("deleted_rows", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizen.id"], name=op.f("fk_erasure_proposal_citizen_id_citizen")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_erasure_proposal_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_proposal")),
        sa.UniqueConstraint("public_id", name=op.f("uq_erasure_proposal_public_id")),
    )
    op.create_index(
        op.f("ix_erasure_proposal_citizen_id"), "erasure_proposal", ["citizen_id"], unique=False
    )
    op.create_index(
        op.f("ix_erasure_proposal_organisation_id"),
        "erasure_proposal",
        ["organisation_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_erasure_proposal_organisation_id"), table_name="erasure_proposal")
    op.drop_index(op.f("ix_erasure_proposal_citizen_id"), table_name="erasure_proposal")
    op.drop_table("erasure_proposal")

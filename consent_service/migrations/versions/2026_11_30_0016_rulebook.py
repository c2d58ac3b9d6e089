"""The legal adviser's rulebook: sign-offs, the files as approved, scenario runs

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 09:45:00

- ``rulebook_approval``: a legal adviser's sign-off of the rulebook (who, when, comment,
  digest over every covered file's SHA-256).
- ``rulebook_approved_file``: each covered file (feature, rule file, consent text) as
  approved: path, SHA-256 and text, so a later change shows as a diff.
- ``rulebook_verification``: one scenario's outcome in a run of the Danish scenarios
  against the installed service, with code version and rule files' digest.

The application login may read and insert all three; nothing updates or deletes them
(``consent_service.migrations.privileges``). None holds personal data.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rulebook_approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("approved_at", consent_service.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rulebook_approval")),
    )
    op.create_table(
        "rulebook_approved_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["approval_id"],
            ["rulebook_approval.id"],
            name=op.f("fk_rulebook_approved_file_approval_id_rulebook_approval"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rulebook_approved_file")),
    )
    op.create_index("ix_rulebook_approved_file_approval", "rulebook_approved_file", ["approval_id"])
    op.create_table(
        "rulebook_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("feature", sa.String(length=200), nullable=False),
        sa.Column("scenario", sa.String(length=500), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("code_version", sa.String(length=100), nullable=False),
        sa.Column("rules_digest", sa.String(length=64), nullable=False),
        sa.Column("verified_at", consent_service.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rulebook_verification")),
    )
    op.create_index(
        "ix_rulebook_verification_scenario", "rulebook_verification", ["feature", "scenario"]
    )


def downgrade() -> None:
    op.drop_index("ix_rulebook_verification_scenario", table_name="rulebook_verification")
    op.drop_table("rulebook_verification")
    op.drop_index("ix_rulebook_approved_file_approval", table_name="rulebook_approved_file")
    op.drop_table("rulebook_approved_file")
    op.drop_table("rulebook_approval")

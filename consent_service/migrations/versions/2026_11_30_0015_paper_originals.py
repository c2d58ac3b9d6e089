"""Paper originals: the data controller's list of locations and each signed original's
custody history

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 09:30:00

- ``paper_location``: where signed originals are kept, per organisation; renamed and
  retired, never deleted.
- ``paper_custody``: append-only custody facts of a signed original (stored, taken out,
  returned, destroyed); unique (consent_id, seq), so of two parallel appends one wins.

The application login may read, insert and update ``paper_location`` and read and insert
``paper_custody`` (``consent_service.migrations.privileges``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_location",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", consent_service.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("retired_at", consent_service.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_paper_location_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_location")),
    )
    op.create_index(
        op.f("ix_paper_location_organisation_id"),
        "paper_location",
        ["organisation_id"],
        unique=False,
    )
    op.create_table(
        "paper_custody",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", consent_service.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consent_id"], ["consent.id"], name=op.f("fk_paper_custody_consent_id_consent")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["paper_location.id"],
            name=op.f("fk_paper_custody_location_id_paper_location"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_paper_custody_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_custody")),
        sa.UniqueConstraint("consent_id", "seq", name="uq_paper_custody_consent_seq"),
    )
    op.create_index(
        op.f("ix_paper_custody_consent_id"), "paper_custody", ["consent_id"], unique=False
    )
    op.create_index(
        op.f("ix_paper_custody_organisation_id"),
        "paper_custody",
        ["organisation_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_paper_custody_organisation_id"), table_name="paper_custody")
    op.drop_index(op.f("ix_paper_custody_consent_id"), table_name="paper_custody")
    op.drop_table("paper_custody")
    op.drop_index(op.f("ix_paper_location_organisation_id"), table_name="paper_location")
    op.drop_table("paper_location")

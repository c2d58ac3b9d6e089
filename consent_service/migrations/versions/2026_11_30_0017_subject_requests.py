"""Data-subject requests: the register of citizens' requests exercising their rights

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 12:00:00

- ``subject_request``: one row per request (kind, channel, receipt, deadline, extension,
  status, answer), per organisation and citizen; the free text is sealed under the
  citizen's key. Changed as the request is handled (UPDATE), never deleted: the row is
  evidence that the request was answered in time.

The application login may read, insert and update ``subject_request``
(``consent_service.migrations.privileges``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subject_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("deadline_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("extended_to", sa.Date(), nullable=True),
        sa.Column("extended_on", sa.Date(), nullable=True),
        sa.Column("extension_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("answer_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("registered_at", consent_service.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.Integer(), nullable=False),
        sa.Column("handled_by", sa.Integer(), nullable=True),
        sa.Column(
            "overdue_recorded_at", consent_service.db.UtcDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizen.id"], name=op.f("fk_subject_request_citizen_id_citizen")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_subject_request_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_request")),
        sa.UniqueConstraint("public_id", name=op.f("uq_subject_request_public_id")),
    )
    op.create_index(
        op.f("ix_subject_request_citizen_id"), "subject_request", ["citizen_id"], unique=False
    )
    op.create_index(
        op.f("ix_subject_request_organisation_id"),
        "subject_request",
        ["organisation_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_subject_request_organisation_id"), table_name="subject_request")
    op.drop_index(op.f("ix_subject_request_citizen_id"), table_name="subject_request")
    op.drop_table("subject_request")

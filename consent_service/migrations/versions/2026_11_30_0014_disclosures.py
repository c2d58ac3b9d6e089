"""Disclosures per citizen: what each extract execution disclosed about whom

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 09:40:00

- ``disclosure``: per citizen included in an executed extract, the organisation, the
  consent used (id, kind, template version, text SHA-256), the extract request, the day,
  the purpose, the recipient and the legal basis. Written by the execution in the same
  transaction as its files and ``data_obtained`` events; the citizen's access report and a
  withdrawal's answer read it. No identity: a citizen's erasure keeps it.

The application login may read and insert ``disclosure``; nothing changes a row
(``consent_service.migrations.privileges``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disclosure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("consent_kind", sa.String(length=32), nullable=False),
        sa.Column("template_version", sa.String(length=16), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("disclosed_on", sa.Date(), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("recorded_at", consent_service.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizen.id"], name=op.f("fk_disclosure_citizen_id_citizen")
        ),
        sa.ForeignKeyConstraint(
            ["consent_id"], ["consent.id"], name=op.f("fk_disclosure_consent_id_consent")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_disclosure_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["extract_request.id"],
            name=op.f("fk_disclosure_request_id_extract_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosure")),
    )
    op.create_index(
        "ix_disclosure_org_citizen", "disclosure", ["organisation_id", "citizen_id"], unique=False
    )
    op.create_index("ix_disclosure_consent", "disclosure", ["consent_id"], unique=False)
    op.create_index(op.f("ix_disclosure_request_id"), "disclosure", ["request_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_disclosure_request_id"), table_name="disclosure")
    op.drop_index("ix_disclosure_consent", table_name="disclosure")
    op.drop_index("ix_disclosure_org_citizen", table_name="disclosure")
    op.drop_table("disclosure")

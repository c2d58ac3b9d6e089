"""The navigator's pages: form short codes and kept PDFs, referral contacts, corrections

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 05:00:00

- ``consent_form.short_code``: the human code printed beside the QR (unique); forms printed
  before have none and are matched by their QR or their id.
- ``consent_form.pdf_sealed``: the printed PDF, sealed under the citizen's identity key, so
  a form can be downloaded again byte for byte.
- ``referral_contact``: "kontaktet" with a date and a sealed note, per referral.
- ``citizen_change``: corrections of name, contact data and practice, before and after,
  sealed under the citizen's identity key.

The application login may read, insert and delete the two new tables (a deletion removes
their rows) and update ``consent_form`` (``consent_service.migrations.privileges``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consent_form") as batch:
        batch.add_column(sa.Column("short_code", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("pdf_sealed", sa.LargeBinary(), nullable=True))
        batch.create_unique_constraint(op.f("uq_consent_form_short_code"), ["short_code"])

    op.create_table(
        "referral_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("contacted_on", sa.Date(), nullable=False),
        sa.Column("note_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("recorded_at", consent_service.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_referral_contact_referral_id_referral")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_referral_contact_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_contact")),
    )
    op.create_index(
        op.f("ix_referral_contact_referral_id"), "referral_contact", ["referral_id"], unique=False
    )
    op.create_index(
        op.f("ix_referral_contact_organisation_id"),
        "referral_contact",
        ["organisation_id"],
        unique=False,
    )

    op.create_table(
        "citizen_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("changes_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("changed_at", consent_service.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizen.id"], name=op.f("fk_citizen_change_citizen_id_citizen")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_citizen_change_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_change")),
    )
    op.create_index(
        op.f("ix_citizen_change_citizen_id"), "citizen_change", ["citizen_id"], unique=False
    )
    op.create_index(
        op.f("ix_citizen_change_organisation_id"),
        "citizen_change",
        ["organisation_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_citizen_change_organisation_id"), table_name="citizen_change")
    op.drop_index(op.f("ix_citizen_change_citizen_id"), table_name="citizen_change")
    op.drop_table("citizen_change")
    op.drop_index(op.f("ix_referral_contact_organisation_id"), table_name="referral_contact")
    op.drop_index(op.f("ix_referral_contact_referral_id"), table_name="referral_contact")
    op.drop_table("referral_contact")
    with op.batch_alter_table("consent_form") as batch:
        batch.drop_constraint(op.f("uq_consent_form_short_code"), type_="unique")
        batch.drop_column("pdf_sealed")
        batch.drop_column("short_code")

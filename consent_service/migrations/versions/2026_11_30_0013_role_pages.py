"""The data controller's, DPO's and administrator's pages: measurement date overrides,
cancelled extract requests, last login

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 08:10:00

- ``measurement_plan``: a data controller's override of a cohort measurement's planned
  extract date (computed from ``policies/cohorts.yaml`` otherwise), with the reason; rows
  are appended, the newest per organisation, cohort and measurement wins, so the history
  of overrides is kept.
- ``extract_request.cancelled_at``/``cancelled_by``/``cancel_reason``: a draft or an
  approved request not yet executed can be cancelled; the approver's decision is kept.
- ``app_user.last_login_at``: when the user last completed the second factor.

The application login may read, insert and delete ``measurement_plan`` (the pilot-end
deletion removes an organisation's rows) (``consent_service.migrations.privileges``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "measurement_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("cohort", sa.String(length=32), nullable=False),
        sa.Column("measurement_years", sa.Integer(), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_at", consent_service.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_measurement_plan_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurement_plan")),
    )
    op.create_index(
        "ix_measurement_plan_org_cohort",
        "measurement_plan",
        ["organisation_id", "cohort", "measurement_years"],
        unique=False,
    )
    with op.batch_alter_table("extract_request") as batch:
        batch.add_column(
            sa.Column("cancelled_at", consent_service.db.UtcDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("cancelled_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("cancel_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(
            sa.Column("last_login_at", consent_service.db.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("last_login_at")
    with op.batch_alter_table("extract_request") as batch:
        batch.drop_column("cancel_reason")
        batch.drop_column("cancelled_by")
        batch.drop_column("cancelled_at")
    op.drop_index("ix_measurement_plan_org_cohort", table_name="measurement_plan")
    op.drop_table("measurement_plan")

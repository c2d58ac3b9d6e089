"""Rate-limit counters shared by every process and host (branch edge)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 23:00:00

One row per rate-limit key and fixed window (``consent_service.web.limits_storage``):
the key is a keyed hash (no address, user name or token), the count, and when the window
ends. Rows of ended windows are pruned by the service. The application login may read,
insert, update and delete them (``consent_service.migrations.privileges``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLE = "rate_limit_counter"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", consent_service.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit_counter")),
    )
    op.create_index(op.f("ix_rate_limit_counter_expires_at"), TABLE, ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_limit_counter_expires_at"), table_name=TABLE)
    op.drop_table(TABLE)

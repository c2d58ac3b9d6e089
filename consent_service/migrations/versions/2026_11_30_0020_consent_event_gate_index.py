"""An index of the consent events the extract gate decides on

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 15:00:00

- ``ix_consent_event_gate``: (event_type, consent_id, occurred_on) of the withdrawal,
  journal-entry and invalidation events only, the three the consent gate reads
  (``extracts/gate_query.py``). The gate joins each type on its own; with this index the
  rare types (withdrawals, invalidations) are read from a few index pages instead of a
  scan of every event, and the ``data_obtained`` events every journal extract appends
  (one per included consent) are neither in it nor slowed by it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

GATE_EVENTS = "event_type IN ('withdrawn', 'journal_entry_confirmed', 'invalidated')"


def upgrade() -> None:
    op.create_index(
        "ix_consent_event_gate",
        "consent_event",
        ["event_type", "consent_id", "occurred_on"],
        postgresql_where=sa.text(GATE_EVENTS),
        sqlite_where=sa.text(GATE_EVENTS),
    )


def downgrade() -> None:
    op.drop_index("ix_consent_event_gate", table_name="consent_event")

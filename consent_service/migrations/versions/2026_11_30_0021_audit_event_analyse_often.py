"""Autovacuum analyses audit_event after every 20,000 new events

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 21:00:00

By default autovacuum analyses a table once 10% of it is new, so a log of ten million
events gets new statistics once a million events were added: until then the planner
believes the newest events (the week a DPO reviews, the minutes an alert rule counts)
hardly exist, and may read a whole period through a time index and sort it instead of
stopping after a page (bench/README.md, "The DPO log's page on stale statistics"). On
PostgreSQL ``audit_event`` is analysed after a fixed 20,000 new events, whatever its
size (ANALYZE reads a sample of at most 30,000 rows, so each costs the same on a large
log). This only narrows the gap: the DPO log's search does not depend on it
(``oversight.review_query``). SQLite keeps no statistics unless told to: nothing to do.
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

SETTINGS = "autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 20000"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE audit_event SET ({SETTINGS})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE audit_event RESET "
            "(autovacuum_analyze_scale_factor, autovacuum_analyze_threshold)"
        )

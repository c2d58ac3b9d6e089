"""Tampering with the audit log as someone who holds the database would: on a connection of
their own, never the application's engine, past the append-only triggers.

On PostgreSQL that is the superuser on the test database with
``session_replication_role = replica`` (which skips triggers and foreign keys); the
application's own login cannot do this. On SQLite it is a separate connection to the
file after dropping the triggers of the audit tables.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Table, create_engine, delete, insert, select, text, update
from sqlalchemy.pool import NullPool

from consent_service.audit.chain import event_hash
from consent_service.audit.checkpoints import checkpoint_message, key_id
from consent_service.audit.models import AuditCheckpoint, AuditEvent, AuditPurge
from tests.conftest import ORIGIN, superuser_url

EVENTS = cast(Table, AuditEvent.__table__)
CHECKPOINTS = cast(Table, AuditCheckpoint.__table__)
PURGES = cast(Table, AuditPurge.__table__)
AUDIT_TABLES = ("audit_event", "audit_checkpoint", "audit_purge", "audit_cosignature")


@contextmanager
def attacker(db_url: str) -> Iterator[Connection]:
    """One transaction, committed at the end, in which the audit triggers stop nothing."""
    if db_url.startswith("sqlite"):
        path = db_url.removeprefix("sqlite:///")
        raw = sqlite3.connect(path)
        names = raw.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
            f"({', '.join('?' * len(AUDIT_TABLES))})",
            AUDIT_TABLES,
        ).fetchall()
        for (name,) in names:
            raw.execute(f'DROP TRIGGER "{name}"')
        raw.commit()
        raw.close()
        engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    else:
        engine = create_engine(superuser_url(db_url), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            yield conn
    finally:
        engine.dispose()


def run(db_url: str, *statements: str) -> None:
    with attacker(db_url) as conn:
        for statement in statements:
            conn.execute(text(statement))


def event_hash_at(db_url: str, seq: int) -> str:
    with attacker(db_url) as conn:
        return str(conn.scalar(select(EVENTS.c.hash).where(EVENTS.c.seq == seq)))


def delete_events(db_url: str, *, from_seq: int = 1, to_seq: int | None = None) -> None:
    """Delete the events from ``from_seq`` to ``to_seq`` (to the end if None)."""
    with attacker(db_url) as conn:
        where = EVENTS.c.seq >= from_seq
        if to_seq is not None:
            where = where & (EVENTS.c.seq <= to_seq)
        conn.execute(delete(EVENTS).where(where))


def rewrite_from(db_url: str, seq: int, **changes: Any) -> None:
    """Change event ``seq`` and recompute its hash and every later event's prev_hash and
    hash with the chain's own functions: every link holds again; only a signature can
    show the change."""
    with attacker(db_url) as conn:
        rows = conn.execute(select(EVENTS).where(EVENTS.c.seq >= seq).order_by(EVENTS.c.seq))
        records = [dict(row._mapping) for row in rows]
        prev: str | None = None
        for record in records:
            if prev is None:
                record.update(changes)
            else:
                record["prev_hash"] = prev
            record["hash"] = prev = event_hash(record)
            values = {"prev_hash": record["prev_hash"], "hash": record["hash"]}
            if record["seq"] == seq:
                values.update(changes)
            conn.execute(update(EVENTS).where(EVENTS.c.seq == record["seq"]).values(values))


def insert_checkpoint(
    db_url: str,
    seq: int,
    event_hash: str,
    signed_at: datetime,
    *,
    signer: Ed25519PrivateKey | None = None,
    claimed_key_id: str | None = None,
    origin: str = ORIGIN,
) -> None:
    """A checkpoint row: signed with ``signer`` (a key the attacker holds) or, without
    one, with no valid signature at all; ``claimed_key_id`` is the key id it names."""
    if signer is None:
        signature = base64.b64encode(bytes(64)).decode()
        names = claimed_key_id or "0" * 64
    else:
        signature = base64.b64encode(
            signer.sign(checkpoint_message(origin, seq, event_hash))
        ).decode()
        names = claimed_key_id or key_id(signer.public_key())
    with attacker(db_url) as conn:
        conn.execute(
            insert(CHECKPOINTS).values(
                origin=origin,
                seq=seq,
                hash=event_hash,
                signed_at=signed_at,
                key_id=names,
                signature=signature,
                made_for="on_demand",
            )
        )


def insert_purge(db_url: str, up_to_seq: int, purged_at: datetime) -> int:
    """A purge record up to ``up_to_seq`` (which the database then lets DELETE through);
    returns its id."""
    with attacker(db_url) as conn:
        conn.execute(
            insert(PURGES).values(
                up_to_seq=up_to_seq,
                events=up_to_seq,
                first_occurred_at=purged_at,
                last_occurred_at=purged_at,
                removed_sha256="0" * 64,
                purged_at=purged_at,
            )
        )
        return int(conn.scalar(select(PURGES.c.id).where(PURGES.c.up_to_seq == up_to_seq)) or 0)

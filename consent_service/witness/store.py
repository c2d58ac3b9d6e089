"""The witness's own storage: its key file and an append-only SQLite file in its state folder.

The state folder belongs to the witness's operator, not to the service whose log it
witnesses; nothing of the service writes there. ``witness-key`` holds the witness's signer
key (mode 600, created once, never overwritten). ``witness.sqlite3`` holds the logs it
witnesses (origin and log verifier key), every checkpoint it accepted with its
cosignature, and the validly signed checkpoints it refused (evidence of a fork or a cut).
Triggers refuse UPDATE and DELETE on all three tables. Each accepted checkpoint is written
in one transaction with ``synchronous=FULL`` before the cosignature is returned, and the
check of the latest checkpoint and the insert happen under ``BEGIN IMMEDIATE``, so two
concurrent submissions (even from two witness processes on the same folder) cannot roll
the witness back.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from consent_service.witness.note import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    NoteError,
    NoteSigner,
    Verifier,
    generate_signer_key,
    parse_signer_key,
    parse_vkey,
)

KEY_FILE = "witness-key"
DB_FILE = "witness.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS witnessed_log (
    origin TEXT NOT NULL,
    vkey TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (origin, vkey)
);
CREATE TABLE IF NOT EXISTS accepted_checkpoint (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    size INTEGER NOT NULL,
    root_hash BLOB NOT NULL,
    note TEXT NOT NULL,
    cosignature TEXT NOT NULL,
    accepted_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS accepted_checkpoint_origin ON accepted_checkpoint (origin, id);
CREATE TABLE IF NOT EXISTS refused_checkpoint (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    size INTEGER NOT NULL,
    root_hash BLOB NOT NULL,
    note TEXT NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
"""
_APPEND_ONLY = """
CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, 'the witness store is append-only'); END;
CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, 'the witness store is append-only'); END;
"""
_TABLES = ("witnessed_log", "accepted_checkpoint", "refused_checkpoint")


class StateError(Exception):
    """The state folder cannot be used as asked (message for the operator)."""


@dataclass(frozen=True)
class Accepted:
    origin: str
    size: int
    root_hash: bytes
    note: str
    cosignature: str
    accepted_at: int


def create_key(state: Path, name: str) -> NoteSigner:
    """Create the witness key in ``state`` (mode 600); refuse if one exists."""
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = state / KEY_FILE
    skey = generate_signer_key(name, ALG_COSIGNATURE_V1)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise StateError(f"{KEY_FILE} exists; a witness key is never overwritten") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(skey + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return parse_signer_key(skey)


def load_key(state: Path) -> NoteSigner:
    path = state / KEY_FILE
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise StateError(f"no {KEY_FILE} in the state folder: run 'witness init'") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"cannot read {KEY_FILE}: {exc.__class__.__name__}") from None
    if os.stat(path).st_mode & 0o077:
        raise StateError(f"{KEY_FILE} is readable by others; chmod 600 it")
    try:
        signer = parse_signer_key(text)
    except NoteError as exc:
        raise StateError(f"{KEY_FILE}: {exc}") from None
    if signer.alg != ALG_COSIGNATURE_V1:
        raise StateError(f"{KEY_FILE} is not a cosignature/v1 key")
    return signer


class WitnessStore:
    """The SQLite file of one state folder. Not shared across threads without its lock
    (the witness service holds one store and serialises requests)."""

    def __init__(self, state: Path) -> None:
        state.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            state / DB_FILE, isolation_level=None, check_same_thread=False, timeout=10
        )
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.executescript(_SCHEMA)
        for table in _TABLES:
            self._db.executescript(_APPEND_ONLY.format(table=table))

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE``: the write lock is taken before the latest state is read."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def add_log(self, origin: str, vkey: str, now: int) -> bool:
        """Record that this witness accepts ``origin`` signed by ``vkey``; False if known."""
        if not origin or "\n" in origin:
            raise StateError("origin must be one non-empty line")
        try:
            verifier = parse_vkey(vkey)
        except NoteError as exc:
            raise StateError(f"log key: {exc}") from None
        if verifier.alg != ALG_ED25519:
            raise StateError("log key must be an Ed25519 (0x01) note key")
        with self.transaction():
            cur = self._db.execute(
                "INSERT OR IGNORE INTO witnessed_log (origin, vkey, added_at) VALUES (?, ?, ?)",
                (origin, verifier.vkey, now),
            )
        return cur.rowcount == 1

    def log_keys(self, origin: str) -> list[Verifier]:
        rows = self._db.execute(
            "SELECT vkey FROM witnessed_log WHERE origin = ? ORDER BY added_at", (origin,)
        ).fetchall()
        return [parse_vkey(vkey) for (vkey,) in rows]

    def origins(self) -> list[str]:
        rows = self._db.execute("SELECT DISTINCT origin FROM witnessed_log ORDER BY origin")
        return [origin for (origin,) in rows]

    def latest(self, origin: str) -> Accepted | None:
        row = self._db.execute(
            "SELECT origin, size, root_hash, note, cosignature, accepted_at"
            " FROM accepted_checkpoint WHERE origin = ? ORDER BY id DESC LIMIT 1",
            (origin,),
        ).fetchone()
        return None if row is None else Accepted(*row)

    def accepted(self, origin: str) -> list[Accepted]:
        rows = self._db.execute(
            "SELECT origin, size, root_hash, note, cosignature, accepted_at"
            " FROM accepted_checkpoint WHERE origin = ? ORDER BY id",
            (origin,),
        )
        return [Accepted(*row) for row in rows]

    def append_accepted(self, accepted: Accepted) -> None:
        self._db.execute(
            "INSERT INTO accepted_checkpoint"
            " (origin, size, root_hash, note, cosignature, accepted_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                accepted.origin,
                accepted.size,
                accepted.root_hash,
                accepted.note,
                accepted.cosignature,
                accepted.accepted_at,
            ),
        )

    def append_refused(
        self,
        origin: str,
        size: int,
        root_hash: bytes,
        note: str,
        status: int,
        reason: str,
        now: int,
    ) -> None:
        self._db.execute(
            "INSERT INTO refused_checkpoint"
            " (origin, size, root_hash, note, status, reason, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (origin, size, root_hash, note, status, reason, now),
        )

    def refused_count(self, origin: str) -> int:
        row = self._db.execute(
            "SELECT count(*) FROM refused_checkpoint WHERE origin = ?", (origin,)
        ).fetchone()
        return int(row[0])

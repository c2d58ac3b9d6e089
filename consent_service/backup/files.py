"""The backup file format: a one-line header (magic, version, kind, engine) followed by
the sealed bytes, the header as associated data; written with mode 600, never over an
existing file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from consent_service.crypto import DecryptionError, derive, open_sealed, seal

MAGIC = b"consent-service backup v1"
KINDS = ("data", "keys")
ENGINES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
UNDECRYPTABLE = "the backup cannot be decrypted with this master key or was altered"


class BackupError(Exception):
    """Why a backup or restore was refused or failed, in one line; never holds secrets."""


def _header(kind: str, engine: str) -> bytes:
    return MAGIC + f" {kind} {engine}\n".encode()


def _file_key(master_key: bytes, kind: str) -> bytes:
    return derive(master_key, f"backup-{kind}")


def seal_file(master_key: bytes, kind: str, engine: str, plaintext: bytes) -> bytes:
    """The file's bytes: header, then ``plaintext`` sealed under the kind's key."""
    header = _header(kind, engine)
    try:
        return header + seal(_file_key(master_key, kind), plaintext, header)
    except OverflowError:
        raise BackupError(
            f"the {kind} is too large for this backup format (at most 2 GiB)"
        ) from None


def open_file(master_key: bytes, path: Path, kind: str, engine: str) -> bytes:
    """The plaintext of a backup file of this kind and engine; refuses any other file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from None
    line, sep, sealed = raw.partition(b"\n")
    parts = line.split(b" ")
    if not sep or not line.startswith(MAGIC + b" ") or len(parts) != 5:
        raise BackupError(f"{path} is not a consent-service backup file")
    file_kind, file_engine = parts[3].decode(errors="replace"), parts[4].decode(errors="replace")
    if file_kind not in KINDS or file_engine not in ENGINES:
        raise BackupError(f"{path} is not a consent-service backup file")
    if file_kind != kind:
        what = "a keys file" if file_kind == "keys" else "a data backup"
        raise BackupError(
            f"{path} is {what}, not a {'keys file' if kind == 'keys' else 'data backup'}"
        )
    if file_engine != engine:
        raise BackupError(
            f"{path} is a {ENGINES[file_engine]} backup; restore it into a "
            f"{ENGINES[file_engine]} database, not {ENGINES[engine]}"
        )
    try:
        return open_sealed(_file_key(master_key, kind), sealed, line + sep)
    except DecryptionError:
        raise BackupError(UNDECRYPTABLE) from None


def write_private(path: Path, content: bytes) -> None:
    """Create ``path`` with mode 600; never overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupError(f"{path} exists already; backups are never overwritten") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())


def sha256(content: bytes) -> str:
    """The SHA-256 of ``content``, hex."""
    return hashlib.sha256(content).hexdigest()


def sha256_of(path: Path) -> str:
    """The SHA-256 of a backup file as written (of the ciphertext: safe to record)."""
    return sha256(path.read_bytes())

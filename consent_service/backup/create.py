"""Taking a backup: the data file and the keys file, sealed and written side by side."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from consent_service.backup import postgresql, sqlite
from consent_service.backup.engines import parse
from consent_service.backup.files import BackupError, seal_file, sha256, write_private


@dataclass(frozen=True)
class BackupFiles:
    engine: str
    data_path: Path
    keys_path: Path
    data_sha256: str
    keys_sha256: str
    keys: int


def create_backup(url: str, master_key: bytes, out_dir: Path, now: datetime) -> BackupFiles:
    """Write an encrypted data backup and a separate encrypted keys file into ``out_dir``."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    parsed, engine = parse(url)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_path = out_dir / f"consent-data-{stamp}.backup"
    keys_path = out_dir / f"consent-keys-{stamp}.backup"
    for path in (data_path, keys_path):
        if path.exists():
            raise BackupError(f"{path} exists already; backups are never overwritten")
    with tempfile.TemporaryDirectory(prefix="consent-backup-") as tmp:
        dump = sqlite.dump if engine == "sqlite" else postgresql.dump
        data, keys = dump(parsed, Path(tmp))
    sealed_data = seal_file(master_key, "data", engine, data)
    sealed_keys = seal_file(
        master_key, "keys", engine, json.dumps(keys, separators=(",", ":")).encode()
    )
    write_private(data_path, sealed_data)
    try:
        write_private(keys_path, sealed_keys)
    except BaseException:
        data_path.unlink(missing_ok=True)
        raise
    return BackupFiles(
        engine=engine,
        data_path=data_path,
        keys_path=keys_path,
        data_sha256=sha256(sealed_data),
        keys_sha256=sha256(sealed_keys),
        keys=len(keys["keys"]),
    )

"""What the keys file holds: the key rows and the deletion ledger, of one moment; and
reading them back (a keys file of before the ledger is a bare list of key rows)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from consent_service.backup import repository
from consent_service.backup.files import BackupError
from consent_service.deletion.service import LedgerEntry, deletion_ledger


def keys_payload(conn: Connection) -> dict[str, Any]:
    """The key rows and the deletion ledger, read in the caller's transaction."""
    return {
        "keys": repository.key_rows(conn),
        "deletions": [entry.as_json() for entry in deletion_ledger(conn)],
    }


def _key_row(item: Any) -> dict[str, Any]:
    created_at = datetime.fromisoformat(item["created_at"])
    if created_at.tzinfo is None:
        raise ValueError("naive created_at")
    return {
        "citizen_id": int(item["citizen_id"]),
        "purpose": str(item["purpose"]),
        "wrapped_key": base64.b64decode(item["wrapped_key"], validate=True),
        "created_at": created_at,
    }


def parse_keys(raw: bytes) -> tuple[list[dict[str, Any]], list[LedgerEntry]]:
    """The key rows and the deletion ledger (a keys file of before the ledger is a bare
    list of key rows)."""
    try:
        content = json.loads(raw)
        if isinstance(content, list):
            content = {"keys": content, "deletions": []}
        if not isinstance(content, dict):
            raise TypeError("not a keys file")
        items, deletions = content["keys"], content["deletions"]
        if not isinstance(items, list) or not isinstance(deletions, list):
            raise TypeError("not a list")
        return [_key_row(item) for item in items], [LedgerEntry.from_json(d) for d in deletions]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BackupError("the keys file does not hold key rows") from None

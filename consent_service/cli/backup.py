"""``consent-service backup`` and ``restore``: an encrypted data backup with a separate
keys file, and its restore into an empty database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from consent_service.backup import BackupError, create_backup, restore_backup, sha256_of
from consent_service.cli.common import add_command, checked_context, cli_actor, service_context
from consent_service.config import load_settings
from consent_service.crypto import Crypto
from consent_service.db import session_scope
from consent_service.migrations.privileges import app_role_of
from consent_service.startup import check_database


def cmd_backup(args: argparse.Namespace) -> int:
    """An encrypted data backup without the citizens' keys, and a separate keys file."""
    ctx = checked_context()
    try:
        files = create_backup(
            ctx.settings.database_url, ctx.settings.keys.master, Path(args.out), ctx.clock.now()
        )
    except BackupError as exc:
        print(f"consent-service: backup failed: {exc}", file=sys.stderr)
        return 1
    with session_scope(ctx.sessions) as session:
        ctx.audit.record(
            session,
            cli_actor(),
            action="backup.created",
            outcome="success",
            details={
                "engine": files.engine,
                "data_sha256": files.data_sha256,
                "keys_sha256": files.keys_sha256,
            },
        )
    print(f"data backup: {files.data_path}")
    print(
        f"keys file:   {files.keys_path} ({files.keys} keys; store it apart from the data "
        "backup and delete it within days)"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a backup into an empty database, check it and record the restore there."""
    settings = load_settings()
    data_path = Path(args.data_file)
    keys_path = Path(args.keys) if args.keys else None
    try:
        # As the owner of the new database; the application login of CONSENT_DATABASE_URL
        # gets its grants there, as after `migrate`.
        app_role = None if settings.is_sqlite else app_role_of(settings.database_url)
        report = restore_backup(
            args.to,
            settings.keys.master,
            data_path,
            keys_path,
            app_role,
            public_key=Crypto(settings.keys).public_key,
            actor=cli_actor(),
        )
    except BackupError as exc:
        print(f"consent-service: restore failed: {exc}", file=sys.stderr)
        return 1
    ctx = service_context(load_settings(database_url=args.to))
    try:
        check_database(ctx.engine, ctx.crypto, as_owner=True)  # index and signing keys
        with session_scope(ctx.sessions) as session:
            ctx.audit.record(
                session,
                cli_actor(),
                action="backup.restored",
                outcome="success",
                details={
                    "engine": report.engine,
                    "data_sha256": sha256_of(data_path),
                    "keys_sha256": sha256_of(keys_path) if keys_path else None,
                    "events": report.events_verified,
                    "citizens": report.citizens,
                    "keys": report.keys_restored,
                    "redeleted": len(report.redeleted),
                },
            )
        target = ctx.engine.url.render_as_string(hide_password=True)
    finally:
        ctx.engine.dispose()
    skipped = (
        f", {report.keys_skipped} keys of later citizens left out" if report.keys_skipped else ""
    )
    print(
        f"restored into {target}: {report.events_verified} audit events verified, "
        f"{report.citizens} citizens, {report.keys_restored} keys restored{skipped}"
    )
    # Deletions made after the backup was taken, made again: public ids only.
    for entry in report.redeleted:
        what = (
            f"citizen {entry.citizen}"
            if entry.kind == "citizen"
            else f"wellbeing answers of consent {entry.consent} (citizen {entry.citizen})"
        )
        print(f"re-deleted {what}: deleted {entry.at} by rule {entry.rule}")
    return 0


def add_backup_commands(sub: Any) -> None:
    """Register ``backup`` and ``restore`` on the top-level subparsers."""
    p = add_command(
        sub, "backup", cmd_backup, "write an encrypted data backup and a separate keys file"
    )
    p.add_argument("--out", required=True, help="folder for the two files (made if absent)")
    p = add_command(
        sub, "restore", cmd_restore, "restore an encrypted backup into an empty database"
    )
    p.add_argument("data_file", metavar="DATA_FILE", help="the consent-data-*.backup file")
    p.add_argument("--keys", metavar="KEYS_FILE", help="the consent-keys-*.backup file")
    p.add_argument("--to", required=True, metavar="DATABASE_URL", help="the empty database")

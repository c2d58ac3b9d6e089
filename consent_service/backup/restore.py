"""Restoring a backup into an empty database: decrypt both files first, load the data,
check the schema is at the migration head, grant the application login (PostgreSQL),
load the key rows, verify the audit log, and make again every deletion of the keys
file's ledger that the data backup predates. A failure leaves nothing behind."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from consent_service.audit.recorder import SYSTEM, Actor, AuditRecorder
from consent_service.audit.service import verify_chain
from consent_service.backup import postgresql, repository, sqlite
from consent_service.backup.engines import db_problem, parse, shown
from consent_service.backup.files import BackupError, open_file
from consent_service.backup.keys_file import parse_keys
from consent_service.clock import Clock, SystemClock
from consent_service.db import make_engine, make_sessionmaker, session_scope
from consent_service.deletion.service import LedgerEntry, reapply_deletions
from consent_service.migrations.privileges import PrivilegeError, apply_privileges
from consent_service.startup import migration_heads


@dataclass(frozen=True)
class RestoreReport:
    engine: str
    events_verified: int
    citizens: int
    keys_restored: int
    keys_skipped: int  # keys of citizens the data backup does not hold (registered later)
    redeleted: tuple[LedgerEntry, ...] = ()  # deletions made after the backup, made again


def _check_head(engine: Engine) -> None:
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    heads = migration_heads()
    if current != heads:
        raise BackupError(
            f"the backup is at migration {', '.join(sorted(current)) or '(none)'}, not at this "
            f"version's {', '.join(sorted(heads))}: restore it with the service version that "
            "made it"
        )


def _grant(engine: Engine, app_role: str | None) -> None:
    try:
        with engine.begin() as conn:
            apply_privileges(conn, app_role)
    except PrivilegeError as exc:
        raise BackupError(str(exc)) from None


def _load_keys_and_verify(
    engine: Engine,
    keys: list[dict[str, Any]],
    ledger: list[LedgerEntry],
    public_key: Ed25519PublicKey,
    clock: Clock,
    actor: Actor,
) -> tuple[int, int, int, int, list[LedgerEntry]]:
    """Insert the key rows of citizens the backup holds, verify the audit log (its chain,
    checkpoints and start), then make again the ledger's deletions the backup does not
    have; all in one transaction, rolled back if anything fails."""
    with session_scope(make_sessionmaker(engine)) as session:
        present = repository.citizen_ids(session)
        wanted = [row for row in keys if row["citizen_id"] in present]
        repository.insert_key_rows(session, wanted)
        verification = verify_chain(session, public_key)
        if not verification.intact:
            raise BackupError(
                f"the restored audit log does not verify ({verification.problems[0]}; "
                f"{verification.summary}): the restored database must not be used"
            )
        redeleted = reapply_deletions(session, clock, AuditRecorder(clock), actor, ledger)
        citizens = repository.count_citizens(session)
    return verification.events, citizens, len(wanted), len(keys) - len(wanted), redeleted


def restore_backup(
    url: str,
    master_key: bytes,
    data_path: Path,
    keys_path: Path | None,
    app_role: str | None = None,
    *,
    public_key: Ed25519PublicKey,
    clock: Clock | None = None,
    actor: Actor = SYSTEM,
) -> RestoreReport:
    """Restore a data backup (and a keys file) into the empty database at ``url``; its
    audit log must verify with the service's checkpoint ``public_key``. Every deletion of
    the keys file's ledger that the data backup predates is made again, audited as done
    by ``actor``. On PostgreSQL ``url`` is the new database's owner, and ``app_role`` the
    application login that gets its grants there (``migrations.privileges``)."""
    parsed, engine_name = parse(url)
    # Decrypt everything before touching the target: a wrong key or an altered file
    # leaves nothing behind.
    data = open_file(master_key, data_path, "data", engine_name)
    keys, ledger = (
        parse_keys(open_file(master_key, keys_path, "keys", engine_name))
        if keys_path is not None
        else ([], [])
    )
    sqlite_target: Path | None = None
    engine = make_engine(url) if engine_name == "postgresql" else None
    try:
        if engine is None:
            sqlite_target = sqlite.refuse_non_empty(parsed)
            try:
                sqlite.restore(sqlite_target, data)
            except OSError as exc:
                raise BackupError(f"cannot write {sqlite_target}: {exc.strerror or exc}") from None
            engine = make_engine(url)
        else:
            postgresql.refuse_non_empty(parsed, engine)
            postgresql.restore(parsed, data)
        try:
            _check_head(engine)
            if engine_name == "postgresql":
                _grant(engine, app_role)
            events, citizens, restored, skipped, redeleted = _load_keys_and_verify(
                engine, keys, ledger, public_key, clock or SystemClock(), actor
            )
        except SQLAlchemyError as exc:
            raise BackupError(
                f"the restored database {shown(parsed)} cannot be used: {db_problem(exc)}"
            ) from None
    except BackupError:
        if engine is not None:
            engine.dispose()
        if sqlite_target is not None:
            for suffix in ("", "-wal", "-shm"):
                sqlite_target.with_name(sqlite_target.name + suffix).unlink(missing_ok=True)
        raise
    engine.dispose()
    return RestoreReport(
        engine=engine_name,
        events_verified=events,
        citizens=citizens,
        keys_restored=restored,
        keys_skipped=skipped,
        redeleted=tuple(redeleted),
    )

"""Start-up checks: refuse to start, with one clear line, rather than run misconfigured.

Nothing here writes: a database at an unknown migration, a wrong key or an unreachable
database stops the service before it touches any data.
"""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from consent_service.config import ConfigError
from consent_service.crypto import Crypto
from consent_service.identity.models import KeyCheck
from consent_service.migrations import alembic_config


class StartupError(Exception):
    """Why the service will not start, and what to do about it, in one line."""


def migration_heads() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def known_revisions() -> set[str]:
    return {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def check_database(engine: Engine, crypto: Crypto, *, as_owner: bool = False) -> None:
    """Reachable, at the head migration, made with the configured keys, and (on
    PostgreSQL) logged in as the application login: not a superuser, not the owner of
    the tables nor a member of the owner's role. ``as_owner``: the caller is `restore`,
    which must be the owner."""
    url = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            login_problem = None if as_owner else _login_problem(conn)
            current = set(MigrationContext.configure(conn).get_current_heads())
            has_key_check = inspect(conn).has_table(KeyCheck.__tablename__)
            row = (
                conn.execute(KeyCheck.__table__.select().where(KeyCheck.id == 1)).first()
                if has_key_check
                else None
            )
            conn.rollback()
    except SQLAlchemyError as exc:
        reason = str(exc.orig if hasattr(exc, "orig") and exc.orig else exc).splitlines()[0]
        raise StartupError(
            f"database {url} is unreachable ({reason}): check CONSENT_DATABASE_URL"
        ) from None
    if login_problem:
        raise StartupError(login_problem)
    heads = migration_heads()
    if not current:
        raise StartupError(f"database {url} has no schema: run `consent-service migrate`")
    unknown = current - known_revisions()
    if unknown:
        raise StartupError(
            f"database {url} is at migration {', '.join(sorted(unknown))}, which this version "
            "does not know: run the service version that made it, or restore a matching backup"
        )
    if current != heads:
        raise StartupError(
            f"database {url} is at migration {', '.join(sorted(current))}, not at "
            f"{', '.join(sorted(heads))}: run `consent-service migrate`"
        )
    if row is None:
        raise StartupError(f"database {url} has no key check: run `consent-service migrate`")
    if not crypto.master_key_matches(row.master_check):
        raise StartupError("CONSENT_MASTER_KEY is not the key this database was created with")
    if not crypto.index_key_matches(row.index_check):
        raise StartupError("CONSENT_INDEX_KEY is not the key this database was created with")
    if not crypto.signing_key_matches(row.signing_check):
        raise StartupError("CONSENT_SIGNING_KEY is not the key this database was created with")


def _login_problem(conn: Connection) -> str | None:
    """Why this PostgreSQL login must not run the service, or None."""
    if conn.dialect.name != "postgresql":
        return None
    row = conn.execute(
        text(
            "SELECT current_user AS login, rolsuper, "
            "(SELECT bool_or(pg_has_role(current_user, tableowner, 'MEMBER')) FROM pg_tables "
            " WHERE schemaname = 'public') AS owns "
            "FROM pg_roles WHERE rolname = current_user"
        )
    ).one()
    if row.rolsuper:
        return (
            f"database login {row.login!r} is a superuser: set CONSENT_DATABASE_URL to the "
            "application login, which owns nothing (README, Running on PostgreSQL)"
        )
    if row.owns:
        return (
            f"database login {row.login!r} owns the tables (or is a member of their owner): "
            "it is only for `consent-service migrate` (CONSENT_MIGRATION_DATABASE_URL); set "
            "CONSENT_DATABASE_URL to the application login"
        )
    return None


__all__ = ["ConfigError", "StartupError", "check_database"]

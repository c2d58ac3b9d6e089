"""Setting a service up: keys, migrations, checks, the first administrator, organisations
and users from the command line."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from consent_service.cli.common import add_command, cli_actor, service_context
from consent_service.config import env_file, load_settings
from consent_service.context import AppContext
from consent_service.crypto import generate_key_b64
from consent_service.db import session_scope
from consent_service.errors import RuleRefusal
from consent_service.identity import repository as identity_repo
from consent_service.identity import users as identity
from consent_service.identity.errors import UserInputError
from consent_service.identity.models import Role
from consent_service.identity.proposals import needs_two_people
from consent_service.migrations import upgrade
from consent_service.migrations.privileges import app_role_of
from consent_service.startup import check_database


def cmd_generate_keys(args: argparse.Namespace) -> int:
    """Write new keys to the env file if it is absent; never overwrite it."""
    path = Path(args.env_file) if args.env_file else env_file()
    if path.exists():
        print(f"{path} exists; keys are never overwritten (delete it yourself to start over)")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("# consent-service keys: keep outside version control and back up separately\n")
        for name in ("MASTER_KEY", "INDEX_KEY", "SIGNING_KEY"):
            fh.write(f"CONSENT_{name}={generate_key_b64()}\n")
    print(f"wrote new keys to {path} (mode 600)")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """As the owner (CONSENT_MIGRATION_DATABASE_URL): the migrations, then the grants of
    the application login (CONSENT_DATABASE_URL) on PostgreSQL."""
    settings = load_settings()
    ctx = service_context(load_settings(database_url=settings.migration_url))
    try:
        app_role = None if settings.is_sqlite else app_role_of(settings.database_url)
        upgrade(ctx.engine, app_role=app_role)
        with session_scope(ctx.sessions) as session:
            identity.ensure_key_check(session, ctx.crypto, ctx.clock)
    finally:
        ctx.engine.dispose()
    print("database is at the latest migration")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Run the start-up checks (configuration, keys, policy, database) and exit."""
    ctx = service_context(load_settings())
    check_database(ctx.engine, ctx.crypto)
    print("configuration, keys, policy and database are in order")
    return 0


def cmd_bootstrap_admin(args: argparse.Namespace) -> int:
    """Create the first administrator with a one-time password, if none exists."""
    ctx = service_context(load_settings())
    check_database(ctx.engine, ctx.crypto)
    with session_scope(ctx.sessions) as session:
        created = identity.bootstrap_admin(session, ctx.identity, cli_actor(), args.username)
    if created is None:
        print("an administrator exists already; nothing to do")
        return 0
    user, password = created
    print(
        f"Created administrator '{user.username}'. One-time set-up password (shown once, "
        f"must be changed at first login, where TOTP enrolment is also required):\n\n"
        f"    {password}\n\nLog in at http://{ctx.settings.host}:{ctx.settings.port}/login"
    )
    return 0


def cmd_create_organisation(args: argparse.Namespace) -> int:
    """Create an organisation (a data controller) by name."""
    ctx = service_context(load_settings())
    check_database(ctx.engine, ctx.crypto)
    with session_scope(ctx.sessions) as session:
        if identity_repo.organisation_by_name(session, args.name):
            print(f"organisation {args.name!r} exists already")
            return 1
        try:
            org = identity.create_organisation(session, ctx.identity, cli_actor(), args.name)
        except (UserInputError, RuleRefusal) as exc:
            print(f"refused: {exc}")
            return 1
        print(f"created organisation {org.name!r} (id {org.id})")
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    """Create a user with a one-time password, unless the role takes two people."""
    ctx = service_context(load_settings())
    check_database(ctx.engine, ctx.crypto)
    with session_scope(ctx.sessions) as session:
        org = identity_repo.organisation_by_name(
            session, args.organisation or ctx.settings.bootstrap_organisation
        )
        if org is None:
            print("unknown organisation: create it with `consent-service create-organisation`")
            return 1
        refusal = _two_people_refusal(ctx, session, org.id, args.role)
        if refusal:
            print(f"refused: {refusal}")
            return 1
        try:
            user, password = identity.create_user(
                session,
                ctx.identity,
                cli_actor(),
                organisation_id=org.id,
                username=args.username,
                display_name=args.name,
                role=args.role,
            )
        except UserInputError as exc:
            print(f"refused: {exc}")
            return 1
        print(
            f"Created {user.role} '{user.username}' in {org.name!r}. One-time set-up "
            f"password (shown once):\n\n    {password}\n"
        )
    return 0


def _two_people_refusal(
    ctx: AppContext, session: Session, organisation_id: int, role: str
) -> str | None:
    """Why create-user may not make this user alone, or None. A role that can read
    citizens' data takes two people (`users propose`, approved by a data controller); the
    one exception is an organisation's first data controller, who has nobody to approve
    them (like the first administrator)."""
    if not needs_two_people(ctx.policy, role):
        return None
    controllers = [
        u
        for u in identity_repo.users_of_organisation(session, organisation_id)
        if u.role == Role.DATA_CONTROLLER.value and u.is_active
    ]
    if role == Role.DATA_CONTROLLER.value and not controllers:
        return None
    return (
        f"the role {role} can read citizens' data: propose it with `consent-service users "
        "propose`; a data controller of the organisation approves it"
    )


def cmd_unlock_user(args: argparse.Namespace) -> int:
    """End a user's lockout, with a reason for the audit log."""
    ctx = service_context(load_settings())
    check_database(ctx.engine, ctx.crypto)
    with session_scope(ctx.sessions) as session:
        user = identity_repo.user_by_username(session, args.username)
        if user is None:
            print("no such user")
            return 1
        try:
            identity.unlock_user(session, ctx.identity, cli_actor(), user, args.reason)
        except UserInputError as exc:
            print(f"refused: {exc}")
            return 1
        print(f"unlocked '{user.username}'")
    return 0


def add_setup_commands(sub: Any) -> None:
    """Register the set-up commands on the top-level subparsers of ``consent-service``."""
    add_command(sub, "migrate", cmd_migrate, "bring the database to the latest migration")
    add_command(sub, "check", cmd_check, "run the start-up checks and exit")
    p = add_command(
        sub, "generate-keys", cmd_generate_keys, "write new keys to the env file if it is absent"
    )
    p.add_argument("--env-file")
    p = add_command(
        sub, "bootstrap-admin", cmd_bootstrap_admin, "create the first administrator if none"
    )
    p.add_argument("--username", default="admin")
    p = add_command(sub, "create-organisation", cmd_create_organisation, "create an organisation")
    p.add_argument("name")
    p = add_command(sub, "create-user", cmd_create_user, "create a user with a one-time password")
    p.add_argument("--username", required=True)
    p.add_argument("--name", required=True, help="display name")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--organisation")
    p = add_command(sub, "unlock-user", cmd_unlock_user, "end a user's lockout, with a reason")
    p.add_argument("--username", required=True)
    p.add_argument("--reason", required=True)

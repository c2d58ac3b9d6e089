"""The `consent-service` command."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from consent_service.access.policy import PolicyError
from consent_service.audit.recorder import Actor
from consent_service.clock import LEGAL_TZ
from consent_service.config import ConfigError, Settings, env_file, load_settings
from consent_service.context import AppContext
from consent_service.crypto import Crypto, generate_key_b64
from consent_service.db import session_scope
from consent_service.identity import repository as identity_repo
from consent_service.identity import users as identity
from consent_service.identity.cli import add_user_commands
from consent_service.identity.errors import UserInputError
from consent_service.identity.models import Role
from consent_service.logging import configure_logging
from consent_service.startup import StartupError, check_database
from consent_service.witness.cli import add_witness_commands

EXIT_CONFIG = 2


def _cli_actor() -> Actor:
    try:
        who = getpass.getuser()
    except Exception:
        who = "unknown"
    return Actor(username=f"cli:{who}"[:64], source_ip="local")


def _context(settings: Settings) -> AppContext:
    return AppContext.build(settings)


def cmd_generate_keys(args: argparse.Namespace) -> int:
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
    from consent_service.migrations import upgrade
    from consent_service.migrations.privileges import app_role_of

    settings = load_settings()
    ctx = _context(load_settings(database_url=settings.migration_url))
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
    ctx = _context(load_settings())
    check_database(ctx.engine, ctx.crypto)
    print("configuration, keys, policy and database are in order")
    return 0


def cmd_bootstrap_admin(args: argparse.Namespace) -> int:
    ctx = _context(load_settings())
    check_database(ctx.engine, ctx.crypto)
    with session_scope(ctx.sessions) as session:
        created = identity.bootstrap_admin(session, ctx.identity, _cli_actor(), args.username)
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
    ctx = _context(load_settings())
    check_database(ctx.engine, ctx.crypto)
    with session_scope(ctx.sessions) as session:
        if identity_repo.organisation_by_name(session, args.name):
            print(f"organisation {args.name!r} exists already")
            return 1
        org = identity.create_organisation(session, ctx.identity, _cli_actor(), args.name)
        print(f"created organisation {org.name!r} (id {org.id})")
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    ctx = _context(load_settings())
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
                _cli_actor(),
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
    from consent_service.identity.proposals import needs_two_people

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
    ctx = _context(load_settings())
    check_database(ctx.engine, ctx.crypto)
    with session_scope(ctx.sessions) as session:
        user = identity_repo.user_by_username(session, args.username)
        if user is None:
            print("no such user")
            return 1
        try:
            identity.unlock_user(session, ctx.identity, _cli_actor(), user, args.reason)
        except UserInputError as exc:
            print(f"refused: {exc}")
            return 1
        print(f"unlocked '{user.username}'")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from consent_service.audit.service import verify_chain

    ctx = _context(load_settings())
    check_database(ctx.engine, ctx.crypto)
    with ctx.sessions() as session:
        result = verify_chain(session, ctx.crypto.public_key)
    print(result.summary)
    for problem in result.problems:
        print(f"  {problem}")
    if result.omitted:
        print(f"  ... and {result.omitted} more problem(s) of the kinds above")
    return 0 if result.intact else 1


def _checked_context() -> AppContext:
    ctx = _context(load_settings())
    check_database(ctx.engine, ctx.crypto)
    return ctx


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    from consent_service.audit.checkpoints import sign_head

    ctx = _checked_context()
    with session_scope(ctx.sessions) as session:
        checkpoint = sign_head(
            session, ctx.crypto, ctx.clock, ctx.audit, _cli_actor(), args.made_for,
            origin=ctx.settings.audit_origin,
        )  # fmt: skip
        if checkpoint is None:
            print("the audit log is empty: nothing to sign")
            return 0
        print(f"checkpoint: event {checkpoint.seq} hash {checkpoint.hash} signed")
    return 0


def cmd_audit_export(args: argparse.Namespace) -> int:
    """One organisation's export (other organisations' events as digests only), or the
    whole log with ``--all``: the operator says which, there is no default."""
    from consent_service.audit.export import export_range
    from consent_service.identity import repository as identity_repo

    day_from, day_to = date.fromisoformat(args.date_from), date.fromisoformat(args.date_to)
    if day_from > day_to:
        print("--from must not be after --to")
        return 1
    ctx = _checked_context()
    start = datetime.combine(day_from, time(0), tzinfo=LEGAL_TZ)
    end = datetime.combine(day_to + timedelta(days=1), time(0), tzinfo=LEGAL_TZ)
    out = Path(args.out)
    with session_scope(ctx.sessions) as session:
        organisation_id = None
        if args.organisation is not None:
            org = identity_repo.organisation_by_name(session, args.organisation)
            if org is None:
                print(f"no organisation named {args.organisation!r}")
                return 1
            organisation_id = org.id
        with out.open("x", encoding="utf-8") as fh:
            summary = export_range(
                session, ctx.crypto, ctx.clock, ctx.audit, _cli_actor(), start, end, fh,
                organisation_id=organisation_id, origin=ctx.settings.audit_origin,
            )  # fmt: skip
    whose = f"for {args.organisation}" if args.organisation is not None else "system-wide"
    print(
        f"exported {day_from}..{day_to} {whose} to {out} ({summary.events} events, "
        f"{summary.redacted} as digests only); check it with: python audit/verify.py {out}"
    )
    return 0


def cmd_audit_witnessed(args: argparse.Namespace) -> int:
    """One file per configured witness in ``--out``: the newest checkpoint it cosigned, as
    the note ``audit/verify.py --witness`` reads; never overwrites a file."""
    from consent_service.audit.witnessing import newest_cosigned_note

    ctx = _checked_context()
    if not ctx.settings.witnesses:
        print("no witnesses are configured (CONSENT_WITNESSES)")
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with session_scope(ctx.sessions) as session:
        notes = []
        for target in ctx.settings.witnesses:
            note = newest_cosigned_note(session, ctx.crypto.public_key, target)
            if note is None:
                print(f"{target.name}: has cosigned no checkpoint yet")
            else:
                notes.append((target, note, out / note.filename(target.name)))
        existing = [str(path) for _, _, path in notes if path.exists()]
        if existing:
            print(f"{', '.join(existing)} exist(s); files are never overwritten")
            return 1
        for target, note, path in notes:
            with path.open("x", encoding="utf-8", newline="") as fh:
                fh.write(note.text)
            ctx.audit.record(
                session,
                _cli_actor(),
                action="audit.cosigned_note_fetched",
                outcome="success",
                resource_type="checkpoint",
                resource_id=str(note.seq),
                details={"witness": target.name, "seq": note.seq},
            )
            print(f"{path}: checkpoint {note.seq} cosigned by {target.name}")
            print(f"  --witness {path} --witness-key '{target.key}'")
    print(
        f"{len(notes)} file(s); check an export made since with: "
        "python audit/verify.py EXPORT --witness FILE --witness-key KEY"
    )
    return 0 if notes else 1


def cmd_audit_public_key(args: argparse.Namespace) -> int:
    """The checkpoint-signing public key, to publish (e.g. in audit/) for outside verifiers."""
    ctx = _context(load_settings())
    print(ctx.crypto.public_key_pem(), end="")
    return 0


def cmd_audit_alerts(args: argparse.Namespace) -> int:
    from consent_service.audit.alerts import (
        evaluate_alerts,
        expected_from,
        notify,
        smtp_settings_from,
    )

    ctx = _checked_context()
    actor = _cli_actor()
    with session_scope(ctx.sessions) as session:
        raised = evaluate_alerts(
            session, ctx.clock, ctx.audit, actor, expected=expected_from(ctx.settings)
        )
        notify(session, smtp_settings_from(ctx.settings), ctx.clock, ctx.audit, actor)
    print(f"alert rules evaluated: {len(raised)} new alert(s)")
    return 0


def cmd_audit_purge(args: argparse.Namespace) -> int:
    from consent_service.audit.catalogue import default_event_catalogue
    from consent_service.audit.retention import purge_expired

    ctx = _checked_context()
    deadline = default_event_catalogue().retention_deadline
    with session_scope(ctx.sessions) as session:
        plan = purge_expired(
            session, ctx.clock, ctx.audit, _cli_actor(), deadline, dry_run=args.dry_run
        )
    if plan.up_to_seq is None:
        print("no whole segment of the audit log is past its retention")
    else:
        verb = "would remove" if args.dry_run else "removed"
        print(
            f"{verb} {plan.events} events in {plan.segments} segment(s), "
            f"up to event {plan.up_to_seq}"
        )
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """An encrypted data backup without the citizens' keys, and a separate keys file."""
    from consent_service.backup import BackupError, create_backup

    ctx = _checked_context()
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
            _cli_actor(),
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
    from consent_service.backup import BackupError, restore_backup, sha256_of
    from consent_service.migrations.privileges import app_role_of

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
            actor=_cli_actor(),
        )
    except BackupError as exc:
        print(f"consent-service: restore failed: {exc}", file=sys.stderr)
        return 1
    ctx = _context(load_settings(database_url=args.to))
    try:
        check_database(ctx.engine, ctx.crypto, as_owner=True)  # index and signing keys
        with session_scope(ctx.sessions) as session:
            ctx.audit.record(
                session,
                _cli_actor(),
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


def cmd_run_due(args: argparse.Namespace) -> int:
    """One pass of the worker, for cron: re-plan, then run every due job once."""
    from consent_service.jobs.runner import run_due

    ctx = _checked_context()
    summary = run_due(ctx.sessions, ctx.deps)
    print(f"jobs: {summary}")
    return 0 if summary.failed == 0 else 1


def cmd_worker(args: argparse.Namespace) -> int:
    """The scheduler: a pass every ``worker_poll_seconds`` until stopped (SIGTERM/Ctrl-C).
    Several workers on one PostgreSQL share the due jobs; none runs twice."""
    import signal
    import threading

    from consent_service.jobs.runner import run_due, worker_name

    ctx = _checked_context()
    configure_logging(ctx.settings.log_level)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    name = worker_name()
    print(f"worker {name}: polling every {ctx.settings.worker_poll_seconds:g} s")
    while not stop.is_set():
        summary = run_due(ctx.sessions, ctx.deps, worker=name)
        if summary.done or summary.dropped or summary.failed or summary.retried:
            print(f"worker {name}: {summary}", flush=True)
        if args.once:
            break
        stop.wait(ctx.settings.worker_poll_seconds)
    return 0


def cmd_retention_dry_run(args: argparse.Namespace) -> int:
    """What the pilot-end deletion would remove for an organisation; changes nothing."""
    from consent_service.identity import repository as identity_repo
    from consent_service.retention.deletion import plan_pilot_end

    ctx = _checked_context()
    with session_scope(ctx.sessions) as session:
        org = identity_repo.organisation_by_name(session, args.organisation)
        if org is None:
            print(f"no organisation named {args.organisation!r}")
            return 1
        plan = plan_pilot_end(session, org.id)
    rows = ", ".join(f"{k} {v}" for k, v in plan.rows.items()) or "nothing"
    print(
        f"pilot-end deletion for {args.organisation}: {plan.citizens} citizens; rows: {rows}; "
        f"kept without identity: {plan.kept}; allowed from {plan.allowed_from}, "
        f"deadline {plan.deadline}; a data controller confirms it on /sletning with a fresh code"
    )
    return 0


def cmd_retention_procedure(args: argparse.Namespace) -> int:
    """Regenerate retention/PROCEDURE.md from retention/schedule.yaml."""
    from consent_service.retention.schedule import PROCEDURE, load_schedule, render_procedure

    PROCEDURE.write_text(render_procedure(load_schedule()), encoding="utf-8")
    print(f"wrote {PROCEDURE.name} from the retention schedule")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = load_settings()
    ctx = _context(settings)
    check_database(ctx.engine, ctx.crypto)  # fail here, in one line, not in a worker
    ctx.engine.dispose()
    configure_logging(settings.log_level)
    uvicorn.run(
        "consent_service.asgi:app_factory",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers or settings.workers,
        proxy_headers=False,
        server_header=False,
        log_config=None,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="consent-service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help_: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.set_defaults(func=func)
        return p

    p = add("serve", cmd_serve, "serve the web app and API")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int)
    add("migrate", cmd_migrate, "bring the database to the latest migration")
    add("check", cmd_check, "run the start-up checks and exit")
    p = add("generate-keys", cmd_generate_keys, "write new keys to the env file if it is absent")
    p.add_argument("--env-file")
    p = add("bootstrap-admin", cmd_bootstrap_admin, "create the first administrator if none")
    p.add_argument("--username", default="admin")
    p = add("create-organisation", cmd_create_organisation, "create an organisation")
    p.add_argument("name")
    p = add("create-user", cmd_create_user, "create a user with a one-time password")
    p.add_argument("--username", required=True)
    p.add_argument("--name", required=True, help="display name")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--organisation")
    p = add("unlock-user", cmd_unlock_user, "end a user's lockout, with a reason")
    p.add_argument("--username", required=True)
    p.add_argument("--reason", required=True)
    audit = sub.add_parser("audit", help="audit log commands")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    v = audit_sub.add_parser(
        "verify",
        help="check the chain, checkpoint signatures, the tail and the start; report problems",
    )
    v.set_defaults(func=cmd_audit_verify)
    c = audit_sub.add_parser("checkpoint", help="sign the chain head (run at a fixed interval)")
    c.add_argument("--made-for", default="interval", choices=["interval", "on_demand"])
    c.set_defaults(func=cmd_audit_checkpoint)
    e = audit_sub.add_parser("export", help="export days as JSON Lines with checkpoints")
    e.add_argument("--from", dest="date_from", required=True, help="first day, YYYY-MM-DD")
    e.add_argument("--to", dest="date_to", required=True, help="last day, YYYY-MM-DD")
    e.add_argument("--out", required=True, help="file to create (never overwritten)")
    whose = e.add_mutually_exclusive_group(required=True)
    whose.add_argument(
        "--organisation", help="the organisation's name: other organisations' events as digests"
    )
    whose.add_argument(
        "--all", action="store_true", help="every organisation's events in full (system-wide)"
    )
    e.set_defaults(func=cmd_audit_export)
    w = audit_sub.add_parser(
        "witnessed", help="write each witness's newest cosigned checkpoint note for verify.py"
    )
    w.add_argument("--out", required=True, help="folder for the files (never overwritten)")
    w.set_defaults(func=cmd_audit_witnessed)
    k = audit_sub.add_parser("public-key", help="print the checkpoint-signing public key (PEM)")
    k.set_defaults(func=cmd_audit_public_key)
    a = audit_sub.add_parser("alerts", help="evaluate audit/alerts.yaml and send e-mails")
    a.set_defaults(func=cmd_audit_alerts)
    r = audit_sub.add_parser("purge", help="remove whole segments past their retention")
    r.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    r.set_defaults(func=cmd_audit_purge)
    p = add("backup", cmd_backup, "write an encrypted data backup and a separate keys file")
    p.add_argument("--out", required=True, help="folder for the two files (made if absent)")
    p = add("restore", cmd_restore, "restore an encrypted backup into an empty database")
    p.add_argument("data_file", metavar="DATA_FILE", help="the consent-data-*.backup file")
    p.add_argument("--keys", metavar="KEYS_FILE", help="the consent-keys-*.backup file")
    p.add_argument("--to", required=True, metavar="DATABASE_URL", help="the empty database")
    p = add("worker", cmd_worker, "run scheduled jobs until stopped")
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    add("run-due", cmd_run_due, "run the due jobs once (for cron) and exit")
    retention = sub.add_parser("retention", help="retention schedule commands")
    retention_sub = retention.add_subparsers(dest="retention_command", required=True)
    rd = retention_sub.add_parser("dry-run", help="what the pilot-end deletion would remove")
    rd.add_argument("--organisation", required=True, help="the organisation's name")
    rd.set_defaults(func=cmd_retention_dry_run)
    rp = retention_sub.add_parser("procedure", help="regenerate PROCEDURE.md from the schedule")
    rp.set_defaults(func=cmd_retention_procedure)
    add_witness_commands(sub)
    add_user_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # JSON logs to stderr; what a command has to say to its user goes to stdout.
    configure_logging(os.environ.get("CONSENT_LOG_LEVEL", "WARNING").upper())
    try:
        code: int = args.func(args)
    except (ConfigError, StartupError, PolicyError) as exc:
        print(f"consent-service: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return code


if __name__ == "__main__":
    sys.exit(main())

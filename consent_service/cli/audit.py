"""``consent-service audit ...``: verify, checkpoint, export, witnessed notes, the public
key, alerts and the retention purge of the audit log."""

from __future__ import annotations

import argparse
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from consent_service.audit.catalogue import default_event_catalogue
from consent_service.audit.checkpoints import sign_head
from consent_service.audit.retention import purge_expired
from consent_service.audit.service import verify_chain
from consent_service.audit.witnessing import newest_cosigned_note
from consent_service.cli.common import checked_context, cli_actor, service_context
from consent_service.clock import LEGAL_TZ
from consent_service.config import load_settings
from consent_service.db import session_scope
from consent_service.identity import repository as identity_repo
from consent_service.oversight.alerts import (
    evaluate_alerts,
    expected_from,
    notify,
    smtp_settings_from,
)
from consent_service.oversight.export import export_range
from consent_service.startup import check_database


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Check the chain, the checkpoint signatures, the tail and the start; 1 if broken."""
    ctx = service_context(load_settings())
    check_database(ctx.engine, ctx.crypto)
    with ctx.sessions() as session:
        result = verify_chain(session, ctx.crypto.public_key)
    print(result.summary)
    for problem in result.problems:
        print(f"  {problem}")
    if result.omitted:
        print(f"  ... and {result.omitted} more problem(s) of the kinds above")
    return 0 if result.intact else 1


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    """Sign the chain head as a checkpoint (run at a fixed interval)."""
    ctx = checked_context()
    with session_scope(ctx.sessions) as session:
        checkpoint = sign_head(
            session, ctx.crypto, ctx.clock, ctx.audit, cli_actor(), args.made_for,
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
    day_from, day_to = date.fromisoformat(args.date_from), date.fromisoformat(args.date_to)
    if day_from > day_to:
        print("--from must not be after --to")
        return 1
    ctx = checked_context()
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
                session, ctx.crypto, ctx.clock, ctx.audit, cli_actor(), start, end, fh,
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
    ctx = checked_context()
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
                cli_actor(),
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
    ctx = service_context(load_settings())
    print(ctx.crypto.public_key_pem(), end="")
    return 0


def cmd_audit_alerts(args: argparse.Namespace) -> int:
    """Evaluate the alert rules of ``audit/alerts.yaml`` and send the e-mails due."""
    ctx = checked_context()
    actor = cli_actor()
    with session_scope(ctx.sessions) as session:
        raised = evaluate_alerts(
            session, ctx.clock, ctx.audit, actor, expected=expected_from(ctx.settings)
        )
        notify(session, smtp_settings_from(ctx.settings), ctx.clock, ctx.audit, actor)
    print(f"alert rules evaluated: {len(raised)} new alert(s)")
    return 0


def cmd_audit_purge(args: argparse.Namespace) -> int:
    """Remove whole segments of the audit log past their retention (or say which)."""
    ctx = checked_context()
    deadline = default_event_catalogue().retention_deadline
    with session_scope(ctx.sessions) as session:
        plan = purge_expired(
            session, ctx.clock, ctx.audit, cli_actor(), deadline, dry_run=args.dry_run
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


def add_audit_commands(sub: Any) -> None:
    """Register ``audit ...`` on the top-level subparsers of ``consent-service``."""
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

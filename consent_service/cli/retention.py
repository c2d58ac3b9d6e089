"""``consent-service retention ...``: the dry runs of the pilot-end deletion and of the
consent evidence's deletion, and the deletion procedure generated from the retention
schedule."""

from __future__ import annotations

import argparse
from typing import Any

from consent_service.cli.common import checked_context
from consent_service.db import session_scope
from consent_service.deletion.evidence import plan_evidence
from consent_service.deletion.service import plan_pilot_end
from consent_service.identity import repository as identity_repo
from consent_service.labels import label
from consent_service.retention.schedule import PROCEDURE, load_schedule, render_procedure


def cmd_retention_dry_run(args: argparse.Namespace) -> int:
    """What the pilot-end deletion would remove for an organisation; changes nothing."""
    ctx = checked_context()
    with session_scope(ctx.sessions) as session:
        org = identity_repo.organisation_by_name(session, args.organisation)
        if org is None:
            print(f"no organisation named {args.organisation!r}")
            return 1
        plan = plan_pilot_end(session, org.id)
    rows = ", ".join(f"{k} {v}" for k, v in plan.rows.items()) or "nothing"
    print(
        f"pilot-end deletion for {args.organisation}: {plan.citizens} citizens; rows: {rows}; "
        f"allowed from {plan.allowed_from}, deadline {plan.deadline}; a data controller "
        "confirms it on /sletning with a fresh code"
    )
    print("Bevares uden identitet:")
    for k, v in plan.kept.items():
        until = plan.kept_until.get(k)
        kept_until = f", til og med {until:%d-%m-%Y}" if until else ""
        print(f"  {label('deletion_rows', k)}: {v}{kept_until}")
    print(
        f"Papiroriginaler, der endnu ikke er makuleret: {plan.paper_originals} "
        "(de skal makuleres fysisk og registreres som makuleret)"
    )
    return 0


def cmd_retention_evidence_dry_run(args: argparse.Namespace) -> int:
    """What the deletion of an organisation's consent evidence would remove; changes
    nothing."""
    ctx = checked_context()
    with session_scope(ctx.sessions) as session:
        org = identity_repo.organisation_by_name(session, args.organisation)
        if org is None:
            print(f"no organisation named {args.organisation!r}")
            return 1
        plan = plan_evidence(session, org.id)
    rows = ", ".join(f"{k} {v}" for k, v in plan.rows.items())
    print(
        f"consent evidence deletion for {args.organisation}: rows: {rows}; "
        f"allowed from {plan.allowed_from}, deadline {plan.deadline}; "
        f"citizens not yet deleted: {plan.live_citizens}; a data controller confirms it on "
        "/sletning with a fresh code"
    )
    return 0


def cmd_retention_procedure(args: argparse.Namespace) -> int:
    """Regenerate retention/PROCEDURE.md from retention/schedule.yaml."""
    PROCEDURE.write_text(render_procedure(load_schedule()), encoding="utf-8")
    print(f"wrote {PROCEDURE.name} from the retention schedule")
    return 0


def add_retention_commands(sub: Any) -> None:
    """Register ``retention ...`` on the top-level subparsers."""
    retention = sub.add_parser("retention", help="retention schedule commands")
    retention_sub = retention.add_subparsers(dest="retention_command", required=True)
    rd = retention_sub.add_parser("dry-run", help="what the pilot-end deletion would remove")
    rd.add_argument("--organisation", required=True, help="the organisation's name")
    rd.set_defaults(func=cmd_retention_dry_run)
    red = retention_sub.add_parser(
        "evidence-dry-run", help="what the deletion of the consent evidence would remove"
    )
    red.add_argument("--organisation", required=True, help="the organisation's name")
    red.set_defaults(func=cmd_retention_evidence_dry_run)
    rp = retention_sub.add_parser("procedure", help="regenerate PROCEDURE.md from the schedule")
    rp.set_defaults(func=cmd_retention_procedure)

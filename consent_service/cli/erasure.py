"""``consent-service erasure ...``: the dry run of erasing one citizen and the list of an
organisation's erasure proposals. Neither prints personal data (citizens by public id,
people by user id); approving an erasure takes a data controller's fresh code on the page
(``/sletning/borgere``), never this command."""

from __future__ import annotations

import argparse
from typing import Any

from consent_service.cli.common import checked_context
from consent_service.clock import legal_today
from consent_service.db import session_scope
from consent_service.deletion import erasure
from consent_service.deletion import repository as deletion_repo
from consent_service.identity import repository as identity_repo


def cmd_erasure_dry_run(args: argparse.Namespace) -> int:
    """What erasing the citizen would delete and keep; changes nothing."""
    ctx = checked_context()
    with session_scope(ctx.sessions) as session:
        citizen = deletion_repo.citizen_by_public_id(session, args.citizen.strip()[:32])
        if citizen is None:
            print("no citizen with that public id")
            return 1
        plan = erasure.plan(session, citizen, legal_today(ctx.clock))
    if plan.deleted:
        print(f"citizen {plan.citizen} is erased already")
    else:
        rows = ", ".join(f"{k} {v}" for k, v in plan.rows.items()) or "nothing"
        print(f"erasing citizen {plan.citizen} would delete: {rows}")
    print(
        f"kept without identity: consent_records {plan.consent_records}, "
        f"consent_events {plan.consent_events}; the deletion record (citizen.deleted)"
    )
    print(f"disclosures already made: {len(plan.disclosures)}")
    for d in plan.disclosures:
        print(f"  extract {d.extract} on {d.day.isoformat()}: {d.purpose} -> {d.recipient}")
    print(f"signed paper originals to shred: {len(plan.originals)}")
    print("a navigator or the DPO proposes on /borgere/<id>/sletning; a data controller approves")
    return 0


def cmd_erasure_list(args: argparse.Namespace) -> int:
    """The organisation's erasure proposals: id, citizen, reason, status, when."""
    ctx = checked_context()
    with session_scope(ctx.sessions) as session:
        org = identity_repo.organisation_by_name(session, args.organisation)
        if org is None:
            print(f"no organisation named {args.organisation!r}")
            return 1
        rows = erasure.proposals_of_organisation(session, org.id)
        lines = [
            f"{p.public_id} citizen {c.public_id} reason {p.reason} status {p.status} "
            f"proposed {p.proposed_at.isoformat()} by user {p.proposed_by}"
            + (f"; decided by user {p.decided_by}" if p.decided_by else "")
            for p, c in rows
        ]
    print(f"{len(lines)} erasure proposal(s) in {args.organisation}")
    for line in lines:
        print(line)
    return 0


def add_erasure_commands(sub: Any) -> None:
    """Register ``erasure ...`` on the top-level subparsers."""
    parser = sub.add_parser("erasure", help="erasure of one citizen (GDPR art. 17)")
    erasure_sub = parser.add_subparsers(dest="erasure_command", required=True)
    dry = erasure_sub.add_parser("dry-run", help="what erasing one citizen would delete and keep")
    dry.add_argument("--citizen", required=True, help="the citizen's public id")
    dry.set_defaults(func=cmd_erasure_dry_run)
    listing = erasure_sub.add_parser("list", help="an organisation's erasure proposals")
    listing.add_argument("--organisation", required=True, help="the organisation's name")
    listing.set_defaults(func=cmd_erasure_list)

"""`consent-service users ...`: the two-person rule from the command line.

The command line has no login, so each step names its person (``--by``) and needs that
person's current TOTP code (``--code``, or asked for without echo): a proposal by an
administrator, a decision by a data controller of the same organisation who is neither
the proposer nor the person it concerns. The access policy decides exactly as for the
pages; every step is audited in that person's name.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from consent_service.access.policy import AccessRequest
from consent_service.audit.recorder import Actor
from consent_service.config import load_settings
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.errors import RuleRefusal, StepUpFailed
from consent_service.identity import proposal_decisions, proposals, stepup
from consent_service.identity import repository as repo
from consent_service.identity.errors import UserInputError
from consent_service.identity.models import ProposalKind, ProposalStatus, Role, User
from consent_service.startup import check_database

RESET_KINDS = {
    "password": ProposalKind.RESET_PASSWORD,
    "second-factor": ProposalKind.RESET_SECOND_FACTOR,
}


def _actor() -> Actor:
    try:
        who = getpass.getuser()
    except Exception:
        who = "unknown"
    return Actor(username=f"cli:{who}"[:64], source_ip="local")


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")


def _context() -> AppContext:
    ctx = AppContext.build(load_settings())
    check_database(ctx.engine, ctx.crypto)
    return ctx


def _code(args: argparse.Namespace) -> str:
    return str(args.code) if args.code else getpass.getpass("Current code from the app: ")


def _pending_line(proposal_id: int, until: datetime) -> str:
    return f"proposal {proposal_id}: a data controller must approve it by {until:%Y-%m-%d %H:%M}Z"


class _Refused(Exception):
    pass


def _person(
    session: Session,
    ctx: AppContext,
    username: str,
    permission: str,
    *,
    organisation_id: int,
    resource_user_id: int | None,
) -> tuple[User, Actor]:
    """The named person, if the access policy grants them ``permission`` here."""
    user = repo.user_by_username(session, username)
    if user is None or not user.is_active:
        raise _Refused(f"{username!r} is not an active user")
    decision = ctx.policy.decide(
        AccessRequest(
            user_id=user.id,
            role=user.role,
            organisation_id=user.organisation_id,
            permission=permission,
            resource_organisation_id=organisation_id,
            resource_user_id=resource_user_id,
        )
    )
    if not decision.allowed:
        raise _Refused(f"the access policy does not let {username!r} do this ({decision.reason})")
    return user, _actor().as_user(user.id, user.username, user.organisation_id)


def _run(ctx: AppContext, step: Callable[[Session], str]) -> int:
    """One transaction; a wrong code is recorded alone after the rollback, like on a page."""
    try:
        with session_scope(ctx.sessions) as session:
            _say(step(session))
        return 0
    except StepUpFailed as failed:
        with session_scope(ctx.sessions) as session:
            stepup.record_step_up_failure(session, ctx.identity, _actor(), failed)
        _say(f"refused: {failed.message}")
    except (UserInputError, _Refused) as exc:
        _say(f"refused: {exc}")
    except RuleRefusal as exc:
        _say(f"refused: {exc.message}")
    finally:
        ctx.engine.dispose()
    return 1


def cmd_propose_user(args: argparse.Namespace) -> int:
    ctx = _context()
    code = _code(args)

    def step(session: Session) -> str:
        by = repo.user_by_username(session, args.by)
        org = by.organisation_id if by else 0
        proposer, actor = _person(
            session, ctx, args.by, "users:create", organisation_id=org, resource_user_id=None
        )
        if not proposals.needs_two_people(ctx.policy, args.role):
            raise _Refused(f"role {args.role} cannot read citizens' data: use create-user")
        stepup.step_up(session, ctx.identity, actor, proposer, code, purpose="access_proposal")
        p = proposals.propose_user(
            session, ctx.identity, actor, proposer,
            username=args.username, display_name=args.name, role=args.role, reason=args.reason,
        )  # fmt: skip
        return _pending_line(p.id, p.expires_at)

    return _run(ctx, step)


def cmd_propose_reset(args: argparse.Namespace) -> int:
    ctx = _context()
    code = _code(args)

    def step(session: Session) -> str:
        target = repo.user_by_username(session, args.username)
        if target is None:
            raise _Refused("no such user")
        proposer, actor = _person(
            session, ctx, args.by, "users:reset",
            organisation_id=target.organisation_id, resource_user_id=target.id,
        )  # fmt: skip
        stepup.step_up(session, ctx.identity, actor, proposer, code, purpose="access_proposal")
        p = proposals.propose_reset(
            session, ctx.identity, actor, proposer, target, kind=RESET_KINDS[args.kind],
            reason=args.reason,
        )  # fmt: skip
        return _pending_line(p.id, p.expires_at)

    return _run(ctx, step)


def cmd_proposals(args: argparse.Namespace) -> int:
    ctx = _context()

    def step(session: Session) -> str:
        org = repo.organisation_by_name(
            session, args.organisation or ctx.settings.bootstrap_organisation
        )
        if org is None:
            raise _Refused("unknown organisation")
        rows = proposals.proposals_of(session, ctx.identity, _actor(), org.id)
        people = {u.id: u.username for u in repo.users_of_organisation(session, org.id)}
        lines = [
            f"{p.id}\t{p.kind}\t{people.get(p.target_user_id or 0, p.username)}\t"
            f"{p.role or '-'}\tby {people.get(p.proposed_by, p.proposed_by)}\t"
            f"until {p.expires_at:%Y-%m-%d %H:%M}\t{p.reason}"
            for p in rows
            if p.status == ProposalStatus.PENDING.value
        ]
        return "\n".join(lines) or "no pending proposals"

    return _run(ctx, step)


def _decide(args: argparse.Namespace, approve: bool) -> int:
    ctx = _context()
    code = _code(args)

    def step(session: Session) -> str:
        proposal = proposals.proposal_by_id(session, args.proposal)
        if proposal is None:
            raise _Refused("no such proposal")
        decider, actor = _person(
            session, ctx, args.by, proposals.APPROVE_PERMISSION,
            organisation_id=proposal.organisation_id, resource_user_id=proposal.proposed_by,
        )  # fmt: skip
        if not approve:
            # The command line has no session: the decider proves who they are with a code.
            stepup.step_up(session, ctx.identity, actor, decider, code, purpose="access_proposal")
            proposal_decisions.reject(
                session, ctx.identity, actor, ctx.policy, decider, proposal, reason=args.reason
            )
            return f"proposal {proposal.id} rejected"
        done = proposal_decisions.approve(
            session, ctx.identity, actor, ctx.policy, decider, proposal,
            code=code, mail_to=args.email or "", comment=args.comment or "",
        )  # fmt: skip
        if done.password is None and done.mailed_to is None:
            return f"proposal {proposal.id} approved and applied for {done.user.username!r}"
        if done.mailed_to:
            return f"proposal {proposal.id} approved; the one-time password was mailed"
        return (
            f"proposal {proposal.id} approved for {done.user.username!r}. One-time password "
            f"(shown once; hand it over yourself, not to the administrator):\n\n"
            f"    {done.password}\n"
        )

    return _run(ctx, step)


def cmd_approve(args: argparse.Namespace) -> int:
    return _decide(args, approve=True)


def cmd_reject(args: argparse.Namespace) -> int:
    return _decide(args, approve=False)


def add_user_commands(sub: Any) -> None:
    """Register ``users ...`` on the top-level subparsers of ``consent-service``."""
    users = sub.add_parser("users", help="two-person proposals: new users, roles, resets")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    p = users_sub.add_parser("propose", help="propose a user with a role reading citizens' data")
    p.add_argument("--username", required=True)
    p.add_argument("--name", required=True, help="display name")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--reason", default="")
    p.set_defaults(func=cmd_propose_user)
    r = users_sub.add_parser("propose-reset", help="propose a password or second-factor reset")
    r.add_argument("--username", required=True, help="whose password or phone")
    r.add_argument("--kind", required=True, choices=sorted(RESET_KINDS))
    r.add_argument("--reason", required=True)
    r.set_defaults(func=cmd_propose_reset)
    listing = users_sub.add_parser("proposals", help="list an organisation's pending proposals")
    listing.add_argument("--organisation", help="default: the bootstrap organisation")
    listing.set_defaults(func=cmd_proposals)
    a = users_sub.add_parser("approve", help="approve a proposal (a data controller)")
    a.add_argument("proposal", type=int)
    a.add_argument("--email", help="mail the one-time password here instead of showing it")
    a.add_argument("--comment")
    a.set_defaults(func=cmd_approve)
    j = users_sub.add_parser("reject", help="reject a proposal, with a reason")
    j.add_argument("proposal", type=int)
    j.add_argument("--reason", required=True)
    j.set_defaults(func=cmd_reject)
    for command in (p, r, a, j):
        command.add_argument("--by", required=True, help="your username")
        command.add_argument("--code", help="your current TOTP code (asked for if left out)")

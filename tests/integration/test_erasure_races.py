"""Two data controllers approve at the same moment: the same erasure proposal, or two
proposals for the same citizen. Exactly one erasure happens (one ``citizen.deleted``), the
other approval is refused with a Danish rule and changes nothing. On PostgreSQL the second
really waits on the first's row lock (real threads and connections, the first held open
until the second is seen waiting); SQLite takes one writer at a time, so there the second
simply comes after. And a restore of a backup taken between proposal and approval erases
the citizen again under the erasure's rule."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.audit.models import AuditEvent, AuditPending
from consent_service.audit.recorder import Actor
from consent_service.backup import restore_backup
from consent_service.citizens.models import Citizen
from consent_service.cli import main
from consent_service.clock import FixedClock, legal_today
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.deletion import erasure
from consent_service.deletion.erasure_models import ErasureProposal
from consent_service.errors import RuleRefusal
from tests.conftest import PG_APP, Person, enrolled_person
from tests.integration.test_backup import (  # noqa: F401 - fixtures
    _backup,
    _seed,
    restored_ctx,
    target_url,
)
from tests.races import race

Act = Callable[[Session], None]


def _actor(p: Person) -> Actor:
    return Actor(user_id=p.user_id, username=p.username, organisation_id=p.organisation_id)


def _race(ctx: AppContext, first: Act, second: Act) -> list[str]:
    """Which of two decisions at the same moment succeeded (``tests.races``)."""
    outcome = race(ctx, first, second)
    if outcome.error is not None and not isinstance(outcome.error, RuleRefusal):
        raise outcome.error
    return ["first"] if outcome.error else ["first", "second"]


def _citizen(ctx: AppContext, actor: Actor) -> str:
    (seeded,) = _seed(ctx, actor, n=1)
    return seeded.public_id


def _propose(ctx: AppContext, actor: Actor, pid: str, note: str = "") -> str:
    assert actor.organisation_id is not None
    with session_scope(ctx.sessions) as s:
        citizen = s.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        proposal = erasure.propose(
            s, ctx.deps, actor, citizen, "referred_by_mistake", note, legal_today(ctx.clock)
        )
        return proposal.public_id


def _approver(ctx: AppContext, org: int, proposal: str, who: Person) -> Act:
    def act(s: Session) -> None:
        found = erasure.proposal_in_organisation(s, org, proposal)
        erasure.approve(s, ctx.deps, _actor(who), found, "")

    return act


def _deletions(ctx: AppContext, pid: str) -> list[str]:
    with ctx.sessions() as s:
        sealed = s.scalars(
            select(AuditEvent.details).where(
                AuditEvent.action == "citizen.deleted", AuditEvent.resource_id == pid
            )
        ).all()
        staged = s.scalars(
            select(AuditPending.details).where(
                AuditPending.action == "citizen.deleted", AuditPending.resource_id == pid
            )
        ).all()
        return [json.loads(d)["rule"] for d in [*sealed, *staged]]


def _statuses(ctx: AppContext) -> list[str]:
    with ctx.sessions() as s:
        return list(s.scalars(select(ErasureProposal.status).order_by(ErasureProposal.id)))


def test_two_approvals_of_one_proposal_at_once_erase_once(ctx: AppContext) -> None:
    nav = enrolled_person(ctx, "navigator")
    one, two = enrolled_person(ctx, "data_controller"), enrolled_person(ctx, "data_controller")
    pid = _citizen(ctx, _actor(nav))
    proposal = _propose(ctx, _actor(nav), pid)
    org = nav.organisation_id
    won = _race(ctx, _approver(ctx, org, proposal, one), _approver(ctx, org, proposal, two))
    assert won == ["first"]
    assert _deletions(ctx, pid) == ["erasure_referred_by_mistake"]
    assert _statuses(ctx) == ["carried_out"]


def test_two_proposals_for_one_citizen_approved_at_once_erase_once(ctx: AppContext) -> None:
    nav, dpo = enrolled_person(ctx, "navigator"), enrolled_person(ctx, "dpo")
    one, two = enrolled_person(ctx, "data_controller"), enrolled_person(ctx, "data_controller")
    pid = _citizen(ctx, _actor(nav))
    first = _propose(ctx, _actor(nav), pid)
    second = _propose(ctx, _actor(dpo), pid)
    org = nav.organisation_id
    won = _race(ctx, _approver(ctx, org, first, one), _approver(ctx, org, second, two))
    assert won == ["first"]
    assert _deletions(ctx, pid) == ["erasure_referred_by_mistake"]
    assert _statuses(ctx) == ["carried_out", "cancelled"]


def test_restoring_a_backup_taken_before_the_approval_erases_the_citizen_again(
    ctx: AppContext,
    clock: FixedClock,
    tmp_path: Path,
    target_url: str,  # noqa: F811
    restored_ctx: AppContext,  # noqa: F811
) -> None:
    nav, dc = enrolled_person(ctx, "navigator"), enrolled_person(ctx, "data_controller")
    pid = _citizen(ctx, _actor(nav))
    proposal = _propose(ctx, _actor(nav), pid, note="Forkert CPR på henvisningen")
    old = _backup(ctx, clock, tmp_path / "old")
    clock.advance(timedelta(days=1))
    with session_scope(ctx.sessions) as s:
        _approver(ctx, nav.organisation_id, proposal, dc)(s)
    new = _backup(ctx, clock, tmp_path / "new")
    report = restore_backup(
        target_url,
        ctx.settings.keys.master,
        old.data_path,
        new.keys_path,
        PG_APP,
        public_key=ctx.crypto.public_key,
        clock=clock,
    )
    assert [(e.kind, e.citizen, e.rule) for e in report.redeleted] == [
        ("citizen", pid, "erasure_referred_by_mistake")
    ]
    with session_scope(restored_ctx.sessions) as s:
        citizen = s.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        assert citizen.deleted_at is not None
        assert (citizen.cpr_index, citizen.cpr_sealed, citizen.name_sealed) == (None, None, None)
        # The restored proposal is still open, but its note cannot be read and approving
        # it again erases nothing more.
        restored = erasure.proposal_in_organisation(s, nav.organisation_id, proposal)
        assert restored.status == "proposed"
        assert erasure.note_of(restored_ctx.deps, restored, citizen) is None
    again = _approver(restored_ctx, nav.organisation_id, proposal, dc)
    with session_scope(restored_ctx.sessions) as s, pytest.raises(RuleRefusal, match="allerede"):
        again(s)


def test_the_commands_print_the_dry_run_and_the_list_without_personal_data(
    ctx: AppContext,
    test_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    nav = enrolled_person(ctx, "navigator")
    (seeded,) = _seed(ctx, _actor(nav), n=1)
    proposal = _propose(ctx, _actor(nav), seeded.public_id, note="Forkert CPR")
    monkeypatch.setenv("CONSENT_ENV_FILE", "/nonexistent/consent.env")
    monkeypatch.setenv("CONSENT_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("CONSENT_AUDIT_ORIGIN", ctx.settings.audit_origin)
    for name, value in test_keys.items():
        monkeypatch.setenv(f"CONSENT_{name.upper()}", value)
    capsys.readouterr()
    assert main(["erasure", "dry-run", "--citizen", seeded.public_id]) == 0
    dry = capsys.readouterr().out
    assert f"erasing citizen {seeded.public_id} would delete: citizen_identity 1" in dry
    assert "disclosures already made: 0" in dry
    assert main(["erasure", "list", "--organisation", "Region Midtjylland"]) == 0
    listing = capsys.readouterr().out
    assert f"{proposal} citizen {seeded.public_id} reason referred_by_mistake status proposed" in (
        listing
    )
    for out in (dry, listing):
        assert seeded.cpr not in out
        assert seeded.name not in out
        assert "Forkert CPR" not in out
    assert main(["erasure", "dry-run", "--citizen", "0" * 32]) == 1
    assert main(["erasure", "list", "--organisation", "Ingen"]) == 1

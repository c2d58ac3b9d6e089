"""The consent evidence's retention-end deletion (issue 17): consents and their history,
printed-form records, disclosures, paper custody and extract manifests of one
organisation go only from the day after their five years from the pilot's end, after
the pilot-end deletion, with a deletion record in the audit log; before that the service
refuses, and on PostgreSQL so does the database, also when the application's own login
calls the function directly or tries a plain DELETE. Another organisation's evidence is
untouched; the dry run changes nothing."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from consent_service.audit.service import verify_chain
from consent_service.citizens.models import Citizen
from consent_service.cli import main
from consent_service.clock import LEGAL_TZ, FixedClock
from consent_service.consents.models import Consent, ConsentForm, Disclosure
from consent_service.consents.paper_models import PaperCustody
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.deletion.erasure_models import ErasureProposal
from consent_service.deletion.evidence import (
    evidence_digest,
    plan_evidence,
    run_evidence,
)
from consent_service.deletion.service import plan_pilot_end
from consent_service.errors import RuleRefusal
from consent_service.extracts.models import ExtractRequest
from consent_service.subject_requests.models import SubjectRequest
from tests.evidence_support import (
    ALLOWED,
    at,
    count,
    delete_at_pilot_end,
    let_the_database_reach_the_day,
    organisation_with_evidence,
)
from tests.scenario import Pilot

EVIDENCE = (
    Consent, ConsentForm, Disclosure, PaperCustody, ExtractRequest, SubjectRequest,
    ErasureProposal, Citizen,
)  # fmt: skip
EXPECTED_ROWS = {
    "citizen_tombstones": 2, "consent_events": 2, "consent_forms": 3, "consent_records": 3,
    "disclosures": 1, "extract_files": 1, "extract_manifests": 1, "paper_custody": 1,
    "subject_requests": 1, "erasure_proposals": 1,
}  # fmt: skip


def _counts(ctx: AppContext, org: int) -> dict[str, int]:
    return {model.__tablename__: count(ctx, model, org) for model in EVIDENCE}


@pytest.fixture
def two(ctx: AppContext, clock: FixedClock) -> tuple[Pilot, Pilot]:
    """Two organisations with evidence, both deleted at the pilot's end."""
    own = organisation_with_evidence(ctx, clock, "Region Midtjylland")
    other = organisation_with_evidence(ctx, clock, "Norddjurs Kommune")
    delete_at_pilot_end(own)
    delete_at_pilot_end(other)
    return own, other


def test_the_dry_run_counts_and_changes_nothing(two: tuple[Pilot, Pilot], ctx: AppContext) -> None:
    own, _ = two
    before = _counts(ctx, own.organisation_id)
    with session_scope(ctx.sessions) as session:
        plan = plan_evidence(session, own.organisation_id)
    assert {k: v for k, v in plan.rows.items() if k != "jobs"} == EXPECTED_ROWS
    assert plan.allowed_from == ALLOWED
    assert plan.deadline == ALLOWED + timedelta(days=30)
    assert plan.live_citizens == 0
    assert _counts(ctx, own.organisation_id) == before


def test_refused_before_the_day_and_nothing_changes(
    two: tuple[Pilot, Pilot], ctx: AppContext, clock: FixedClock
) -> None:
    own, _ = two
    before = _counts(ctx, own.organisation_id)
    day_before = ALLOWED - timedelta(days=1)
    at(clock, day_before)
    with session_scope(ctx.sessions) as session, pytest.raises(RuleRefusal) as refused:
        run_evidence(session, ctx.deps, own.actor, own.organisation_id, day_before)
    assert f"først slettes fra {ALLOWED:%d-%m-%Y}" in refused.value.message
    assert _counts(ctx, own.organisation_id) == before
    assert own.events("retention.evidence_deleted") == []


def test_refused_while_a_citizen_is_not_deleted(ctx: AppContext, clock: FixedClock) -> None:
    pilot = organisation_with_evidence(ctx, clock, "Region Midtjylland")
    let_the_database_reach_the_day(ctx)
    at(clock, ALLOWED)
    before = _counts(ctx, pilot.organisation_id)
    with session_scope(ctx.sessions) as session, pytest.raises(RuleRefusal) as refused:
        run_evidence(session, ctx.deps, pilot.actor, pilot.organisation_id, ALLOWED)
    assert "ved projektets afslutning" in refused.value.message
    assert _counts(ctx, pilot.organisation_id) == before


def test_from_the_day_the_evidence_goes_with_a_deletion_record(
    two: tuple[Pilot, Pilot], ctx: AppContext, clock: FixedClock
) -> None:
    own, other = two
    theirs = _counts(ctx, other.organisation_id)
    let_the_database_reach_the_day(ctx)
    at(clock, ALLOWED)
    with session_scope(ctx.sessions) as session:
        rows = run_evidence(session, ctx.deps, own.actor, own.organisation_id, ALLOWED)
    assert {k: v for k, v in rows.items() if k != "jobs"} == EXPECTED_ROWS
    assert _counts(ctx, own.organisation_id) == dict.fromkeys(theirs, 0)
    assert _counts(ctx, other.organisation_id) == theirs  # another organisation's: untouched
    [record] = own.events("retention.evidence_deleted")
    assert record.organisation_id == own.organisation_id
    assert record.resource_id == str(own.organisation_id)
    on = record.occurred_at.astimezone(LEGAL_TZ).date()
    expected_hash = evidence_digest(own.organisation_id, rows, on)
    assert record.details == (
        f'{{"hash":"{expected_hash}","rows":'
        + ",".join(f'"{k}":{v}' for k, v in sorted(rows.items())).join("{}")
        + ',"rule":"evidence_end"}'
    )
    with ctx.sessions() as session:
        assert verify_chain(session, ctx.crypto.public_key).intact
    # Again: nothing left, no second record.
    with session_scope(ctx.sessions) as session:
        again = run_evidence(session, ctx.deps, own.actor, own.organisation_id, ALLOWED)
    assert sum(again.values()) == 0
    assert len(own.events("retention.evidence_deleted")) == 1


def test_the_pilot_end_plan_says_what_is_kept_and_until_when(
    ctx: AppContext, clock: FixedClock
) -> None:
    pilot = organisation_with_evidence(ctx, clock, "Region Midtjylland")
    with session_scope(ctx.sessions) as session:
        plan = plan_pilot_end(session, pilot.organisation_id)
    assert plan.kept == {
        "consent_records": 3, "disclosures": 1, "extract_manifests": 1, "paper_custody": 1,
        "subject_requests": 1, "erasure_proposals": 1, "deletion_records": 3,
    }  # fmt: skip
    until = ALLOWED - timedelta(days=1)
    assert {plan.kept_until[k] for k in ("consent_records", "disclosures")} == {until}
    assert plan.kept_until["deletion_records"] == until  # audit/events.yaml: pilot end + 5 y
    assert plan.paper_originals == 3  # one stored, two never recorded: none destroyed


# --- PostgreSQL: the database itself, as the application's own login --------------------


def _pg(ctx: AppContext) -> None:
    if ctx.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one file and no logins: the database's own rule is PostgreSQL's")


def _sqlstate(caught: pytest.ExceptionInfo[DBAPIError]) -> str | None:
    orig = caught.value.orig
    assert isinstance(orig, psycopg.Error)
    return orig.sqlstate


@pytest.mark.parametrize(
    "table", ["consent", "consent_event", "disclosure", "paper_custody", "consent_form",
              "extract_request", "evidence_retention", "subject_request", "erasure_proposal"],
)  # fmt: skip
def test_the_application_login_cannot_delete_the_evidence(
    two: tuple[Pilot, Pilot], ctx: AppContext, table: str
) -> None:
    _pg(ctx)
    own, _ = two
    before = _counts(ctx, own.organisation_id)
    with pytest.raises(DBAPIError) as caught, ctx.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {table}"))
    assert _sqlstate(caught) == "42501"  # insufficient_privilege
    assert _counts(ctx, own.organisation_id) == before


def test_the_application_login_cannot_move_the_day(ctx: AppContext) -> None:
    _pg(ctx)
    for statement in (
        "UPDATE evidence_retention SET delete_from = '2000-01-01'",
        "INSERT INTO evidence_retention (category, delete_from) VALUES ('x', '2000-01-01')",
    ):
        with pytest.raises(DBAPIError) as caught, ctx.engine.begin() as conn:
            conn.execute(text(statement))
        assert _sqlstate(caught) == "42501"


def test_the_function_called_directly_before_the_day_refuses(
    two: tuple[Pilot, Pilot], ctx: AppContext
) -> None:
    _pg(ctx)
    own, _ = two
    before = _counts(ctx, own.organisation_id)
    with pytest.raises(DBAPIError) as caught, ctx.engine.begin() as conn:
        conn.execute(
            text("SELECT evidence_purge_expired(:org, 1, 'attacker', NULL, NULL)"),
            {"org": own.organisation_id},
        )
    assert _sqlstate(caught) == "EV001"
    assert _counts(ctx, own.organisation_id) == before
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Consent)) == 6


def test_the_function_refuses_while_citizens_are_live(ctx: AppContext, clock: FixedClock) -> None:
    _pg(ctx)
    pilot = organisation_with_evidence(ctx, clock, "Region Midtjylland")
    let_the_database_reach_the_day(ctx)
    with pytest.raises(DBAPIError) as caught, ctx.engine.begin() as conn:
        conn.execute(
            text("SELECT evidence_purge_expired(:org, 1, 'attacker', NULL, NULL)"),
            {"org": pilot.organisation_id},
        )
    assert _sqlstate(caught) == "EV002"


def test_the_command_line_dry_runs_change_nothing_and_speak_danish_of_what_is_kept(
    ctx: AppContext,
    clock: FixedClock,
    test_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pilot = organisation_with_evidence(ctx, clock, "Region Midtjylland")
    monkeypatch.setenv("CONSENT_ENV_FILE", "/nonexistent/consent.env")
    monkeypatch.setenv("CONSENT_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("CONSENT_AUDIT_ORIGIN", ctx.settings.audit_origin)
    for name, value in test_keys.items():
        monkeypatch.setenv(f"CONSENT_{name.upper()}", value)
    before = _counts(ctx, pilot.organisation_id)
    assert main(["retention", "dry-run", "--organisation", "Region Midtjylland"]) == 0
    assert main(["retention", "evidence-dry-run", "--organisation", "Region Midtjylland"]) == 0
    assert main(["retention", "evidence-dry-run", "--organisation", "Nowhere"]) == 1
    out = capsys.readouterr().out
    until = ALLOWED - timedelta(days=1)
    assert f"Samtykkeregistreringer (uden identitet): 3, til og med {until:%d-%m-%Y}" in out
    assert "Papiroriginaler, der endnu ikke er makuleret: 3" in out
    assert "consent_records 3" in out
    assert f"allowed from {ALLOWED}" in out
    assert "citizens not yet deleted: 2" in out
    assert _counts(ctx, pilot.organisation_id) == before

"""Shared by the tests of the consent evidence's deletion: an organisation with every kind
of evidence (consents with history, printed forms, a paper original's custody, an executed
extract with its manifest, file and disclosure), the pilot-end deletion, and on PostgreSQL
the owner moving the retention table's day (the database's clock cannot be moved)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select, text, update

from consent_service.clock import LEGAL_TZ, FixedClock
from consent_service.consents.models import Consent, Disclosure
from consent_service.consents.paper_models import PaperCustody, PaperLocation
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.deletion.erasure_models import ErasureProposal
from consent_service.deletion.service import run_pilot_end
from consent_service.extracts.models import ExtractFile, ExtractRequest
from consent_service.retention.models import EvidenceRetention
from consent_service.retention.schedule import default_schedule, evidence_delete_from
from consent_service.subject_requests.models import SubjectRequest
from tests.conftest import owner_engine
from tests.scenario import Pilot

SIGNED = date(2026, 11, 10)
PILOT_END_DELETION = date(2028, 7, 1)
ALLOWED = evidence_delete_from(default_schedule(), "consent_records")  # 01-07-2033
_serial = iter(range(1, 10_000))


def organisation_with_evidence(ctx: AppContext, clock: FixedClock, org_name: str) -> Pilot:
    """A pilot in ``org_name``: two citizens with journal and wellbeing consents, a stored
    paper original, an executed extract with a manifest, a file and a disclosure, an
    answered request of a citizen and a rejected proposal to erase them."""
    pilot = Pilot.start(ctx, clock, org_name=org_name)
    pilot.at(SIGNED)
    first = pilot.citizen()
    pilot.refer(first, SIGNED)
    journal = pilot.sign(first, "journal", SIGNED)
    pilot.sign(first, "wellbeing", SIGNED)
    second = pilot.citizen(name="Łukasz Śliwiński")
    pilot.refer(second, SIGNED)
    pilot.sign(second, "journal", SIGNED)
    now = clock.now()
    with session_scope(ctx.sessions) as session:
        consent = session.scalar(select(Consent).where(Consent.public_id == journal))
        assert consent is not None
        n = next(_serial)
        location = PaperLocation(organisation_id=pilot.organisation_id, name=f"Skab {n}",
                                 created_at=now, created_by=1)  # fmt: skip
        session.add(location)
        session.flush()
        session.add(
            PaperCustody(consent_id=consent.id, organisation_id=pilot.organisation_id, seq=1,
                         event="stored", location_id=location.id, occurred_on=SIGNED,
                         person="Navigatør", recorded_at=now, recorded_by=1)
        )  # fmt: skip
        request = ExtractRequest(
            public_id=f"req{n:029d}", organisation_id=pilot.organisation_id, purpose="payment",
            sources="lpr", fields="cpr", cohort="hold-2", measurement_years=1,
            planned_on=SIGNED, status="executed", requested_by=1, requested_at=now,
            policy_sha256="0" * 64, executed_on=SIGNED, executed_at=now, executed_by=2,
            manifest='{"rows": 1}', manifest_signature="s" * 128, downloads=0,
        )  # fmt: skip
        session.add(request)
        session.flush()
        session.add(ExtractFile(request_id=request.id, name="cpr.csv", rows=1, size=12,
                                sha256="1" * 64))  # fmt: skip
        # A citizen's request answered, and a proposal to erase them rejected: rows that
        # refer to the citizen and go with the evidence, before the tombstones.
        session.add(
            SubjectRequest(public_id=f"sr{n:030d}", organisation_id=pilot.organisation_id,
                           citizen_id=consent.citizen_id, kind="access", channel="letter",
                           received_on=SIGNED, deadline_on=SIGNED + timedelta(days=31),
                           status="answered", answered_on=SIGNED, registered_at=now,
                           registered_by=1, handled_by=1)
        )  # fmt: skip
        session.add(
            ErasureProposal(public_id=f"ep{n:030d}", organisation_id=pilot.organisation_id,
                            citizen_id=consent.citizen_id, reason="referred_by_mistake",
                            status="rejected", proposed_by=1, proposed_at=now, decided_by=2,
                            decided_at=now, decision_comment="I målgruppen")
        )  # fmt: skip
        session.add(
            Disclosure(organisation_id=pilot.organisation_id, citizen_id=consent.citizen_id,
                       consent_id=consent.id, consent_kind="journal", template_version="v1",
                       text_sha256=consent.text_sha256, request_id=request.id,
                       disclosed_on=SIGNED, purpose="payment", recipient="Sundhedsdatastyrelsen",
                       legal_basis="art. 6, stk. 1, litra a", recorded_at=now)
        )  # fmt: skip
    return pilot


def delete_at_pilot_end(pilot: Pilot) -> None:
    pilot.at(PILOT_END_DELETION)
    with session_scope(pilot.ctx.sessions) as session:
        run_pilot_end(session, pilot.deps, pilot.actor, pilot.organisation_id, PILOT_END_DELETION)


def at(clock: FixedClock, day: date) -> None:
    clock.set(datetime.combine(day, time(10), tzinfo=LEGAL_TZ))


def let_the_database_reach_the_day(ctx: AppContext) -> None:
    """PostgreSQL decides by its own date, which a test cannot move to 2033: the owner
    (as only ``migrate`` may) moves the table's day to the database's today instead, so
    the function's rule is met. SQLite: nothing (the service's clock decides)."""
    if ctx.engine.dialect.name != "postgresql":
        return
    engine = owner_engine(ctx)
    with engine.begin() as conn:
        today = conn.execute(
            text("SELECT (now() AT TIME ZONE 'Europe/Copenhagen')::date")
        ).scalar_one()
        conn.execute(update(EvidenceRetention).values(delete_from=today - timedelta(days=1)))
    engine.dispose()


def count(ctx: AppContext, model: type, organisation_id: int) -> int:
    column = model.organisation_id  # type: ignore[attr-defined]
    with ctx.sessions() as session:
        return int(
            session.scalar(select(func.count()).select_from(model).where(column == organisation_id))
            or 0
        )

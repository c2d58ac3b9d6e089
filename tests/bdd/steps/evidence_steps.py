"""Steps of sletning.feature's rule on the consent evidence: the data controller deletes
the organisation's consent records, disclosures and extract manifests (after a dry run
and a fresh code on the page; here the service that page calls), first five years after
the pilot's end. They reuse the course of schedule_steps."""

from __future__ import annotations

from datetime import date

from pytest_bdd import parsers, then, when
from sqlalchemy import select

from consent_service.consents.models import Consent
from consent_service.db import session_scope
from consent_service.deletion.evidence import run_evidence
from consent_service.errors import RuleRefusal
from tests.bdd.steps.common import DATE, danish_date
from tests.bdd.steps.schedule_steps import NAME, Course
from tests.evidence_support import ALLOWED, let_the_database_reach_the_day

D = {"day": danish_date}


@when(parsers.re(rf"den dataansvarlige sletter samtykkeposterne den (?P<day>{DATE})"), converters=D)
def evidence_deletion(course: Course, day: date) -> None:
    course.pilot.at(day)
    ctx = course.pilot.ctx
    course.refused = None
    if day >= ALLOWED:
        # PostgreSQL decides by its own date, which a scenario cannot move to 2033.
        let_the_database_reach_the_day(ctx)
    try:
        with session_scope(ctx.sessions) as session:
            run_evidence(session, ctx.deps, course.pilot.actor, course.pilot.organisation_id, day)
    except RuleRefusal as refused:
        course.refused = refused


@then("afvises sletningen af samtykkeposterne")
def evidence_refused(course: Course) -> None:
    assert course.refused is not None
    assert f"først slettes fra {ALLOWED:%d-%m-%Y}" in course.refused.message


@then("er samtykkeregistreringen slettet")
def consent_gone(course: Course) -> None:
    with course.pilot.ctx.sessions() as session:
        assert (
            session.scalars(
                select(Consent).where(Consent.public_id == course.consents["journal"])
            ).all()
            == []
        )


@then("sletningen af samtykkeposterne står i loggen uden personoplysninger")
def evidence_deletion_logged(course: Course) -> None:
    [event] = course.pilot.events("retention.evidence_deleted")
    assert '"rule":"evidence_end"' in event.details
    assert '"consent_records":1' in event.details
    assert '"hash":' in event.details
    for secret in (NAME, course.cpr, course.cpr.replace("-", ""), course.pid):
        assert secret not in event.details

"""A small driver of the real services for schedule, wellbeing and deletion tests: a
navigator registers citizens, refers them, records consents and answers on given days,
and the worker runs; the clock is moved, never slept on."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time
from itertools import count

from sqlalchemy import select

from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import Actor
from consent_service.citizens import service as citizens
from consent_service.citizens.models import Citizen
from consent_service.clock import LEGAL_TZ, FixedClock
from consent_service.consents import printed
from consent_service.consents import service as consents
from consent_service.consents.models import Consent
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.jobs.models import Job, Task
from consent_service.services import ServiceDeps
from consent_service.wellbeing import service as wellbeing
from consent_service.worker.runner import RunSummary, run_due
from tests.conftest import enrolled_person
from tests.factories import synthetic_cpr, tiny_png

_serial = count(1)


@dataclass
class Pilot:
    ctx: AppContext
    clock: FixedClock
    actor: Actor
    organisation_id: int

    @classmethod
    def start(
        cls, ctx: AppContext, clock: FixedClock, org_name: str = "Region Midtjylland"
    ) -> Pilot:
        nav = enrolled_person(ctx, "navigator", org_name=org_name)
        actor = Actor(
            user_id=nav.user_id, username=nav.username, organisation_id=nav.organisation_id
        )
        return cls(ctx, clock, actor, nav.organisation_id)

    @property
    def deps(self) -> ServiceDeps:
        return self.ctx.deps

    def at(self, day: date, hour: int = 10) -> None:
        """Move the clock to ``hour`` o'clock Danish time on ``day``."""
        self.clock.set(datetime.combine(day, time(hour), tzinfo=LEGAL_TZ))

    def _citizen(self, session, pid: str) -> Citizen:  # type: ignore[no-untyped-def]
        citizen = session.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        return citizen

    def citizen(
        self, *, birth: date = date(1970, 5, 5), name: str = "Ayşe Yılmaz", cpr: str | None = None
    ) -> str:
        cpr = cpr or synthetic_cpr(birth, next(_serial) % 2700)  # ~2,700 serials per birth date
        with session_scope(self.ctx.sessions) as session:
            c = citizens.register_citizen(
                session, self.deps, self.actor, self.organisation_id,
                citizens.CitizenInput(cpr=cpr, name=name, phone="+45 12 34 56 78", email=None,
                                      municipality="Norddjurs", gp_clinic="Lægehuset Grenaa"),
            )  # fmt: skip
            return c.public_id

    def refer(self, pid: str, referred_on: date, course_start_on: date | None = None) -> None:
        self.at(max(referred_on, self.today))
        with session_scope(self.ctx.sessions) as session:
            citizens.register_referral(
                session, self.deps, self.actor, self._citizen(session, pid),
                citizens.ReferralInput(referrer_kind="gp", clinic="Lægehuset Grenaa",
                                       referred_on=referred_on,
                                       course_start_on=course_start_on or referred_on,
                                       norddjurs_link=True, reachable=True),
            )  # fmt: skip

    @property
    def today(self) -> date:
        return self.clock.now().astimezone(LEGAL_TZ).date()

    def sign(self, pid: str, kind: str, signed_on: date, *, journal_on: date | None = None) -> str:
        """Print on ``signed_on``, record it signed; for journal consents confirm the journal
        entry the same day unless ``journal_on`` says otherwise."""
        self.at(signed_on)
        with session_scope(self.ctx.sessions) as session:
            citizen = self._citizen(session, pid)
            form, _ = printed.print_form(session, self.deps, self.actor, citizen, kind)
            consent = consents.record_signed(
                session, self.deps, self.actor, citizen, kind, form_id=form.form_id,
                signed_on=signed_on, witness="Navigatør", scan=tiny_png(),
            )  # fmt: skip
            if kind == "journal":
                self.at(journal_on or signed_on)
                consents.confirm_journal_entry(
                    session, self.deps, self.actor, citizen, consent, journal_on or signed_on
                )
            return consent.public_id

    def withdraw(self, pid: str, consent_pid: str, on: date) -> None:
        self.at(on)
        with session_scope(self.ctx.sessions) as session:
            citizen = self._citizen(session, pid)
            consent = consents.get_consent(session, citizen, consent_pid)
            consents.withdraw(session, self.deps, self.actor, citizen, consent, on, "phone")

    def answer(
        self, pid: str, occasion: str, on: date, who5: list[int] | None = None, ls: int = 7
    ) -> None:
        self.at(on)
        with session_scope(self.ctx.sessions) as session:
            wellbeing.capture(
                session, self.deps, self.actor, self._citizen(session, pid),
                occasion=occasion, answered_on=on, who5=who5 or [3, 3, 4, 2, 3],
                life_satisfaction=ls,
            )  # fmt: skip

    def run(
        self, day: date | None = None, *, worker: str = "w1", replan: bool = True
    ) -> RunSummary:
        if day is not None:
            self.at(day, hour=6)
        return run_due(self.ctx.sessions, self.deps, worker=worker, replan=replan)

    def with_settings(self, **changes: object) -> ServiceDeps:
        settings = self.ctx.settings.model_copy(update=changes)
        return replace(self.deps, settings=settings)

    def open_tasks(self, pid: str | None = None) -> list[Task]:
        with self.ctx.sessions() as session:
            stmt = select(Task).where(Task.closed_at.is_(None))
            if pid is not None:
                stmt = stmt.join(Citizen, Citizen.id == Task.citizen_id).where(
                    Citizen.public_id == pid
                )
            return list(session.scalars(stmt.order_by(Task.id)).all())

    def jobs(self, kind: str | None = None) -> list[Job]:
        with self.ctx.sessions() as session:
            stmt = select(Job).order_by(Job.id)
            if kind is not None:
                stmt = stmt.where(Job.kind == kind)
            return list(session.scalars(stmt).all())

    def events(self, action: str) -> list[AuditEvent]:
        with self.ctx.sessions() as session:
            return list(
                session.scalars(
                    select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
                ).all()
            )

    def consent(self, consent_pid: str) -> Consent:
        with self.ctx.sessions() as session:
            c = session.scalar(select(Consent).where(Consent.public_id == consent_pid))
            assert c is not None
            return c

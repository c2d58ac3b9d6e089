"""Steps of the schedule and deletion features: they drive the real services on a real
database (both engines) through tests/scenario.py; the clock is moved, never slept on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when
from sqlalchemy import select

from consent_service.audit.service import verify_chain
from consent_service.backup import BackupFiles, create_backup, restore_backup
from consent_service.citizens import service as citizens
from consent_service.citizens.models import Citizen
from consent_service.citizens.vault import CitizenKeyDestroyed
from consent_service.clock import FixedClock
from consent_service.consents.models import Consent
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.deletion.service import run_pilot_end
from consent_service.errors import RuleRefusal
from consent_service.jobs.planner import FOLLOW_UP, RECONSENT
from consent_service.jobs.worklist import state_on
from consent_service.wellbeing.models import WellbeingResponse
from tests.bdd.steps.common import DATE, danish_date
from tests.conftest import PG_APP, app_url, make_settings
from tests.factories import synthetic_cpr
from tests.scenario import Pilot

D = {"day": danish_date}
NAME = "Ayşe Yılmaz"


@dataclass
class Course:
    """One citizen's course through the pilot, as the scenario tells it."""

    pilot: Pilot
    cpr: str = field(default_factory=lambda: synthetic_cpr(date(1970, 5, 5), 91))
    pid: str = ""
    consents: dict[str, str] = field(default_factory=dict)  # kind -> consent public id
    refused: RuleRefusal | None = None
    backup: BackupFiles | None = None
    restored: AppContext | None = None


@pytest.fixture
def course(ctx: AppContext, clock: FixedClock) -> Course:
    return Course(Pilot.start(ctx, clock))


def _refer(course: Course, day: date) -> None:
    course.pilot.at(day)
    course.pid = course.pilot.citizen(cpr=course.cpr, name=NAME)
    course.pilot.refer(course.pid, day)


# --- Givet ------------------------------------------------------------------------------------


@given(
    parsers.re(
        rf"en borger henvist den (?P<day>{DATE}) med et trivselssamtykke underskrevet den "
        rf"(?P<signed>{DATE})"
    ),
    converters={"day": danish_date, "signed": danish_date},
)
def referred_with_wellbeing(course: Course, day: date, signed: date) -> None:
    _refer(course, day)
    course.consents["wellbeing"] = course.pilot.sign(course.pid, "wellbeing", signed)


@given(parsers.re(rf"en borger på Hold 2 henvist den (?P<day>{DATE})"), converters=D)
def referred_hold_2(course: Course, day: date) -> None:
    _refer(course, day)


@given(
    parsers.re(rf"et journalsamtykke underskrevet og indført i journalen den (?P<day>{DATE})"),
    converters=D,
)
def journal_consent(course: Course, day: date) -> None:
    course.consents["journal"] = course.pilot.sign(course.pid, "journal", day)


@given(
    parsers.re(rf"borgeren har besvaret trivselsspørgeskemaet ved baseline den (?P<day>{DATE})"),
    converters=D,
)
def baseline(course: Course, day: date) -> None:
    course.pilot.answer(course.pid, "baseline", day)


@given(
    parsers.re(rf"samtykkeservicen har kørt sine planlagte opgaver den (?P<day>{DATE})"),
    converters=D,
)
@when(
    parsers.re(rf"samtykkeservicen kører sine planlagte opgaver den (?P<day>{DATE})"),
    converters=D,
)
def run_jobs(course: Course, day: date) -> None:
    course.pilot.run(day)


@given(parsers.re(rf"en sikkerhedskopi taget den (?P<day>{DATE})"), converters=D)
def take_backup(course: Course, day: date, tmp_path: Path) -> None:
    course.pilot.at(day)
    ctx = course.pilot.ctx
    course.backup = create_backup(
        ctx.settings.database_url, ctx.settings.keys.master, tmp_path / "old", ctx.clock.now()
    )


# --- Når ----------------------------------------------------------------------------------------


@when(
    parsers.re(rf"borgeren besvarer trivselsspørgeskemaet ved opfølgning den (?P<day>{DATE})"),
    converters=D,
)
def follow_up(course: Course, day: date) -> None:
    course.pilot.answer(course.pid, "follow_up", day)


@when(
    parsers.re(rf"borgeren tilbagekalder (?P<kind>trivsels|journal)samtykket den (?P<day>{DATE})"),
    converters=D,
)
def withdraw(course: Course, kind: str, day: date) -> None:
    kind_id = "wellbeing" if kind == "trivsels" else "journal"
    course.pilot.withdraw(course.pid, course.consents[kind_id], day)


@when(
    parsers.re(rf"borgeren underskriver et nyt journalsamtykke den (?P<day>{DATE})"), converters=D
)
def new_journal_consent(course: Course, day: date) -> None:
    course.consents["journal"] = course.pilot.sign(course.pid, "journal", day)


@when(
    parsers.re(rf"den dataansvarlige sletter ved projektets afslutning den (?P<day>{DATE})"),
    converters=D,
)
def pilot_end_deletion(course: Course, day: date) -> None:
    course.pilot.at(day)
    ctx = course.pilot.ctx
    try:
        with session_scope(ctx.sessions) as session:
            run_pilot_end(session, ctx.deps, course.pilot.actor, course.pilot.organisation_id, day)
    except RuleRefusal as refused:
        course.refused = refused


@when(
    "sikkerhedskopien fra før sletningen genindlæses i en tom database med de nøgler, der findes nu"
)
def restore_old_backup(
    course: Course, tmp_path: Path, test_keys: dict[str, str], target_url: str
) -> None:
    ctx = course.pilot.ctx
    assert course.backup is not None
    now = create_backup(
        ctx.settings.database_url, ctx.settings.keys.master, tmp_path / "now", ctx.clock.now()
    )
    restore_backup(  # as the owner; the service then runs on it as the application login
        target_url,
        ctx.settings.keys.master,
        course.backup.data_path,
        now.keys_path,
        PG_APP,
        public_key=ctx.crypto.public_key,
        clock=course.pilot.clock,
    )
    course.restored = AppContext.build(
        make_settings(app_url(target_url), test_keys), course.pilot.clock
    )


# --- Så -----------------------------------------------------------------------------------------


def _open(course: Course, kind: str) -> list[Any]:
    return [t for t in course.pilot.open_tasks(course.pid) if t.kind == kind]


@then("står der ingen opfølgning på arbejdslisten")
def no_follow_up(course: Course) -> None:
    assert _open(course, FOLLOW_UP) == []


@then(
    parsers.re(
        rf"står opfølgningen på arbejdslisten, og den skal være besvaret senest den "
        rf"(?P<day>{DATE})"
    ),
    converters=D,
)
def follow_up_listed(course: Course, day: date) -> None:
    [task] = _open(course, FOLLOW_UP)
    assert task.overdue_on == day
    assert state_on(task, course.pilot.today) == "due"


@then("er opfølgningen på arbejdslisten markeret som forfalden")
def follow_up_overdue(course: Course) -> None:
    [task] = _open(course, FOLLOW_UP)
    assert state_on(task, course.pilot.today) == "overdue"


@then("står der intet nyt journalsamtykke på arbejdslisten")
def no_reconsent(course: Course) -> None:
    assert _open(course, RECONSENT) == []


@then(
    parsers.re(rf"står et nyt journalsamtykke på arbejdslisten med frist den (?P<day>{DATE})"),
    converters=D,
)
def reconsent_listed(course: Course, day: date) -> None:
    [task] = _open(course, RECONSENT)
    assert task.due_on == day


@then("der venter ingen påmindelser om nyt journalsamtykke")
def no_pending_reminders(course: Course) -> None:
    assert [j for j in course.pilot.jobs(RECONSENT) if j.status == "pending"] == []


@then("er borgerens trivselssvar slettet")
def answers_deleted(course: Course) -> None:
    with course.pilot.ctx.sessions() as session:
        assert session.scalars(select(WellbeingResponse)).all() == []


@then("sletningen står i loggen uden personoplysninger")
def deletion_logged(course: Course) -> None:
    events = course.pilot.events("wellbeing.deleted") + course.pilot.events("citizen.deleted")
    assert events
    for event in events:
        assert event.resource_id == course.pid
        assert '"rule":' in event.details
        assert '"hash":' in event.details
        for secret in (NAME, course.cpr, course.cpr.replace("-", "")):
            assert secret not in event.details


def _citizen(course: Course) -> Citizen:
    with course.pilot.ctx.sessions() as session:
        citizen = session.scalar(select(Citizen).where(Citizen.public_id == course.pid))
        assert citizen is not None
        return citizen


@then("borgerens navn kan stadig læses")
def name_readable(course: Course) -> None:
    assert citizens.decrypt(course.pilot.deps, _citizen(course)).name == NAME


def _found(course: Course) -> Citizen | None:
    ctx = course.pilot.ctx
    with session_scope(ctx.sessions) as session:
        return citizens.find_by_cpr(
            session, ctx.deps, course.pilot.actor, course.pilot.organisation_id, course.cpr
        )


@then("kan borgeren ikke findes på CPR-nummeret")
def not_found(course: Course) -> None:
    assert _found(course) is None


@then("borgeren kan stadig findes på CPR-nummeret")
def still_found(course: Course) -> None:
    assert _found(course) is not None


@then("samtykkeregistreringen findes stadig uden identitet")
def consent_kept(course: Course) -> None:
    citizen = _citizen(course)
    assert citizen.deleted_at is not None
    assert (citizen.cpr_sealed, citizen.name_sealed, citizen.cpr_index) == (None, None, None)
    with course.pilot.ctx.sessions() as session:
        kept = session.scalars(select(Consent).where(Consent.citizen_id == citizen.id)).all()
    assert [c.public_id for c in kept] == [course.consents["journal"]]


@then("loggens hashkæde er intakt")
def chain_intact(course: Course) -> None:
    with course.pilot.ctx.sessions() as session:
        assert verify_chain(session, course.pilot.ctx.crypto.public_key).intact


@then("afvises sletningen")
def refused(course: Course) -> None:
    assert course.refused is not None
    assert "først ske fra" in course.refused.message


@then("kan borgerens CPR-nummer og navn ikke læses i den genindlæste database")
def unreadable_in_old_backup(course: Course) -> None:
    restored = course.restored
    assert restored is not None
    try:
        with restored.sessions() as session:
            old = session.scalar(select(Citizen).where(Citizen.public_id == course.pid))
            assert old is not None
            # The deletion made after the backup was made again by the restore: a tombstone
            # without sealed fields or blind index; and no key would open the old ones.
            assert (old.cpr_sealed, old.name_sealed, old.cpr_index) == (None, None, None)
            assert old.deleted_at is not None
            with pytest.raises(CitizenKeyDestroyed):
                citizens.decrypt(restored.deps, old)
    finally:
        restored.engine.dispose()


@then("borgeren kan ikke findes på CPR-nummeret i den genindlæste database")
def not_found_in_old_backup(course: Course) -> None:
    restored = course.restored
    assert restored is not None
    try:
        with session_scope(restored.sessions) as session:
            found = citizens.find_by_cpr(
                session, restored.deps, course.pilot.actor, course.pilot.organisation_id, course.cpr
            )
        assert found is None
    finally:
        restored.engine.dispose()

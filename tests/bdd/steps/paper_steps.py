"""Steps of features/papiroriginaler.feature: a signed original's custody through the real
services (``consents.paper``) on both database engines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from pytest_bdd import given, parsers, then, when
from sqlalchemy import select

from consent_service.citizens.models import Citizen
from consent_service.clock import FixedClock
from consent_service.consents import paper
from consent_service.consents.models import Consent
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.errors import RuleRefusal
from consent_service.labels import label
from consent_service.retention.schedule import default_schedule
from tests.scenario import Pilot

SIGNED = date(2027, 3, 1)


@dataclass
class Archive:
    pilot: Pilot
    pid: str = ""
    consent: str = ""
    locations: dict[str, int] | None = None


@pytest.fixture
def archive(ctx: AppContext, clock: FixedClock) -> Archive:
    return Archive(Pilot.start(ctx, clock), locations={})


def _record(archive: Archive, event: str, **kwargs: object) -> None:
    pilot = archive.pilot
    with session_scope(pilot.ctx.sessions) as s:
        consent = s.scalar(select(Consent).where(Consent.public_id == archive.consent))
        assert consent is not None
        citizen = s.get(Citizen, consent.citizen_id)
        assert citizen is not None
        paper.record(s, pilot.deps, pilot.actor, citizen, consent, event,
                     occurred_on=pilot.today, **kwargs)  # type: ignore[arg-type]  # fmt: skip


def _custody(archive: Archive) -> paper.Custody:
    pilot = archive.pilot
    with pilot.ctx.sessions() as s:
        consent = s.scalar(select(Consent).where(Consent.public_id == archive.consent))
        assert consent is not None
        citizen = s.get(Citizen, consent.citizen_id)
        assert citizen is not None
        return paper.custody_view(s, citizen, consent, pilot.today)


@given("en borger med et registreret underskrevet trivselssamtykke")
def _signed(archive: Archive) -> None:
    archive.pilot.at(SIGNED)
    archive.pid = archive.pilot.citizen()
    archive.pilot.refer(archive.pid, SIGNED)
    archive.consent = archive.pilot.sign(archive.pid, "wellbeing", SIGNED)


@given(parsers.parse('den dataansvarlige har placeringen "{name}"'))
def _location(archive: Archive, name: str) -> None:
    pilot = archive.pilot
    with session_scope(pilot.ctx.sessions) as s:
        loc = paper.create_location(s, pilot.deps, pilot.actor, pilot.organisation_id, name)
        assert archive.locations is not None
        archive.locations[name] = loc.id


@given(parsers.parse('navigatøren har lagt originalen i "{name}"'))
@when(parsers.parse('navigatøren lægger originalen i "{name}"'))
def _store(archive: Archive, name: str) -> None:
    assert archive.locations is not None
    _record(archive, "stored", person="Nina Navigatør", location_id=archive.locations[name])


@when(parsers.parse('navigatøren tager originalen ud med begrundelsen "{why}"'))
def _take_out(archive: Archive, why: str) -> None:
    _record(archive, "taken_out", person="Nina Navigatør", note=why)


@when(parsers.parse('navigatøren lægger originalen tilbage i "{name}"'))
def _return(archive: Archive, name: str) -> None:
    assert archive.locations is not None
    _record(archive, "returned", person="Nina Navigatør", location_id=archive.locations[name])


@when("projektet er slut")
def _pilot_ends(archive: Archive) -> None:
    archive.pilot.at(default_schedule().pilot_end + timedelta(days=1))


@when(parsers.parse('"{who}" registrerer originalen destrueret med "{how}"'))
def _destroy(archive: Archive, who: str, how: str) -> None:
    _record(archive, "destroyed", person=who, note=how)


@then(parsers.parse('ligger originalen i "{name}"'))
def _lies_in(archive: Archive, name: str) -> None:
    custody = _custody(archive)
    assert custody.state in ("stored", "returned")
    assert custody.location == name


@then("er originalen udtaget")
def _is_out(archive: Archive) -> None:
    assert _custody(archive).state == "taken_out"


@then("en original, der er udtaget, kan ikke tages ud igen")
def _not_twice(archive: Archive) -> None:
    with pytest.raises(RuleRefusal, match="allerede udtaget"):
        _record(archive, "taken_out", person="Ole", note="Igen")


@then(parsers.parse('historikken viser "{events}"'))
def _history(archive: Archive, events: str) -> None:
    shown = [label("paper_custody_events", row.event) for row, _ in _custody(archive).history]
    assert ", ".join(shown) == events


def _awaiting(archive: Archive) -> list[str]:
    pilot = archive.pilot
    with pilot.ctx.sessions() as s:
        found = paper.awaiting_destruction(s, pilot.organisation_id, pilot.today)
        return [o.consent.public_id for o in found]


@then("venter originalen på makulering")
def _awaits(archive: Archive) -> None:
    assert _awaiting(archive) == [archive.consent]
    assert _custody(archive).due_for_destruction


@then("venter originalen ikke længere på makulering")
def _no_longer(archive: Archive) -> None:
    assert _awaiting(archive) == []


@then(parsers.parse('er originalen destrueret af "{who}" med "{how}"'))
def _destroyed(archive: Archive, who: str, how: str) -> None:
    custody = _custody(archive)
    assert custody.state == "destroyed"
    last, _ = custody.history[-1]
    assert (last.person, last.note, last.occurred_on) == (who, how, archive.pilot.today)


@then("en destrueret original kan ikke lægges på plads igen")
def _never_back(archive: Archive) -> None:
    assert archive.locations is not None
    with pytest.raises(RuleRefusal, match="makuleret"):
        _record(archive, "stored", person="Ole", location_id=next(iter(archive.locations.values())))

"""Steps of features/scanning.feature: the scan's QR code (or the typed form code) picks
the form, through the real services (``printed.form_to_record``, ``record_signed``) on both
database engines. The scan is the printed PDF's first page rendered to PNG, as a scanner
would deliver it."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date

import pypdfium2
import pytest
from pytest_bdd import given, parsers, then, when
from sqlalchemy import select

from consent_service.citizens.models import Citizen
from consent_service.clock import FixedClock
from consent_service.consents import printed
from consent_service.consents import service as consents
from consent_service.consents.models import Consent
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.errors import InvalidInput
from tests.factories import tiny_png
from tests.scenario import Pilot

DAY = date(2026, 11, 2)


@dataclass
class ScanDesk:
    """The navigator's desk: the citizens, their printed forms (PDF, form id, short code)."""

    pilot: Pilot
    pid: str = ""
    other: str = ""
    forms: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)
    refused: InvalidInput | None = None


@pytest.fixture
def desk(ctx: AppContext, clock: FixedClock) -> ScanDesk:
    return ScanDesk(Pilot.start(ctx, clock))


def _scan(pdf: bytes) -> bytes:
    image = pypdfium2.PdfDocument(pdf)[0].render(scale=150 / 72).to_pil()
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _print(desk: ScanDesk, pid: str, kind: str, name: str) -> None:
    with session_scope(desk.pilot.ctx.sessions) as session:
        citizen = session.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        form, pdf = printed.print_form(session, desk.pilot.deps, desk.pilot.actor, citizen, kind)
        desk.forms[name] = (form.form_id, pdf, form.short_code or "")


def _citizen(desk: ScanDesk, name: str) -> str:
    desk.pilot.at(DAY)
    pid = desk.pilot.citizen(name=name)
    desk.pilot.refer(pid, DAY)
    return pid


def _record(desk: ScanDesk, kind: str, scan: bytes, typed_code: str = "") -> None:
    desk.refused = None
    try:
        with session_scope(desk.pilot.ctx.sessions) as session:
            citizen = session.scalar(select(Citizen).where(Citizen.public_id == desk.pid))
            assert citizen is not None
            found = printed.form_to_record(
                session, citizen, kind, scan=scan, typed_code=typed_code, chosen_form_id=""
            )
            consents.record_signed(
                session, desk.pilot.deps, desk.pilot.actor, citizen, kind,
                form_id=found.form.form_id, signed_on=DAY, witness="Navigatør", scan=scan,
            )  # fmt: skip
    except InvalidInput as exc:
        desk.refused = exc


def _recorded(desk: ScanDesk) -> list[str | None]:
    with desk.pilot.ctx.sessions() as session:
        return list(
            session.scalars(
                select(Consent.form_id)
                .join(Citizen, Citizen.id == Consent.citizen_id)
                .where(Citizen.public_id == desk.pid)
            ).all()
        )


@given("en borger med to udskrevne erklæringer om journalsamtykke")
def two_forms(desk: ScanDesk) -> None:
    desk.pid = _citizen(desk, "Åse Ørum")
    _print(desk, desk.pid, "journal", "første")
    _print(desk, desk.pid, "journal", "anden")


@given("en anden borger med en udskrevet erklæring om journalsamtykke")
def other_citizen(desk: ScanDesk) -> None:
    desk.other = _citizen(desk, "Bo Berg")
    _print(desk, desk.other, "journal", "anden borgers")


@given("en borger med en udskrevet erklæring om trivselssamtykke")
def wellbeing_form(desk: ScanDesk) -> None:
    desk.pid = _citizen(desk, "Åse Ørum")
    _print(desk, desk.pid, "wellbeing", "trivsels")


@given("en udskrevet erklæring om journalsamtykke")
def journal_form(desk: ScanDesk) -> None:
    _print(desk, desk.pid, "journal", "første")


@given("scanningen af den første erklæring er registreret")
def first_recorded(desk: ScanDesk) -> None:
    _record(desk, "journal", _scan(desk.forms["første"][1]))
    assert desk.refused is None


@when(
    parsers.re(
        r"navigatøren indlæser scanningen af (?:den |)(?P<name>første|anden borgers|trivsels)"
        r"(?:erklæringen| erklæring) som journalsamtykke(?: igen)?"
    )
)
def upload(desk: ScanDesk, name: str) -> None:
    _record(desk, "journal", _scan(desk.forms[name][1]))


@when(
    "navigatøren indlæser en scanning uden læsbar QR-kode og skriver den første erklærings "
    "blanketkode med små bogstaver"
)
def typed(desk: ScanDesk) -> None:
    _record(desk, "journal", tiny_png(), typed_code=desk.forms["første"][2].lower())


@then("er samtykket registreret på den første erklæring")
def recorded_first(desk: ScanDesk) -> None:
    assert desk.refused is None, desk.refused
    assert _recorded(desk) == [desk.forms["første"][0]]


@then(parsers.parse('afvises scanningen med "{words}"'))
def refused(desk: ScanDesk, words: str) -> None:
    assert desk.refused is not None
    assert words in desk.refused.message


@then("intet samtykke er registreret")
def nothing(desk: ScanDesk) -> None:
    assert _recorded(desk) == []

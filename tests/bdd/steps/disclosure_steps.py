"""Steps of features/videregivelse.feature: the real extract execution, the DPO's access
report (as the page builds it, and its PDF) and the withdrawal's confirmation."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date

import pytest
from pypdf import PdfReader
from pytest_bdd import given, parsers, then, when
from sqlalchemy import select

from consent_service.citizens.models import Citizen
from consent_service.consents import reading
from consent_service.consents import service as consents
from consent_service.oversight import dpo
from consent_service.oversight.dpo import ExtractItem
from consent_service.oversight.report_pdf import render_access_report
from tests.bdd.steps.common import DATE, danish_date
from tests.bdd.steps.extract_steps import Extracting
from tests.factories import synthetic_cpr

D = {"day": danish_date}


@dataclass
class Disclosing:
    other: str = ""  # the citizen without consent
    said: tuple[str, ...] = field(default_factory=tuple)


@pytest.fixture
def disclosing() -> Disclosing:
    return Disclosing()


def _report(x: Extracting, pid: str) -> list[ExtractItem]:
    with x.pilot.ctx.sessions() as session:
        citizen = session.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        return dpo.extracts_report(session, x.pilot.organisation_id, citizen)


@given(
    parsers.re(rf"en anden borger på Hold 2 henvist den (?P<day>{DATE}) uden samtykke"),
    converters=D,
)
def other_citizen(extracting: Extracting, disclosing: Disclosing, day: date) -> None:
    extracting.pilot.at(day)
    disclosing.other = extracting.pilot.citizen(cpr=synthetic_cpr(date(1959, 9, 9), 13))
    extracting.pilot.refer(disclosing.other, day)


@then(parsers.re(rf"står en videregivelse den (?P<day>{DATE}) i borgerens indsigt"), converters=D)
def in_report(extracting: Extracting, day: date) -> None:
    [item] = _report(extracting, extracting.pid)
    assert item.obtained_on == day
    assert item.extract_id == extracting.requests[-1].public_id


@then(parsers.re(r'formålet er "(?P<text>[^"]+)"'))
def purpose_is(extracting: Extracting, text: str) -> None:
    assert _report(extracting, extracting.pid)[0].purpose_da == text


@then(parsers.re(r'modtageren er "(?P<text>[^"]+)"'))
def recipient_is(extracting: Extracting, text: str) -> None:
    assert _report(extracting, extracting.pid)[0].recipient == text


@then(parsers.re(r'retsgrundlaget nævner "(?P<text>[^"]+)"'))
def legal_basis_names(extracting: Extracting, text: str) -> None:
    assert text in _report(extracting, extracting.pid)[0].legal_basis


@then("videregivelsen står også i indsigten som PDF")
def in_pdf(extracting: Extracting) -> None:
    items = _report(extracting, extracting.pid)
    pdf = render_access_report(
        [], items, cpr_formatted="010160-XXXX", for_citizen=True, organisation="Region Midtjylland",
        made_on=extracting.pilot.today, role_names={},
    )  # fmt: skip
    text = " ".join("".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    x = items[0]
    assert f"{x.obtained_on:%d-%m-%Y}" in text
    assert x.recipient in text
    assert "§ 43, stk. 1" in text
    assert x.extract_id in text.replace(" ", "")


@then("den anden borgers indsigt har ingen videregivelser")
def none_for_other(extracting: Extracting, disclosing: Disclosing) -> None:
    assert _report(extracting, disclosing.other) == []


@when(
    parsers.re(rf"borgeren vil tilbagekalde sit journalsamtykke den (?P<day>{DATE})"),
    converters=D,
)
def about_to_withdraw(extracting: Extracting, disclosing: Disclosing, day: date) -> None:
    extracting.pilot.at(day)
    ctx = extracting.pilot.ctx
    with ctx.sessions() as session:
        citizen = session.scalar(select(Citizen).where(Citizen.public_id == extracting.pid))
        assert citizen is not None
        consent = consents.get_consent(session, citizen, extracting.consent)
        disclosing.said = reading.withdrawal_preview(session, ctx.deps, consent, day, "phone")


@then(
    parsers.re(
        rf"siger bekræftelsen, at oplysningerne blev videregivet den (?P<day>{DATE}) til "
        r'"(?P<recipient>[^"]+)"'
    ),
    converters=D,
)
def confirmation_names(disclosing: Disclosing, day: date, recipient: str) -> None:
    assert f"{day:%d-%m-%Y} til {recipient}." in disclosing.said

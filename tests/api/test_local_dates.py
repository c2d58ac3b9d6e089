"""One clock rule for people: every date a page proposes is today's date in Copenhagen, and
every time it shows is Copenhagen time with its zone, also around midnight and on the two
nights the clocks change (issue 15)."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from tests.api.test_citizens_consents import BIRTH, print_form, record, refer, register
from tests.conftest import enrolled_person, log_in
from tests.factories import synthetic_cpr

# (instant in UTC, the Danish date, the Danish clock time and zone shown for that instant)
NIGHTS = [
    pytest.param(datetime(2027, 2, 28, 23, 30, tzinfo=UTC), date(2027, 3, 1), "00:30 (CET)",
                 id="1-march-00:30"),
    pytest.param(datetime(2027, 3, 27, 23, 30, tzinfo=UTC), date(2027, 3, 28), "00:30 (CET)",
                 id="spring-forward-00:30"),
    pytest.param(datetime(2027, 3, 28, 1, 30, tzinfo=UTC), date(2027, 3, 28), "03:30 (CEST)",
                 id="spring-forward-03:30"),
    pytest.param(datetime(2027, 10, 30, 22, 30, tzinfo=UTC), date(2027, 10, 31), "00:30 (CEST)",
                 id="fall-back-00:30"),
    pytest.param(datetime(2027, 10, 31, 0, 30, tzinfo=UTC), date(2027, 10, 31), "02:30 (CEST)",
                 id="fall-back-first-02:30"),
    pytest.param(datetime(2027, 10, 31, 1, 30, tzinfo=UTC), date(2027, 10, 31), "02:30 (CET)",
                 id="fall-back-second-02:30"),
]  # fmt: skip


def _date_field(page: str, name: str) -> str:
    # the form pattern's macro or a hand-written input: type, name and value in any order
    tag = rf'<input (?=[^>]*type="date")(?=[^>]*name="{name}")[^>]*value="([^"]*)"'
    match = re.search(tag, page)
    assert match, f"no {name} date field"
    return match.group(1)


@pytest.mark.parametrize(("instant", "danish_day", "shown"), NIGHTS)
def test_citizen_page_proposes_and_shows_copenhagen_time(
    ctx: AppContext,
    client: TestClient,
    clock: FixedClock,
    instant: datetime,
    danish_day: date,
    shown: str,
) -> None:
    clock.set(instant - timedelta(minutes=10))
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)
    pid = register(client, token, synthetic_cpr(BIRTH))
    refer(client, token, pid, danish_day - timedelta(days=1))
    form_id = print_form(client, token, pid, "journal")

    clock.set(instant)
    page = client.get(f"/borgere/{pid}").text
    assert _date_field(page, "referred_on") == danish_day.isoformat()
    signed_on = _date_field(page, "signed_on")
    assert signed_on == danish_day.isoformat()

    r = record(client, token, pid, "journal", form_id, date.fromisoformat(signed_on))
    assert r.status_code == 303, r.text
    page = client.get(f"/borgere/{pid}").text
    assert f"{danish_day:%d-%m-%Y}: " in page  # the signing date, as a Danish date
    assert f"registreret {danish_day:%d-%m-%Y} kl. {shown}" in page  # recorded-at, local


def test_dpo_log_shows_copenhagen_time_with_its_zone(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    """The second 02:00 of 31 October 2027 (01:00 UTC) is shown as winter time."""
    clock.set(datetime(2027, 10, 31, 0, 59, 30, tzinfo=UTC))
    log_in(client, enrolled_person(ctx, "dpo"), clock)  # a new time step: 01:00:00 UTC
    page = client.get("/dpo/log?handling=login.succeeded")
    assert page.status_code == 200
    assert "31-10-2027 kl. 02:00:00 (CET)" in page.text


def test_access_report_pdf_shows_copenhagen_time_with_its_zone(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    """The citizen's access report at 03:30 summer time on 28 March 2027 (01:30 UTC)."""
    clock.set(datetime(2027, 3, 28, 1, 29, 30, tzinfo=UTC))
    token = log_in(client, enrolled_person(ctx, "navigator"), clock)  # now 01:30:00 UTC
    cpr = synthetic_cpr(BIRTH)
    register(client, token, cpr)
    client.cookies.clear()
    token = log_in(client, enrolled_person(ctx, "dpo"), clock)
    pdf = client.post(
        "/dpo/indsigt",
        data={"cpr": cpr, "version": "borger", "format": "pdf", "csrf_token": token},
    )
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "28-03-2027 kl. 03:30 (CEST)" in " ".join(text.split())

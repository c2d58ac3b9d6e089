"""The consent cards on the citizen's page: after "Givet" the consent in force and what
comes next, no second print-and-record while it is in force; withdrawal and invalidation
ask for confirmation and say what happens; refusal, journal confirmation and WHO-5 keep
the form on a mistake and confirm success."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from consent_service.clock import FixedClock
from consent_service.consents.models import Consent, ConsentEvent
from consent_service.context import AppContext
from consent_service.wellbeing.models import WellbeingResponse
from tests.api.test_citizens_consents import (
    BIRTH,
    NAME,
    assert_on_citizen_page,
    print_form,
    record,
    refer,
    register,
)
from tests.conftest import enrolled_person, log_in
from tests.factories import synthetic_cpr


@pytest.fixture
def nav(ctx: AppContext, client: TestClient, clock: FixedClock) -> str:
    return log_in(client, enrolled_person(ctx, "navigator"), clock)


def _given(client: TestClient, token: str, today: date, n: int, kind: str) -> str:
    pid = register(client, token, synthetic_cpr(BIRTH, n))
    refer(client, token, pid, today)
    assert record(client, token, pid, kind, print_form(client, token, pid, kind), today)
    return pid


def _card(page: str, kind: str) -> str:
    return page.split(f'id="kind-{kind}"')[1].split('<section class="card"')[0].split("</main>")[0]


def _consent_id(ctx: AppContext, kind: str) -> str:
    with ctx.sessions() as s:
        found = s.scalars(
            select(Consent.public_id).where(Consent.kind == kind).order_by(Consent.id.desc())
        ).first()
        assert found is not None
        return found


def test_after_given_the_card_shows_the_consent_and_what_comes_next(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    pid = _given(client, nav, today, 1, "journal")
    card = _card(client.get(f"/borgere/{pid}").text, "journal")
    assert "Samtykke i kraft" in card
    assert "state-given" in card
    assert "Gyldigt til og med" in card
    assert "Næste skridt" in card
    assert "indført i patientjournalen" in card
    assert 'id="print-journal"' not in card  # no second print-and-record card
    assert 'id="record-journal"' not in card
    assert "Samtykkeerklæring med blanketkode" in card  # the journal note names the paper
    assert "Test navigator" in card  # the history names the person
    assert "bruger " not in card

    consent = _consent_id(ctx, "journal")
    r = client.post(
        f"/samtykker/{consent}/journal", data={"entered_on": today.isoformat(), "csrf_token": nav}
    )
    assert r.status_code == 303
    assert r.headers["location"].endswith("?besked=journal-confirmed")
    card = _card(client.get(r.headers["location"]).text, "journal")
    assert "Næste skridt" not in card
    # The other kind still offers printing.
    assert 'id="print-wellbeing"' in client.get(f"/borgere/{pid}").text


def test_re_consent_due_offers_a_fresh_form_again(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    pid = _given(client, nav, today, 2, "journal")
    clock.set(clock.now() + timedelta(days=320))  # within 60 days of the one-year expiry
    fresh = TestClient(client.app, follow_redirects=False)
    log_in(fresh, enrolled_person(ctx, "navigator"), clock)
    card = _card(fresh.get(f"/borgere/{pid}").text, "journal")
    assert "Samtykke i kraft" in card
    assert "udskriv en ny erklæring" in card
    assert 'id="print-journal"' in card


def test_withdrawal_asks_first_and_names_the_answers_fate(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    _given(client, nav, today, 3, "wellbeing")
    consent = _consent_id(ctx, "wellbeing")
    data = {"withdrawn_on": today.isoformat(), "channel": "phone", "csrf_token": nav}

    wrong = client.post(f"/samtykker/{consent}/tilbagekald", data={**data, "withdrawn_on": "x"})
    prefix = f"withdraw-{consent}-"
    page = assert_on_citizen_page(
        wrong, prefix, "withdrawn_on", "x", opened="Registrér tilbagekaldelse"
    )
    assert "Skriv datoen som dd-mm-åååå" in page
    assert '<option value="phone" selected>' in page.split(f'id="{prefix}form"')[1]
    future = (today + timedelta(days=2)).isoformat()
    wrong = client.post(f"/samtykker/{consent}/tilbagekald", data={**data, "withdrawn_on": future})
    assert_on_citizen_page(
        wrong, prefix, "withdrawn_on", future, opened="Registrér tilbagekaldelse"
    )

    asked = client.post(f"/samtykker/{consent}/tilbagekald", data=data)
    assert asked.status_code == 200
    deadline = today + timedelta(days=30)  # retention/schedule.yaml: 30 days after withdrawal
    assert f"slettes senest {deadline:%d-%m-%Y}" in asked.text
    assert "Trivselsbesvarelser" in asked.text
    assert 'name="confirmed" value="ja"' in asked.text
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ConsentEvent)) == 0

    done = client.post(f"/samtykker/{consent}/tilbagekald", data={**data, "confirmed": "ja"})
    assert done.status_code == 303
    assert done.headers["location"].endswith("?besked=consent-withdrawn")
    page = client.get(done.headers["location"]).text
    assert "Tilbagekaldelsen er registreret" in page
    assert f"{today:%d-%m-%Y} (telefon)" in page  # withdrawal date and channel
    assert f"slettes senest {deadline:%d-%m-%Y}" in page
    assert 'id="print-wellbeing"' in _card(page, "wellbeing")  # a fresh form is possible


def test_invalidation_asks_first(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    pid = _given(client, nav, today, 4, "wellbeing")
    consent = _consent_id(ctx, "wellbeing")
    asked = client.post(
        f"/samtykker/{consent}/ugyldiggoer", data={"reason": "wrong_citizen", "csrf_token": nav}
    )
    assert asked.status_code == 200
    assert "Erklæringen tilhører en anden borger" in asked.text
    assert "bevares" in asked.text
    done = client.post(
        f"/samtykker/{consent}/ugyldiggoer",
        data={"reason": "wrong_citizen", "confirmed": "ja", "csrf_token": nav},
    )
    assert done.status_code == 303
    assert done.headers["location"].endswith("?besked=consent-invalidated")
    assert "state-invalidated" in client.get(f"/borgere/{pid}").text


def test_refusal_and_journal_keep_the_form_on_a_mistake(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    pid = register(client, nav, synthetic_cpr(BIRTH, 5))
    refer(client, nav, pid, today)
    future = (today + timedelta(days=1)).isoformat()
    r = client.post(
        f"/borgere/{pid}/samtykke/wellbeing/afslag", data={"decided_on": future, "csrf_token": nav}
    )
    page = assert_on_citizen_page(
        r,
        "wellbeing-refuse-",
        "decided_on",
        future,
        opened="Registrér at borgeren ikke ønsker at give samtykke",
    )
    assert "fremtiden" in page
    # The summary heads the wellbeing card, not another.
    assert 'id="wellbeing-refuse-error-summary"' in page.split('id="kind-wellbeing"')[1]
    assert 'id="wellbeing-refuse-error-summary"' not in page.split('id="kind-wellbeing"')[0]
    r = client.post(
        f"/borgere/{pid}/samtykke/wellbeing/afslag",
        data={"decided_on": today.isoformat(), "csrf_token": nav},
    )
    assert r.status_code == 303
    assert r.headers["location"].endswith("?besked=consent-refused")

    assert record(client, nav, pid, "journal", print_form(client, nav, pid, "journal"), today)
    consent = _consent_id(ctx, "journal")
    r = client.post(
        f"/samtykker/{consent}/journal", data={"entered_on": "30-02-2026", "csrf_token": nav}
    )
    assert_on_citizen_page(r, f"journal-{consent}-", "entered_on", "30-02-2026")
    assert "Datoen findes ikke" in r.text


def test_who5_keeps_every_answer_on_a_mistake(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    pid = _given(client, nav, today, 6, "wellbeing")
    answers = {f"who5_{i}": str(i % 6) for i in range(1, 6)}
    data = {"occasion": "baseline", "answered_on": today.isoformat(), "csrf_token": nav}
    r = client.post(
        f"/borgere/{pid}/trivsel", data={**data, **answers, "life_satisfaction": "eleven"}
    )
    assert r.status_code == 400
    assert "Skriv et helt tal fra 0 til 10" in r.text
    assert 'value="eleven"' in r.text
    assert '<option value="4" selected>' in r.text.replace("\n", "")
    future = (today + timedelta(days=3)).isoformat()
    r = client.post(
        f"/borgere/{pid}/trivsel",
        data={**data, **answers, "answered_on": future, "life_satisfaction": "7"},
    )
    assert r.status_code == 400
    assert f'value="{future}"' in r.text
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(WellbeingResponse)) == 0
    r = client.post(f"/borgere/{pid}/trivsel", data={**data, **answers, "life_satisfaction": "7"})
    assert r.status_code == 303
    assert r.headers["location"].endswith("?besked=wellbeing-recorded")


def test_a_mistake_on_another_organisations_consent_or_an_unknown_kind_is_not_found(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str
) -> None:
    """The citizen's page comes back only for one's own citizen: a bad form posted to
    another organisation's consent or citizen is 404 and shows nothing of them."""
    today = clock.now().date()
    pid = _given(client, nav, today, 7, "wellbeing")
    consent = _consent_id(ctx, "wellbeing")
    other = TestClient(client.app, follow_redirects=False)
    token = log_in(other, enrolled_person(ctx, "navigator", org_name="Anden Region"), clock)
    for url, data in (
        (f"/samtykker/{consent}/tilbagekald", {"withdrawn_on": "x", "channel": "phone"}),
        (f"/samtykker/{consent}/journal", {"entered_on": "x"}),
        (f"/samtykker/{consent}/ugyldiggoer", {"reason": "because"}),
        (f"/borgere/{pid}/samtykke/wellbeing/afslag", {"decided_on": "x"}),
    ):
        r = other.post(url, data={**data, "csrf_token": token})
        assert r.status_code == 404, url
        assert NAME not in r.text
    r = client.post(
        f"/borgere/{pid}/samtykke/nonsense/afslag", data={"decided_on": "x", "csrf_token": nav}
    )
    assert r.status_code == 404


def test_hostile_text_typed_into_a_consent_form_comes_back_escaped(
    client: TestClient, clock: FixedClock, nav: str
) -> None:
    today = clock.now().date()
    pid = register(client, nav, synthetic_cpr(BIRTH, 8))
    refer(client, nav, pid, today)
    hostile = '"><script>alert(1)</script>'
    r = client.post(
        f"/borgere/{pid}/samtykke/journal/afslag", data={"decided_on": hostile, "csrf_token": nav}
    )
    page = assert_on_citizen_page(r, "journal-refuse-", "decided_on", hostile)
    assert "<script>alert" not in page

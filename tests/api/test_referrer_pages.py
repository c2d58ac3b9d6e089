"""The referrer's browser form (``/henvis``) and "Mine henvisninger": the same service
as the practice systems' API, warnings for a missing inclusion criterion, and nothing
about the citizen shown back."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from consent_service.citizens.models import Citizen, Referral
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from tests.conftest import Person, enrolled_person, log_in
from tests.factories import synthetic_cpr


def _form(cpr: str, **changes: str) -> dict[str, str]:
    return {
        "cpr": cpr, "name": "Åse Ærø", "phone": "+45 86 12 34 56", "email": "",
        "municipality": "Norddjurs", "gp_clinic": "Lægehuset Grenaa",
        "referrer_kind": "nurse", "referred_on": "2026-11-23",
        "norddjurs_link": "true", "reachable": "true", **changes,
    }  # fmt: skip


def _count(ctx: AppContext, model: type[Referral] | type[Citizen]) -> int:
    with ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _referrer(ctx: AppContext, client: TestClient, clock: FixedClock) -> tuple[Person, str]:
    person = enrolled_person(ctx, "referrer")
    return person, log_in(client, person, clock)


def test_the_referrer_sends_a_referral_and_sees_only_its_status(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _, token = _referrer(ctx, client, clock)
    home = client.get("/").text
    assert 'href="/henvis"' in home
    form = client.get("/henvis")
    assert form.status_code == 200
    assert 'value="2026-11-23"' in form.text  # today, Copenhagen
    assert "Praktiserende læge" in form.text
    assert "Selvhenvendelse" not in form.text
    cpr = synthetic_cpr(date(1958, 3, 9))
    r = client.post("/henvis", data={**_form(cpr), "csrf_token": token})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/mine-henvisninger?besked=referral-sent"
    assert _count(ctx, Referral) == 1
    mine = client.get(r.headers["location"])
    assert "Henvisningen er sendt." in mine.text
    table = mine.text.split('id="my-referrals"')[1].split("</table>")[0]
    assert "23-11-2026" in table
    assert "Sygeplejerske" in table
    assert "Modtaget" in table
    for secret in ("Åse", "Ærø", cpr, cpr.replace("-", ""), "86 12 34 56", "samtykke"):
        assert secret not in mine.text

    # The navigator contacts the citizen: the referrer sees "Kontaktet", nothing more.
    with ctx.sessions() as session:
        referral = session.scalars(select(Referral.public_id)).one()
    navigator = TestClient(client.app, follow_redirects=False)
    nav_token = log_in(navigator, enrolled_person(ctx, "navigator"), clock)
    assert (
        navigator.post(
            f"/henvisninger/{referral}/kontaktet",
            data={"csrf_token": nav_token, "contacted_on": "2026-11-23", "note": "Aftalt møde"},
        ).status_code
        == 303
    )
    again = client.get("/mine-henvisninger").text
    assert "Kontaktet" in again.split('id="my-referrals"')[1]
    assert "Aftalt møde" not in again

    # Another referrer of the organisation sees none of it; the referrer cannot open the
    # worklist or the citizen.
    other = TestClient(client.app, follow_redirects=False)
    log_in(other, enrolled_person(ctx, "referrer"), clock)
    assert 'id="my-referrals-empty"' in other.get("/mine-henvisninger").text
    assert client.get("/arbejdsliste").status_code == 403
    with ctx.sessions() as session:
        pid = session.scalars(select(Citizen.public_id)).one()
    assert client.get(f"/borgere/{pid}").status_code == 403


def test_a_known_cpr_is_answered_as_a_new_one(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _, token = _referrer(ctx, client, clock)
    known = synthetic_cpr(date(1958, 3, 9))
    assert client.post("/henvis", data={**_form(known), "csrf_token": token}).status_code == 303
    answers = [
        client.post("/henvis", data={**_form(cpr, name="Zyxwvu Qponm"), "csrf_token": token})
        for cpr in (known, synthetic_cpr(date(1958, 3, 9), 1))
    ]
    assert [a.status_code for a in answers] == [303, 303]
    assert answers[0].headers["location"] == answers[1].headers["location"]
    assert _count(ctx, Citizen) == 2  # the known CPR joined its citizen
    mine = client.get("/mine-henvisninger").text
    assert "Zyxwvu" not in mine  # no name is shown back: it could tell a known one


def test_a_missing_criterion_warns_and_sending_anyway_is_allowed(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _, token = _referrer(ctx, client, clock)
    cpr = synthetic_cpr(date(1958, 3, 9))
    data = _form(cpr, reachable="") | {"csrf_token": token}
    warned = client.post("/henvis", data=data)
    assert warned.status_code == 200
    assert 'id="referral-warnings"' in warned.text
    assert "kontaktes på telefon eller e-mail" in warned.text
    assert "Målgruppe" in warned.text
    assert 'id="send-anyway"' in warned.text
    assert 'value="Åse Ærø"' in warned.text  # the form is kept
    assert 'id="reachable" name="reachable" value="true">' in warned.text  # still unticked
    assert _count(ctx, Referral) == 0
    sent = client.post("/henvis", data=data | {"send_anyway": "ja"})
    assert sent.status_code == 303
    with ctx.sessions() as session:
        [referral] = session.scalars(select(Referral)).all()
        assert referral.reachable is False
        assert referral.norddjurs_link is True


def test_a_citizen_under_18_is_a_warning_not_a_refusal(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _, token = _referrer(ctx, client, clock)
    data = _form("030310-4007") | {"csrf_token": token}  # born 3 March 2010: 16
    warned = client.post("/henvis", data=data)
    assert warned.status_code == 200
    assert "under 18 år" in warned.text
    assert client.post("/henvis", data=data | {"send_anyway": "ja"}).status_code == 303
    with ctx.sessions() as session:
        assert session.scalars(select(Referral.adult_at_referral)).one() is False


def test_errors_keep_the_form_and_say_what_to_fix(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _, token = _referrer(ctx, client, clock)
    cases = {
        "cpr": (_form("3002901234"), "CPR-nummeret"),
        "referred_on": (_form(synthetic_cpr(date(1958, 3, 9)), referred_on="2026-13-01"),
                        "Skriv datoen"),
        "email": (_form(synthetic_cpr(date(1958, 3, 9)), email="ikke-en-adresse"),
                  "E-mailadressen er ikke gyldig"),
        "name": (_form(synthetic_cpr(date(1958, 3, 9)), name=" "), "skal udfyldes"),
        "referrer_kind": (_form(synthetic_cpr(date(1958, 3, 9)), referrer_kind="self"),
                          "Vælg hvem du er"),
    }  # fmt: skip
    for field, (data, message) in cases.items():
        r = client.post("/henvis", data={**data, "csrf_token": token})
        assert r.status_code == 400, field
        assert message in r.text, field
        assert f'href="#{field}"' in r.text, field  # the summary links to the field
        assert 'value="Lægehuset Grenaa"' in r.text, field
        assert 'value="+45 86 12 34 56"' in r.text, field
        assert 'href="/mine-henvisninger"' in r.text  # the page, with its menu
    assert _count(ctx, Referral) == 0
    assert _count(ctx, Citizen) == 0

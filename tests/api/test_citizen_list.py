"""The navigator's citizen list: search by part of a name (case and accents aside) or by
CPR, never another organisation's citizen, sorting and paging, a search only by POST, the
status columns, and an audit that never holds the term."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import Actor
from consent_service.citizens import service as citizens
from consent_service.citizens.models import Citizen
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.jobs.models import Task
from tests.api.test_citizens_consents import print_form, record, refer
from tests.conftest import Person, enrolled_person, log_in
from tests.factories import synthetic_cpr

NAMES = ["Åse Åberg", "Søren Østergård", "Hans Müller", "Jens Hansen"]


@pytest.fixture
def nav_person(ctx: AppContext) -> Person:
    return enrolled_person(ctx, "navigator")


@pytest.fixture
def nav(client: TestClient, clock: FixedClock, nav_person: Person) -> str:
    return log_in(client, nav_person, clock)


def seed(
    ctx: AppContext, person: Person, names: list[str], birth: date = date(1960, 1, 1)
) -> list[str]:
    """Citizens registered through the service (fast), one birth date apart; their ids."""
    actor = Actor(
        user_id=person.user_id, username=person.username, organisation_id=person.organisation_id
    )
    ids = []
    with session_scope(ctx.sessions) as session:
        for i, name in enumerate(names):
            data = citizens.CitizenInput(
                cpr=synthetic_cpr(birth + timedelta(days=i), 7), name=name, phone=None,
                email=None, municipality="Norddjurs", gp_clinic="Lægehuset Grenaa",
            )  # fmt: skip
            ids.append(
                citizens.register_citizen(
                    session, ctx.deps, actor, person.organisation_id, data
                ).public_id
            )
    return ids


def search(client: TestClient, token: str, term: str, **extra: str):  # type: ignore[no-untyped-def]
    return client.post("/borgere/soeg", data={"q": term, "csrf_token": token, **extra})


def names_in(html: str) -> list[str]:
    """The names in the list's table, in order."""
    if 'id="citizens"' not in html:
        return []
    table = html.split('id="citizens"')[1].split("</table>")[0]
    return re.findall(r'<td data-title="Navn"><a href="/borgere/[0-9a-f]+">([^<]+)</a>', table)


def _events(ctx: AppContext, action: str) -> list[AuditEvent]:
    with ctx.sessions() as s:
        return list(
            s.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("aaberg", ["Åse Åberg"]),
        ("ÅBERG", ["Åse Åberg"]),
        ("ostergaard", ["Søren Østergård"]),
        ("muller", ["Hans Müller"]),
        ("müller", ["Hans Müller"]),
        ("han", ["Hans Müller", "Jens Hansen"]),
        ("sen", ["Jens Hansen"]),
    ],
)
def test_a_part_of_a_name_finds_the_citizen_whatever_case_and_accents(
    ctx: AppContext, client: TestClient, nav: str, nav_person: Person, term: str, found: list[str]
) -> None:
    seed(ctx, nav_person, NAMES)
    r = search(client, nav, term)
    assert r.status_code == 200, r.text
    assert names_in(r.text) == found
    assert f'value="{term}"' in r.text  # the term is kept in the field


def test_the_search_is_audited_with_a_keyed_hash_never_the_term(
    ctx: AppContext, client: TestClient, nav: str, nav_person: Person
) -> None:
    seed(ctx, nav_person, NAMES)
    search(client, nav, "Østergård")
    search(client, nav, "ostergaard")  # the same search, folded alike
    search(client, nav, "zzz")
    searched = [json.loads(e.details) for e in _events(ctx, "citizen.searched")]
    assert [(d["criterion"], d["found"]) for d in searched] == [
        ("name", True), ("name", True), ("name", False),
    ]  # fmt: skip
    assert (
        searched[0]["criterion_hash"]
        == searched[1]["criterion_hash"]
        != searched[2]["criterion_hash"]
    )
    with ctx.sessions() as s:
        everything = " ".join(e.details or "" for e in s.scalars(select(AuditEvent)))
    assert "stergaard" not in everything.lower()
    assert "stergård" not in everything.lower()
    listed = _events(ctx, "citizen.listed")
    assert len(listed) == 2  # Søren shown twice, nobody else


def test_another_organisations_citizen_never_appears(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str, nav_person: Person
) -> None:
    own = seed(ctx, nav_person, ["Åse Åberg"])
    other = enrolled_person(ctx, "navigator", org_name="Anden Region")
    foreign = seed(ctx, other, ["Åse Åberg", "Åge Åberg"], birth=date(1970, 1, 1))
    r = search(client, nav, "aberg")
    assert names_in(r.text) == ["Åse Åberg"]
    assert own[0] in r.text
    listing = client.get("/borgere").text
    for pid in foreign:
        assert pid not in r.text
        assert pid not in listing
    assert "Åge" not in listing
    # nor by the start of its CPR number
    assert search(client, nav, "010170").status_code == 200
    assert names_in(search(client, nav, "010170").text) == []


def test_a_search_is_a_post_and_names_are_never_in_an_address(
    ctx: AppContext, client: TestClient, nav: str, nav_person: Person
) -> None:
    seed(ctx, nav_person, [f"Borger {i:02d}" for i in range(1, 31)])
    # there is no search by GET (the address is read as a citizen id: not found)
    assert client.get("/borgere/soeg?q=Borger").status_code == 404
    assert _events(ctx, "citizen.searched") == []
    # a query string is no search: GET lists everyone
    r = client.get("/borgere?q=Borger+07")
    assert "Registrerede borgere (30)" in r.text
    # sorting and paging a result post the term again, in hidden fields
    result = search(client, nav, "borger")
    assert "Side 1 af 2" in result.text
    assert 'name="q" value="borger"' in result.text
    addresses = re.findall(r'(?:href|action)="([^"]*)"', result.text)
    assert not [a for a in addresses if "q=" in a or "Borger" in a or "borger=" in a]
    second = search(client, nav, "borger", side="2")
    assert names_in(second.text) == [f"Borger {i:02d}" for i in range(26, 31)]
    assert "Side 2 af 2" in second.text


def test_paging_and_sorting_of_the_whole_list(
    ctx: AppContext, client: TestClient, nav: str, nav_person: Person
) -> None:
    # names in one order, birth dates in the reverse order
    names = [f"Borger {i:02d}" for i in range(30, 0, -1)]
    seed(ctx, nav_person, names)
    first = client.get("/borgere")
    assert names_in(first.text) == [f"Borger {i:02d}" for i in range(1, 26)]
    assert "Side 1 af 2" in first.text
    assert 'href="/borgere?sort=navn&amp;side=2"' in first.text
    assert names_in(client.get("/borgere?sort=navn&side=2").text) == [
        f"Borger {i:02d}" for i in range(26, 31)
    ]
    by_birth = client.get("/borgere?sort=foedselsdato").text
    assert names_in(by_birth)[:3] == ["Borger 30", "Borger 29", "Borger 28"]
    assert "Sorteret efter fødselsdato." in by_birth
    # a search result sorts and pages by post, keeping the sort across pages
    posted = search(client, nav, "borger", sort="foedselsdato", side="2")
    assert names_in(posted.text) == [
        "Borger 05",
        "Borger 04",
        "Borger 03",
        "Borger 02",
        "Borger 01",
    ]
    assert 'name="sort" value="foedselsdato"' in posted.text
    # a page or a sort that does not exist is the nearest one, never an error
    assert names_in(client.get("/borgere?side=99").text)[0] == "Borger 26"
    assert names_in(client.get("/borgere?sort=x&side=abc").text)[0] == "Borger 01"


def test_status_columns_show_consents_and_the_next_task(
    ctx: AppContext, client: TestClient, clock: FixedClock, nav: str, nav_person: Person
) -> None:
    today = clock.now().date()
    later, sooner, signed = seed(ctx, nav_person, ["Anna Andersen", "Bent Berg", "Carl Cort"])
    with session_scope(ctx.sessions) as session:
        for pid, due in ((later, today + timedelta(days=40)), (sooner, today + timedelta(days=5))):
            citizen = session.scalar(select(Citizen).where(Citizen.public_id == pid))
            assert citizen is not None
            session.add(Task(
                key=f"test:{pid}", kind="wellbeing_follow_up",
                organisation_id=citizen.organisation_id, citizen_id=citizen.id,
                due_on=due, overdue_on=due + timedelta(days=60),
                reason="Test", opened_at=clock.now(),
            ))  # fmt: skip
    refer(client, nav, signed, today - timedelta(days=2))
    form_id = print_form(client, nav, signed, "journal")
    assert record(client, nav, signed, "journal", form_id, today).status_code == 303
    page = client.get("/borgere?sort=opgave").text
    # Carl's referral waits for a call (since two days ago): the first thing to do
    assert names_in(page) == ["Carl Cort", "Bent Berg", "Anna Andersen"]
    rows = page.split('id="citizens"')[1].split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    carl, bent = rows[0], rows[1]
    assert "Ny henvisning" in carl
    assert f"Ring op · henvist {(today - timedelta(days=2)).strftime('%d-%m-%Y')}" in carl
    assert "Opfølgende trivselsmåling" in bent
    assert (today + timedelta(days=5)).strftime("%d-%m-%Y") in bent
    until = (today.replace(year=today.year + 1) - timedelta(days=1)).strftime("%d-%m-%Y")
    assert "Givet" in carl
    assert f"til og med {until}" in carl
    assert "Intet samtykke" in carl  # no wellbeing consent
    assert 'data-title="Journalsamtykke"' in carl  # the phone layout labels each cell


def test_a_cpr_number_opens_the_citizen_and_a_bad_one_says_what_is_wrong(
    ctx: AppContext, client: TestClient, nav: str, nav_person: Person
) -> None:
    (pid,) = seed(ctx, nav_person, ["Åse Åberg"], birth=date(1975, 1, 1))
    full = synthetic_cpr(date(1975, 1, 1), 7)
    assert search(client, nav, full).headers["location"] == f"/borgere/{pid}"
    assert names_in(search(client, nav, "010175").text) == ["Åse Åberg"]
    bad = search(client, nav, "300275-1234")
    assert bad.status_code == 400
    assert "Datoen i CPR-nummeret findes ikke." in bad.text
    assert 'aria-invalid="true"' in bad.text
    empty = search(client, nav, "  ")
    assert empty.status_code == 400
    assert "Skriv et navn" in empty.text
    prefix = json.loads(_events(ctx, "citizen.searched")[1].details)
    assert prefix["criterion"] == "cpr_prefix"
    assert "010175" not in json.dumps(prefix)


def test_the_old_cpr_field_still_searches(
    ctx: AppContext, client: TestClient, nav: str, nav_person: Person
) -> None:
    (pid,) = seed(ctx, nav_person, ["Åse Åberg"], birth=date(1975, 1, 1))
    r = client.post(
        "/borgere/soeg", data={"cpr": synthetic_cpr(date(1975, 1, 1), 7), "csrf_token": nav}
    )
    assert r.headers["location"] == f"/borgere/{pid}"


def test_hostile_search_terms_change_nothing_and_are_shown_as_text(
    ctx: AppContext, client: TestClient, nav: str, nav_person: Person
) -> None:
    seed(ctx, nav_person, NAMES)
    script = search(client, nav, '<script>alert("x")</script>')
    assert script.status_code == 200
    assert "<script>alert" not in script.text
    assert "&lt;script&gt;" in script.text
    assert names_in(script.text) == []
    wildcard = search(client, nav, "%")  # no SQL LIKE: the term is matched in memory
    assert names_in(wildcard.text) == []
    assert search(client, nav, "x\x00y").status_code == 400
    too_long = search(client, nav, "a" * 101)
    assert too_long.status_code == 400  # the list with the field's message, term kept
    assert "Skriv højst 100 tegn." in too_long.text
    assert 'value="' + "a" * 101 + '"' in too_long.text

"""The data controller's coverage overview (issue 16): all six cohort measurements on
their planned dates without typing a date, a measurement's re-consent list under keyed
pseudonyms, moving a date with a reason (audited; a mistake keeps the form), the chart
and its data table, the CSV exports; other roles and other organisations are refused."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from consent_service.audit.models import AuditEvent
from consent_service.clock import LEGAL_TZ, FixedClock
from consent_service.context import AppContext
from consent_service.extracts.models import MeasurementPlan
from tests.conftest import csrf_from, enrolled_person, log_in
from tests.coverage_support import pseudonym_of
from tests.scenario import Pilot

REFERRED = date(2026, 11, 2)  # Hold 2
SIGNED = date(2026, 11, 10)  # the journal consent covers until 09-11-2027
TODAY = date(2027, 9, 1)
CPR = "050570-4321"
NAME = "Åse Ærø Østergård"


def _seed(ctx: AppContext, clock: FixedClock) -> str:
    pilot = Pilot.start(ctx, clock)
    pilot.at(REFERRED)
    pid = pilot.citizen(name=NAME, cpr=CPR)
    pilot.refer(pid, REFERRED)
    pilot.sign(pid, "journal", SIGNED)
    clock.set(datetime.combine(TODAY, time(10), tzinfo=LEGAL_TZ))
    return pid


def _actions(ctx: AppContext, action: str) -> list[AuditEvent]:
    with ctx.sessions() as session:
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        return list(session.scalars(stmt))


def _details(event: AuditEvent) -> dict[str, object]:
    found: dict[str, object] = json.loads(event.details)
    return found


def _plans(ctx: AppContext) -> int:
    with ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(MeasurementPlan)) or 0


def _visible(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_overview_shows_all_six_measurements_on_their_planned_dates(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pid = _seed(ctx, clock)
    log_in(client, enrolled_person(ctx, "data_controller"), clock)
    r = client.get("/udtraek/daekning")
    assert r.status_code == 200
    text = _visible(r.text)
    for name, day in [
        ("Hold 1:1", "01-10-2027"), ("Hold 1:2", "01-10-2028"), ("Hold 2:1", "01-05-2028"),
        ("Hold 2:2", "01-05-2029"), ("Hold 3:1", "01-01-2029"), ("Hold 3:2", "01-01-2030"),
    ]:  # fmt: skip
        assert re.search(rf"{name} {day}", text), name
    assert 'type="date"' not in r.text  # no date to type
    # Hold 2: the one citizen is covered today, expires 09-11-2027, before both dates.
    row = r.text[r.text.index('id="m-hold-2-1"') :].split("</tr>")[0]
    assert 'data-risk="high"' in row  # must re-consent within 90 days
    assert "første frist 09-11-2027" in _visible(row)
    assert 'class="expire-before">1' in row
    assert 'id="m-hold-1-1" data-risk="empty"' in r.text  # Hold 1 has nobody
    # Four measurements fall after the pilot's end (30-06-2028), when the data is deleted.
    assert r.text.count('data-risk="after_end"') == 4
    assert 'id="m-hold-2-2" data-risk="after_end"' in r.text
    # The chart is an image at its own address, with the numbers in a table beside it.
    assert '<img src="/udtraek/daekning/graf.svg"' in r.text
    assert 'id="coverage-timeline"' in r.text
    assert "01-09-2027 (i dag)" in _visible(r.text)
    # Counts only: no name, CPR, navigator id or pseudonym on the overview.
    assert NAME not in r.text
    assert CPR not in r.text
    assert pid not in r.text
    assert pseudonym_of(ctx, pid, "hold-2", 1) not in r.text
    assert _details(_actions(ctx, "extract.coverage_viewed")[-1]) == {"view": "overview"}


def test_a_measurement_lists_who_must_re_consent_by_when_under_its_own_pseudonym(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pid = _seed(ctx, clock)
    log_in(client, enrolled_person(ctx, "data_controller"), clock)
    one = client.get("/udtraek/daekning/maaling", params={"maaling": "hold-2-1"})
    two = client.get("/udtraek/daekning/maaling", params={"maaling": "hold-2-2"})
    assert one.status_code == two.status_code == 200
    p1, p2 = pseudonym_of(ctx, pid, "hold-2", 1), pseudonym_of(ctx, pid, "hold-2", 2)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", p1)
    assert p1 != p2  # two measurements' lists cannot be joined on the pseudonym
    assert p1 in one.text
    assert p2 in two.text
    assert p2 not in one.text
    assert pid not in one.text
    assert NAME not in one.text
    assert CPR not in one.text
    assert "09-11-2027" in one.text
    # Stable within one measurement: the same on the next look.
    again = client.get("/udtraek/daekning/maaling", params={"maaling": "hold-2-1"})
    assert p1 in again.text
    assert "Datoen følger reglen" in one.text
    # An unknown measurement is not found.
    for bad in ("hold-9-1", "hold-2-3", "", "../etc"):
        r = client.get("/udtraek/daekning/maaling", params={"maaling": bad})
        assert r.status_code == 404, bad


def test_moving_a_date_is_audited_and_shown_with_who_and_why(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pid = _seed(ctx, clock)
    dc = enrolled_person(ctx, "data_controller")
    token = log_in(client, dc, clock)
    r = client.post(
        "/udtraek/daekning/dato",
        data={"maaling": "hold-2-1", "dato": "01-10-2027", "csrf_token": token,
              "begrundelse": "Aftalt med Region Midtjyllands dataenhed"},
    )  # fmt: skip
    assert r.status_code == 303
    assert (
        r.headers["location"]
        == "/udtraek/daekning/maaling?maaling=hold-2-1&besked=measurement-planned"
    )
    page = client.get(r.headers["location"])
    assert "Den nye måledato er gemt" in page.text
    assert "Hold 2:1: udtræk den 01-10-2027" in page.text
    assert (
        "ændret af Test data_controller" in page.text.lower()
        or "Datoen er ændret af Test data_controller" in page.text
    )
    assert "Aftalt med Region Midtjyllands dataenhed" in page.text
    # On 01-10-2027 the consent still covers: nobody needs to re-consent for Hold 2:1.
    assert 'id="covered">1<' in page.text
    assert 'id="no-reconsent"' in page.text
    [event] = _actions(ctx, "extract.measurement_planned")
    assert event.actor_user_id == dc.user_id
    assert event.resource_id == "hold-2-1"
    assert _details(event) == {
        "cohort": "hold-2", "measurement": 1, "planned_on": "2027-10-01",
        "previous_on": "2028-05-01",
    }  # fmt: skip
    assert "Aftalt" not in event.details  # the free-text reason stays out of the log
    overview = client.get("/udtraek/daekning")
    row = overview.text[overview.text.index('id="m-hold-2-1"') :].split("</tr>")[0]
    assert "01-10-2027" in row
    assert "ændret af Test data_controller" in row
    # The API reads the new date too; the newest override wins.
    client.post(
        "/udtraek/daekning/dato",
        data={"maaling": "hold-2-1", "dato": "2028-02-01", "csrf_token": token,
              "begrundelse": "Ny aftale"},
    )  # fmt: skip
    api = client.get("/api/v1/extracts/coverage", params={"cohort": "hold-2", "measurement": 1})
    assert api.json()["planned_on"] == "2028-02-01"
    assert api.json()["planned_by_rule_on"] == "2028-05-01"
    assert _plans(ctx) == 2
    assert pid not in api.text


def test_a_mistake_keeps_the_form_and_changes_nothing(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _seed(ctx, clock)
    token = log_in(client, enrolled_person(ctx, "data_controller"), clock)
    cases = [
        ({"dato": "31-02-2028", "begrundelse": "Flyttet"}, "dato", "Datoen findes ikke"),
        ({"dato": "i morgen", "begrundelse": "Flyttet"}, "dato", "Skriv datoen som dd-mm-åååå."),
        ({"dato": "01-01-2026", "begrundelse": "Flyttet"}, "dato", "før holdets første borger"),
        ({"dato": "01-01-2040", "begrundelse": "Flyttet"}, "dato", "for langt ude"),
        ({"dato": "01-10-2027", "begrundelse": "   "}, "begrundelse", "Skriv en begrundelse"),
        (
            {"dato": "01-10-2027", "begrundelse": f"Borger {CPR} flyttede"},
            "begrundelse",
            "Skriv ikke CPR-numre",
        ),
    ]
    for data, field, message in cases:
        r = client.post("/udtraek/daekning/dato",
                        data={"maaling": "hold-2-1", "csrf_token": token, **data})  # fmt: skip
        assert r.status_code == 400, data
        assert 'id="error-summary"' in r.text
        assert f'href="#{field}"' in r.text
        assert message in r.text, (data, r.text[:200])
        assert f'id="{field}-error"' in r.text
        if data["begrundelse"].strip():
            assert data["begrundelse"] in r.text  # the value typed is kept
        assert f'value="{data["dato"]}"' in r.text
        assert "Hold 2:1: udtræk den 01-05-2028" in r.text  # the page, not an error page
    # Hostile text comes back escaped, never as markup.
    r = client.post("/udtraek/daekning/dato", data={
        "maaling": "hold-2-1", "csrf_token": token, "dato": "nej",
        "begrundelse": "<script>alert(1)</script>"})  # fmt: skip
    assert r.status_code == 400
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    # Control characters are refused with a Danish message, before anything is stored.
    r = client.post("/udtraek/daekning/dato", data={
        "maaling": "hold-2-1", "csrf_token": token, "dato": "01-10-2027",
        "begrundelse": "Flyttet\x00"})  # fmt: skip
    assert r.status_code == 400
    assert _plans(ctx) == 0
    assert _actions(ctx, "extract.measurement_planned") == []
    # An unknown measurement is not found; without the CSRF token it is refused.
    r = client.post("/udtraek/daekning/dato", data={
        "maaling": "hold-7-1", "csrf_token": token, "dato": "01-10-2027",
        "begrundelse": "Flyttet"})  # fmt: skip
    assert r.status_code == 404
    r = client.post("/udtraek/daekning/dato", data={
        "maaling": "hold-2-1", "dato": "01-10-2027", "begrundelse": "Flyttet"})  # fmt: skip
    assert r.status_code == 403
    assert _plans(ctx) == 0


def test_another_organisation_neither_sees_nor_moves_our_dates(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pid = _seed(ctx, clock)
    ours = enrolled_person(ctx, "data_controller")
    theirs = enrolled_person(ctx, "data_controller", org_name="Norddjurs Kommune")
    token = log_in(client, ours, clock)
    client.post("/udtraek/daekning/dato", data={
        "maaling": "hold-2-2", "csrf_token": token, "dato": "01-01-2029",
        "begrundelse": "Vores egen aftale"})  # fmt: skip
    client.cookies.clear()
    token = log_in(client, theirs, clock)
    page = client.get("/udtraek/daekning/maaling", params={"maaling": "hold-2-2"})
    assert "Vores egen aftale" not in page.text
    assert "01-05-2029" in page.text  # their date is still the rule's
    assert 'id="expire-before">0<' in page.text  # our citizen is not theirs
    assert pid not in page.text
    assert pseudonym_of(ctx, pid, "hold-2", 2) not in page.text
    overview = client.get("/udtraek/daekning")
    assert "Vores egen aftale" not in overview.text
    csv = client.get("/udtraek/daekning/nyt-samtykke.csv", params={"maaling": "hold-2-2"})
    assert csv.text.count("\r\n") == 1  # the header only
    # Their override changes their plan, not ours.
    client.post("/udtraek/daekning/dato", data={
        "maaling": "hold-2-2", "csrf_token": token, "dato": "01-02-2029",
        "begrundelse": "Kommunens aftale"})  # fmt: skip
    client.cookies.clear()
    log_in(client, ours, clock)
    mine = client.get("/api/v1/extracts/coverage", params={"cohort": "hold-2", "measurement": 2})
    assert mine.json()["planned_on"] == "2029-01-01"


def test_other_roles_are_refused(ctx: AppContext, client: TestClient, clock: FixedClock) -> None:
    _seed(ctx, clock)
    for role in ("navigator", "dpo", "administrator", "referrer"):
        client.cookies.clear()
        person = enrolled_person(ctx, role)
        token = log_in(client, person, clock)
        for url in ("/udtraek/daekning", "/udtraek/daekning/graf.svg",
                    "/udtraek/daekning/oversigt.csv",
                    "/udtraek/daekning/maaling?maaling=hold-2-1",
                    "/udtraek/daekning/nyt-samtykke.csv?maaling=hold-2-1"):  # fmt: skip
            assert client.get(url).status_code == 403, (role, url)
        r = client.post("/udtraek/daekning/dato", data={
            "maaling": "hold-2-1", "csrf_token": token, "dato": "01-10-2027",
            "begrundelse": "Flyttet"})  # fmt: skip
        assert r.status_code == 403, role
    assert _plans(ctx) == 0


def test_the_csv_exports_open_in_danish_excel_and_hold_no_identity(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pid = _seed(ctx, clock)
    log_in(client, enrolled_person(ctx, "data_controller"), clock)
    r = client.get("/udtraek/daekning/oversigt.csv")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="daekning-2027-09-01.csv"'
    assert r.content.startswith("\ufeff".encode())
    lines = r.content.decode("utf-8-sig").split("\r\n")
    header = lines[0].split(";")
    assert header[:4] == ["Måling", "Planlagt udtræksdato", "Dato ændret af", "Begrundelse"]
    assert "Ikke dækket: Intet samtykke" in header
    rows = {line.split(";")[0]: line.split(";") for line in lines[1:] if line}
    assert list(rows) == ["Hold 1:1", "Hold 1:2", "Hold 2:1", "Hold 2:2", "Hold 3:1", "Hold 3:2"]
    h21 = dict(zip(header, rows["Hold 2:1"], strict=True))
    assert h21["Planlagt udtræksdato"] == "01-05-2028"
    assert (h21["På holdet"], h21["Dækket på datoen"], h21["Skal give nyt samtykke"]) == (
        "1", "0", "1",
    )  # fmt: skip
    assert h21["Første frist"] == "09-11-2027"
    r2 = client.get("/udtraek/daekning/nyt-samtykke.csv", params={"maaling": "hold-2-2"})
    assert r2.status_code == 200
    assert "nyt-samtykke-hold-2-2-2027-09-01.csv" in r2.headers["content-disposition"]
    body = r2.content.decode("utf-8-sig")
    assert body.split("\r\n")[1] == (
        f"Hold 2:2;01-05-2029;{pseudonym_of(ctx, pid, 'hold-2', 2)};09-11-2027"
    )
    for csv in (r.text, body):
        assert pid not in csv
        assert NAME not in csv
        assert CPR not in csv
        assert CPR.replace("-", "") not in csv
    exports = [_details(e) for e in _actions(ctx, "extract.coverage_exported")]
    assert exports == [
        {"export": "overview", "rows": 6},
        {"export": "reconsent", "rows": 1, "cohort": "hold-2", "measurement": 2},
    ]


def test_the_chart_is_an_svg_without_script(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _seed(ctx, clock)
    log_in(client, enrolled_person(ctx, "data_controller"), clock)
    r = client.get("/udtraek/daekning/graf.svg")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/svg+xml"
    assert r.text.startswith("<svg")
    assert "<script" not in r.text.lower()
    assert "Hold 1" in r.text
    assert "Hold 2" in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp
    # The page keeps the service's own policy: no inline style or script there.
    page = client.get("/udtraek/daekning")
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert "<style" not in page.text
    assert " style=" not in page.text


def test_the_form_posts_from_the_page(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _seed(ctx, clock)
    log_in(client, enrolled_person(ctx, "data_controller"), clock)
    page = client.get("/udtraek/daekning/maaling", params={"maaling": "hold-1-2"})
    assert 'action="/udtraek/daekning/dato"' in page.text
    assert 'name="maaling" value="hold-1-2"' in page.text
    r = client.post("/udtraek/daekning/dato", data={
        "maaling": "hold-1-2", "csrf_token": csrf_from(page.text), "dato": "2028-06-15",
        "begrundelse": "Før projektets afslutning"})  # fmt: skip
    assert r.status_code == 303


def test_the_navigators_worklist_holds_the_names_and_the_same_deadline(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pilot = Pilot.start(ctx, clock)
    pilot.at(REFERRED)
    pid = pilot.citizen(name=NAME, cpr=CPR)
    pilot.refer(pid, REFERRED)
    pilot.sign(pid, "journal", SIGNED)
    pilot.run(date(2027, 9, 10))  # 60 days before the consent expires
    log_in(client, enrolled_person(ctx, "navigator"), clock)
    worklist = _visible(client.get("/arbejdsliste").text)
    assert NAME in worklist
    assert "Nyt journalsamtykke" in worklist
    assert "09-11-2027" in worklist
    client.cookies.clear()
    log_in(client, enrolled_person(ctx, "data_controller"), clock)
    plan = client.get("/udtraek/daekning/maaling", params={"maaling": "hold-2-2"})
    assert "09-11-2027" in plan.text  # the same deadline, under a pseudonym
    assert NAME not in plan.text

"""The data controller's extract pages as the people use them: the request purpose first,
every mistake beside its field; the approver sees who asked and a preview of the consent
gate, approves or rejects (with a reason) with a fresh code; a request is cancelled after
a confirmation step, audited; the detail page counts downloads and stops offering one
when none is left; the verification page checks a downloaded manifest and its files. The
attacker's tests (another organisation's id, the wrong role, no CSRF token, a replayed
code, hostile uploads) sit beside the newcomer's (a mistake keeps the form)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import date, datetime, time, timedelta
from html import unescape

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from consent_service.audit.models import AuditEvent
from consent_service.clock import LEGAL_TZ, FixedClock
from consent_service.context import AppContext
from consent_service.extracts.models import ExtractRequest
from tests.api.test_page_words import named_person, page_problems
from tests.conftest import Person, current_code, enrolled_person, log_in
from tests.scenario import Pilot

REFERRED = date(2026, 11, 2)
ASKED = date(2027, 5, 20)
DAY = date(2027, 6, 1)


def _seed(ctx: AppContext, clock: FixedClock) -> None:
    """Two citizens of Hold 2: one covered by a journal consent, one without a consent."""
    pilot = Pilot.start(ctx, clock)
    pilot.at(REFERRED)
    covered, bare = pilot.citizen(), pilot.citizen()
    pilot.refer(covered, REFERRED)
    pilot.refer(bare, REFERRED)
    pilot.sign(covered, "journal", date(2026, 11, 10))
    clock.set(datetime.combine(ASKED, time(10), tzinfo=LEGAL_TZ))


def _visible(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def _draft(client: TestClient, token: str, planned: date = DAY) -> str:
    r = client.post(
        "/udtraek",
        data={
            "purpose": "payment_goal_1_regional", "cohort": "hold-2", "measurement_years": "1",
            "planned_on": planned.isoformat(), "sources": ["sygesikring"],
            "fields": ["gp_contacts"], "csrf_token": token,
        },
    )  # fmt: skip
    assert r.status_code == 303, r.text
    return r.headers["location"].split("?")[0].rsplit("/", 1)[1]


def _as(client: TestClient, person: Person, clock: FixedClock) -> str:
    client.cookies.clear()
    return log_in(client, person, clock)


def _code(person: Person, clock: FixedClock) -> str:
    clock.advance(timedelta(seconds=30))  # a new time step: a code works once
    return current_code(person, clock)


def _status(ctx: AppContext, public_id: str) -> str:
    with ctx.sessions() as session:
        req = session.scalar(select(ExtractRequest).where(ExtractRequest.public_id == public_id))
        assert req is not None
        return req.status


def _actions(ctx: AppContext, action: str) -> list[AuditEvent]:
    with ctx.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- the request, purpose first ------------------------------------------------------------


def test_the_purpose_comes_first_then_only_its_sources_and_fields(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    log_in(client, enrolled_person(ctx, "data_controller"), clock)
    first = client.get("/udtraek")
    assert first.status_code == 200
    assert 'name="formaal"' in first.text
    assert 'name="fields"' not in first.text  # no field before a purpose
    assert "Udfaldsbetaler: Østifterne" in first.text
    second = client.get("/udtraek", params={"formaal": "payment_goal_2_wellbeing"})
    assert second.status_code == 200
    assert 'value="who5"' in second.text
    assert 'value="gp_contacts"' not in second.text
    assert 'value="sygesikring"' not in second.text
    assert "Hold 2" in second.text
    # A questionnaire purpose is measured once, after a year: no 2-year choice.
    assert '<option value="1"' in second.text
    assert '<option value="2"' not in second.text
    unknown = client.get("/udtraek", params={"formaal": "<script>x</script>"})
    assert unknown.status_code == 400
    assert "Vælg et af formålene." in unknown.text
    assert "<script>x" not in unknown.text


def test_an_empty_request_names_everything_missing_beside_each_field(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    token = log_in(client, enrolled_person(ctx, "data_controller"), clock)
    nothing = client.post("/udtraek", data={"csrf_token": token})
    assert nothing.status_code == 400
    assert "Vælg et formål." in nothing.text
    assert 'name="formaal"' in nothing.text  # back on step 1
    r = client.post(
        "/udtraek",
        data={"purpose": "payment_goal_1_regional", "planned_on": "31-02-2027",
              "csrf_token": token},
    )  # fmt: skip
    assert r.status_code == 400
    summary = r.text[r.text.index('id="error-summary"') : r.text.index('id="draft-form"')]
    for message, field in [
        ("Vælg mindst én kilde.", "sources"),
        ("Vælg mindst ét felt.", "fields"),
        ("Vælg et hold.", "cohort"),
        ("Vælg en måling.", "measurement_years"),
        ("Datoen findes ikke.", "planned_on"),
    ]:
        assert message in summary, message
        assert f'href="#{field}"' in summary
        assert f'id="{field}-error"' in r.text
        assert f'id="{field}"' in r.text  # the link lands on the field
    assert 'value="31-02-2027"' in r.text  # the value typed is kept
    assert _actions(ctx, "extract.requested") == []


def test_a_source_of_another_purpose_is_named_in_danish(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    token = log_in(client, enrolled_person(ctx, "data_controller"), clock)
    r = client.post(
        "/udtraek",
        data={"purpose": "payment_goal_1_regional", "cohort": "hold-2",
              "measurement_years": "1", "planned_on": "2030-01-01",
              "sources": ["municipal"], "fields": ["home_nursing"], "csrf_token": token},
    )  # fmt: skip
    assert r.status_code == 400
    text = _visible(r.text)
    assert "Kilden 'Kommunale ydelser (Norddjurs Kommune)' hører ikke til formålet" in text
    assert "Feltet 'Kommunal sygepleje'" in text
    assert "municipal" not in text
    assert "home_nursing" not in text
    assert ".yaml" not in text


# --- approval ------------------------------------------------------------------------------


def test_the_approver_sees_who_asked_and_the_gate_before_deciding(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _seed(ctx, clock)
    requester = enrolled_person(ctx, "data_controller")
    approver = enrolled_person(ctx, "data_controller")
    public_id = _draft(client, _as(client, requester, clock))
    mine = client.get(f"/udtraek/{public_id}")
    assert 'id="preview"' not in mine.text  # the requester does not decide

    _as(client, approver, clock)
    page = client.get(f"/udtraek/{public_id}")
    text = _visible(page.text)
    assert "Anmodet af Test data_controller, 20-05-2027 kl." in text
    assert "Afventer godkendelse" in text
    assert "Kontakter til egen læge" in text
    assert "Sygesikringsregistret" in text
    assert "Hold 2, 1 år efter henvisningen" in text
    assert 'id="preview-included">1<' in page.text
    assert "Intet samtykke: 1" in text
    assert "no_consent" not in text


def test_a_rejection_needs_a_reason_and_a_fresh_code(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    requester = enrolled_person(ctx, "data_controller")
    approver = enrolled_person(ctx, "data_controller")
    clock.set(datetime.combine(ASKED, time(10), tzinfo=LEGAL_TZ))
    public_id = _draft(client, _as(client, requester, clock))
    token = _as(client, approver, clock)
    empty = client.post(
        f"/udtraek/{public_id}/afvis",
        data={"code": _code(approver, clock), "comment": "  ", "csrf_token": token},
    )
    assert empty.status_code == 400
    assert 'id="reject-comment-error"' in empty.text
    assert "Skriv, hvorfor anmodningen afvises." in empty.text
    wrong = client.post(
        f"/udtraek/{public_id}/afvis",
        data={"code": "000000", "comment": "Forkert hold", "csrf_token": token},
    )
    assert wrong.status_code == 400
    assert 'id="reject-code-error"' in wrong.text
    assert ">Forkert hold</textarea>" in wrong.text  # the reason kept
    assert _status(ctx, public_id) == "draft"
    ok = client.post(
        f"/udtraek/{public_id}/afvis",
        data={"code": _code(approver, clock), "comment": "Forkert hold", "csrf_token": token},
    )
    assert ok.status_code == 303
    page = _visible(client.get(ok.headers["location"]).text)
    assert "Anmodningen er afvist." in page
    assert "Afvist af Test data_controller" in page
    assert "Forkert hold" in page
    assert _status(ctx, public_id) == "rejected"
    assert len(_actions(ctx, "extract.rejected")) == 1


def test_a_replayed_code_approves_nothing(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    requester = enrolled_person(ctx, "data_controller")
    approver = enrolled_person(ctx, "data_controller")
    clock.set(datetime.combine(ASKED, time(10), tzinfo=LEGAL_TZ))
    token = _as(client, requester, clock)
    first, second = _draft(client, token), _draft(client, token)
    token = _as(client, approver, clock)
    code = _code(approver, clock)
    ok = client.post(f"/udtraek/{first}/godkend", data={"code": code, "csrf_token": token})
    assert ok.status_code == 303
    again = client.post(
        f"/udtraek/{second}/godkend", data={"code": code, "comment": "Igen", "csrf_token": token}
    )
    assert again.status_code == 400
    assert 'id="approve-code-error"' in again.text
    assert ">Igen</textarea>" in again.text
    assert _status(ctx, second) == "draft"


# --- cancellation --------------------------------------------------------------------------


def test_a_draft_is_cancelled_after_a_confirmation_with_a_reason_audited(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    requester = enrolled_person(ctx, "data_controller")
    clock.set(datetime.combine(ASKED, time(10), tzinfo=LEGAL_TZ))
    token = _as(client, requester, clock)
    public_id = _draft(client, token)
    url = f"/udtraek/{public_id}/annuller"
    empty = client.post(url, data={"reason": "", "csrf_token": token})
    assert empty.status_code == 400
    assert 'id="cancel-reason-error"' in empty.text
    asked = client.post(url, data={"reason": "Forkert dato", "csrf_token": token})
    assert asked.status_code == 200
    assert "Bekræft annulleringen" in asked.text
    assert 'name="confirmed" value="ja"' in asked.text
    assert _status(ctx, public_id) == "draft"  # nothing happens before the confirmation
    done = client.post(url, data={"reason": "Forkert dato", "confirmed": "ja", "csrf_token": token})
    assert done.status_code == 303
    page = _visible(client.get(done.headers["location"]).text)
    assert "Anmodningen er annulleret." in page
    assert "Annulleret af Test data_controller" in page
    assert "Forkert dato" in page
    with ctx.sessions() as session:
        req = session.scalar(select(ExtractRequest).where(ExtractRequest.public_id == public_id))
        assert req is not None
        assert (req.status, req.cancelled_by, req.cancel_reason) == (
            "cancelled",
            requester.user_id,
            "Forkert dato",
        )
        assert req.cancelled_at is not None
    [event] = _actions(ctx, "extract.cancelled")
    assert event.actor_user_id == requester.user_id
    assert "Forkert dato" not in json.dumps(event.details)  # the reason stays on the request
    # Once cancelled: no approval, no second cancellation (409, in Danish, on the page).
    again = client.post(url, data={"reason": "Igen", "confirmed": "ja", "csrf_token": token})
    assert again.status_code == 409
    assert "Anmodningen er annulleret." in _visible(again.text)
    approver = enrolled_person(ctx, "data_controller")
    token = _as(client, approver, clock)
    late = client.post(
        f"/udtraek/{public_id}/godkend",
        data={"code": _code(approver, clock), "csrf_token": token},
    )
    assert late.status_code == 409
    assert _status(ctx, public_id) == "cancelled"


def test_another_controller_cancels_an_approved_request_but_not_an_executed_one(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _seed(ctx, clock)
    requester = enrolled_person(ctx, "data_controller")
    approver = enrolled_person(ctx, "data_controller")
    third = enrolled_person(ctx, "data_controller")
    token = _as(client, requester, clock)
    approved, executed = _draft(client, token, ASKED), _draft(client, token, ASKED)
    token = _as(client, approver, clock)
    for public_id in (approved, executed):
        r = client.post(
            f"/udtraek/{public_id}/godkend",
            data={"code": _code(approver, clock), "csrf_token": token},
        )
        assert r.status_code == 303
    assert client.post(f"/udtraek/{executed}/udfoer", data={"csrf_token": token}).status_code == 303
    token = _as(client, third, clock)
    ok = client.post(
        f"/udtraek/{approved}/annuller",
        data={"reason": "Målingen flyttes", "confirmed": "ja", "csrf_token": token},
    )
    assert ok.status_code == 303
    assert _status(ctx, approved) == "cancelled"
    refused = client.post(
        f"/udtraek/{executed}/annuller",
        data={"reason": "For sent", "confirmed": "ja", "csrf_token": token},
    )
    assert refused.status_code == 409
    assert "Udtrækket er allerede udført." in _visible(refused.text)
    assert _status(ctx, executed) == "executed"
    assert "Annullér anmodningen" not in client.get(f"/udtraek/{executed}").text


def test_cancel_is_refused_to_strangers_other_roles_and_without_csrf(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    clock.set(datetime.combine(ASKED, time(10), tzinfo=LEGAL_TZ))
    owner = enrolled_person(ctx, "data_controller")
    public_id = _draft(client, _as(client, owner, clock))
    data = {"reason": "Væk", "confirmed": "ja"}
    stranger = enrolled_person(ctx, "data_controller", org_name="Region Hovedstaden")
    token = _as(client, stranger, clock)
    foreign = client.post(f"/udtraek/{public_id}/annuller", data={**data, "csrf_token": token})
    unknown = client.post(f"/udtraek/{'0' * 32}/annuller", data={**data, "csrf_token": token})
    assert foreign.status_code == unknown.status_code == 404
    token = _as(client, enrolled_person(ctx, "navigator"), clock)
    r = client.post(f"/udtraek/{public_id}/annuller", data={**data, "csrf_token": token})
    assert r.status_code == 403
    _as(client, owner, clock)
    assert client.post(f"/udtraek/{public_id}/annuller", data=data).status_code == 403
    assert _status(ctx, public_id) == "draft"


# --- downloads -----------------------------------------------------------------------------


def _executed(ctx: AppContext, client: TestClient, clock: FixedClock) -> tuple[str, str]:
    """An executed request, the requester logged in; returns (public id, CSRF token)."""
    _seed(ctx, clock)
    requester = enrolled_person(ctx, "data_controller")
    approver = enrolled_person(ctx, "data_controller")
    public_id = _draft(client, _as(client, requester, clock), ASKED)
    token = _as(client, approver, clock)
    r = client.post(
        f"/udtraek/{public_id}/godkend", data={"code": _code(approver, clock), "csrf_token": token}
    )
    assert r.status_code == 303
    token = _as(client, requester, clock)
    assert (
        client.post(f"/udtraek/{public_id}/udfoer", data={"csrf_token": token}).status_code == 303
    )
    return public_id, token


def test_downloads_used_and_left_and_no_button_when_none_is_left(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    public_id, token = _executed(ctx, client, clock)
    page = _visible(client.get(f"/udtraek/{public_id}").text)
    assert "0 af 3 hentninger brugt, kan hentes til 03-06-2027 kl." in page
    assert "Udført af Test data_controller" in page
    assert "CPR;pseudonym" in page  # what the file is
    for _ in range(3):
        r = client.post(f"/udtraek/{public_id}/hent", data={"csrf_token": token})
        assert r.status_code == 200
    html = client.get(f"/udtraek/{public_id}").text
    assert "3 af 3 hentninger brugt; der er ingen hentninger tilbage." in _visible(html)
    assert f'action="/udtraek/{public_id}/hent"' not in html
    refused = client.post(f"/udtraek/{public_id}/hent", data={"csrf_token": token})
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("text/html")
    assert "allerede hentet 3 gange" in _visible(refused.text)
    assert 'id="status"' in refused.text  # the request's page, not an error page
    assert len(_actions(ctx, "extract.downloaded")) == 3


def test_a_download_after_the_window_is_refused_on_the_page(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    _seed(ctx, clock)
    requester = enrolled_person(ctx, "data_controller")
    approver = enrolled_person(ctx, "data_controller")
    public_id = _draft(client, _as(client, requester, clock), ASKED)
    token = _as(client, approver, clock)
    client.post(
        f"/udtraek/{public_id}/godkend", data={"code": _code(approver, clock), "csrf_token": token}
    )
    assert (
        client.post(f"/udtraek/{public_id}/udfoer", data={"csrf_token": token}).status_code == 303
    )
    clock.advance(timedelta(days=15))
    token = _as(client, approver, clock)
    html = client.get(f"/udtraek/{public_id}").text
    assert "perioden for at hente udtrækket udløb" in _visible(html)
    assert f'action="/udtraek/{public_id}/hent"' not in html
    refused = client.post(f"/udtraek/{public_id}/hent", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "Perioden for at hente udtrækket er udløbet." in _visible(refused.text)


# --- verification --------------------------------------------------------------------------


def _archive(client: TestClient, public_id: str, token: str) -> dict[str, bytes]:
    r = client.post(f"/udtraek/{public_id}/hent", data={"csrf_token": token})
    assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _verify(client: TestClient, token: str, manifest: bytes, **files: bytes) -> Response:
    upload: list[tuple[str, tuple[str, bytes, str]]] = [
        ("manifest", ("manifest.json", manifest, "application/json"))
    ]
    upload += [("files", (name.replace("_csv", ".csv"), data, "text/csv"))
               for name, data in files.items()]  # fmt: skip
    return client.post("/udtraek/verificer", data={"csrf_token": token}, files=upload)


def test_the_verification_page_checks_the_signature_and_each_file(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    public_id, token = _executed(ctx, client, clock)
    archive = _archive(client, public_id, token)
    manifest, data = archive["manifest.json"], archive["sygesikring.csv"]
    assert data.startswith(b"cpr;pseudonym;period_from;period_to\n")

    ok = _verify(client, token, manifest, sygesikring_csv=data, other_csv=b"x\n")
    assert ok.status_code == 200
    assert 'id="signature-ok"' in ok.text
    assert f"udtræk {public_id}" in ok.text
    assert '<tr data-outcome="match"><td data-title="Fil">sygesikring.csv</td>' in ok.text
    assert 'data-outcome="not_listed"' in ok.text

    altered = _verify(client, token, manifest, sygesikring_csv=data.replace(b"\n", b"\r\n", 1))
    assert altered.status_code == 200
    assert 'data-outcome="content"' in altered.text

    signed = json.loads(manifest)
    signed["manifest"]["included"] += 1
    forged = _verify(client, token, json.dumps(signed).encode(), sygesikring_csv=data)
    assert forged.status_code == 200
    assert 'id="signature-bad"' in forged.text
    assert 'data-outcome="unsigned"' in forged.text

    only = _verify(client, token, manifest)
    assert 'id="signature-ok"' in only.text
    assert 'data-outcome="not_uploaded"' in only.text


def test_hostile_uploads_keep_the_form_with_a_danish_message(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    token = log_in(client, enrolled_person(ctx, "dpo"), clock)
    assert client.get("/udtraek/verificer").status_code == 200
    for raw, message in [
        (b"\xff\xfe\x00garbage", "Filen er ikke JSON (UTF-8)."),
        (b"not json at all", "Filen er ikke JSON (UTF-8)."),
        (b"[" * 100_000, "Filen er ikke JSON (UTF-8)."),
        (b'{"manifest": {"format": "other"}}', "Filen er ikke et manifest fra samtykkeservicen."),
        (b"", "Vælg manifest.json fra den hentede ZIP-fil."),
    ]:
        r = _verify(client, token, raw)
        assert r.status_code == 400, raw[:20]
        assert message in r.text
        assert 'id="manifest-error"' in r.text
        assert "Traceback" not in r.text
    huge = _verify(client, token, b"{" + b" " * (300 * 1024) + b"}")
    assert huge.status_code == 400
    assert "for stor" in huge.text
    no_csrf = client.post(
        "/udtraek/verificer", files={"manifest": ("m.json", b"{}", "application/json")}
    )
    assert no_csrf.status_code == 403


def test_only_data_controllers_and_the_dpo_verify(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    for role, status in (("navigator", 403), ("administrator", 403), ("data_controller", 200)):
        _as(client, enrolled_person(ctx, role), clock)
        assert client.get("/udtraek/verificer").status_code == status, role


def test_the_request_pages_show_no_code_path_or_numbered_person(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    """The page-words check of every state of a request's page, and the verification
    result (these pages are reached from a list, not the menu)."""
    _seed(ctx, clock)
    requester, approver = named_person(ctx, "data_controller"), named_person(ctx, "data_controller")
    pages: dict[str, str] = {}
    token = _as(client, requester, clock)
    public_id, cancelled = _draft(client, token, ASKED), _draft(client, token, ASKED)
    pages["draft, requester"] = client.get(f"/udtraek/{public_id}").text
    client.post(
        f"/udtraek/{cancelled}/annuller",
        data={"reason": "Dublet", "confirmed": "ja", "csrf_token": token},
    )
    pages["cancelled"] = client.get(f"/udtraek/{cancelled}").text
    pages["confirmation"] = client.post(
        f"/udtraek/{public_id}/annuller", data={"reason": "Dublet", "csrf_token": token}
    ).text
    token = _as(client, approver, clock)
    pages["draft, approver"] = client.get(f"/udtraek/{public_id}").text
    client.post(
        f"/udtraek/{public_id}/godkend", data={"code": _code(approver, clock), "csrf_token": token}
    )
    pages["approved"] = client.get(f"/udtraek/{public_id}").text
    client.post(f"/udtraek/{public_id}/udfoer", data={"csrf_token": token})
    archive = _archive(client, public_id, token)
    pages["executed"] = client.get(f"/udtraek/{public_id}").text
    pages["verified"] = _verify(
        client, token, archive["manifest.json"], sygesikring_csv=archive["sygesikring.csv"]
    ).text
    pages["list"] = client.get("/udtraek").text
    assert "Karen Holm" in pages["executed"]
    problems = [p for name, html in pages.items() for p in page_problems(name, html)]
    assert problems == []

"""The data controller's confirmation of the consent evidence's deletion on /sletning
(issue 17): the section with its dry run and the day it may be confirmed from; before
that day a valid code is refused (409) and nothing changes; a typo or a wrong code keep
the page with the message beside the field; then "SLET" and a fresh code delete the
organisation's evidence, and only its own."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from consent_service.clock import FixedClock
from consent_service.consents.models import Consent, Disclosure
from consent_service.context import AppContext
from consent_service.extracts.models import ExtractRequest
from tests.conftest import current_code, enrolled_person, log_in
from tests.evidence_support import (
    ALLOWED,
    at,
    count,
    delete_at_pilot_end,
    let_the_database_reach_the_day,
    organisation_with_evidence,
)

HEADING = "Samtykkeposter og udtræksmanifester (5 år efter projektets afslutning)"
MODELS = (Consent, Disclosure, ExtractRequest)


def _evidence(ctx: AppContext, org: int) -> list[int]:
    return [count(ctx, model, org) for model in MODELS]


def test_the_evidence_is_deleted_only_from_its_day_with_slet_and_a_fresh_code(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    own = organisation_with_evidence(ctx, clock, "Region Midtjylland")
    other = organisation_with_evidence(ctx, clock, "Norddjurs Kommune")
    delete_at_pilot_end(own)
    delete_at_pilot_end(other)
    before, theirs = _evidence(ctx, own.organisation_id), _evidence(ctx, other.organisation_id)
    assert before == [3, 1, 1]
    controller = enrolled_person(ctx, "data_controller")

    # The day before: the section and its dry run, no form; a valid code is refused.
    at(clock, ALLOWED - timedelta(days=1))
    token = log_in(client, controller, clock)
    page = client.get("/sletning")
    assert page.status_code == 200
    assert HEADING in page.text
    assert 'id="evidence-not-yet"' in page.text
    assert f"først bekræftes fra {ALLOWED:%d-%m-%Y}" in page.text
    assert 'id="evidence-form"' not in page.text
    assert "<td>Samtykkeregistreringer (uden identitet)</td><td>3</td>" in page.text
    clock.advance(timedelta(seconds=30))
    early = client.post(
        "/sletning/samtykkeposter",
        data={"confirm": "SLET", "code": current_code(controller, clock), "csrf_token": token},
    )
    assert early.status_code == 409
    assert f"først slettes fra {ALLOWED:%d-%m-%Y}" in early.text
    assert _evidence(ctx, own.organisation_id) == before
    assert own.events("login.step_up") == []  # the code was not even used

    # The day: the form.
    let_the_database_reach_the_day(ctx)
    at(clock, ALLOWED)
    token = log_in(client, controller, clock)
    page = client.get("/sletning")
    assert 'id="evidence-form"' in page.text
    # A typo keeps the page, with what was typed and the message beside the field.
    typo = client.post(
        "/sletning/samtykkeposter", data={"confirm": "SLTE", "code": "", "csrf_token": token}
    )
    assert typo.status_code == 400
    assert 'id="evidence-confirm-error"' in typo.text
    assert 'value="SLTE"' in typo.text
    # A wrong code keeps the page; nothing changes, the failure is recorded.
    wrong = client.post(
        "/sletning/samtykkeposter",
        data={"confirm": "SLET", "code": "000000", "csrf_token": token},
    )
    assert wrong.status_code == 400
    assert 'id="evidence-code-error"' in wrong.text
    assert "Koden er forkert" in wrong.text
    assert _evidence(ctx, own.organisation_id) == before
    assert [e.reason for e in own.events("login.step_up_failed")] == ["wrong code"]
    assert own.events("retention.evidence_deleted") == []

    clock.advance(timedelta(seconds=30))
    done = client.post(
        "/sletning/samtykkeposter",
        data={"confirm": "SLET", "code": current_code(controller, clock), "csrf_token": token},
    )
    assert done.status_code == 200, done.text
    assert 'id="evidence-done"' in done.text
    assert _evidence(ctx, own.organisation_id) == [0, 0, 0]
    assert _evidence(ctx, other.organisation_id) == theirs
    [record] = own.events("retention.evidence_deleted")
    assert record.organisation_id == controller.organisation_id
    assert record.actor_user_id == controller.user_id
    assert len(own.events("retention.evidence_dry_run")) >= 3


def test_the_pilot_end_page_says_what_is_kept_and_until_when(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    organisation_with_evidence(ctx, clock, "Region Midtjylland")
    controller = enrolled_person(ctx, "data_controller")
    log_in(client, controller, clock)
    page = client.get("/sletning").text
    until = f"{ALLOWED - timedelta(days=1):%d-%m-%Y}"
    for line in (
        f"<td>Samtykkeregistreringer (uden identitet)</td><td>3</td><td>{until}</td>",
        f"<td>Videregivelser til registerejere og resultatbetalere (uden identitet)</td>"
        f"<td>1</td><td>{until}</td>",
        f"<td>Udtræksanmodninger med signerede manifester</td><td>1</td><td>{until}</td>",
        f"<td>Opbevaringshistorik for papiroriginaler</td><td>1</td><td>{until}</td>",
        "<td>Sletningsposter i auditloggen (uden personoplysninger)</td><td>3</td>",
    ):
        assert line in page
    assert "endnu ikke er registreret som makuleret: 3" in page
    assert "skal makuleres fysisk" in page
    assert 'id="evidence-not-yet"' in page
    assert "Borgernes oplysninger skal først slettes" in page

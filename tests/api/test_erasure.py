"""Erasure of one citizen (issue 17): a navigator (or the DPO) proposes with a reason after
the dry run, a data controller of the organisation who is not the proposer approves with a
fresh code, and the crypto-shredding deletion runs in the same transaction. Tried as the
newcomer (a form mistake keeps the form, nothing changes) and as the attacker (another
organisation's ids, the proposer deciding, a wrong or replayed code, the CPR search after
the erasure, the application login changing consent evidence)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from html import escape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from consent_service.audit.models import AuditEvent, AuditPending
from consent_service.audit.recorder import SYSTEM
from consent_service.citizens.models import Citizen, CitizenKey
from consent_service.clock import FixedClock
from consent_service.consents.models import Consent, ConsentEvent
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.deletion.erasure_models import ErasureProposal
from consent_service.deletion.service import delete_citizen, deletion_ledger
from consent_service.identity.models import User
from tests.conftest import Person, current_code, enrolled_person, log_in
from tests.factories import synthetic_cpr
from tests.scenario import Pilot

SIGNED = date(2027, 3, 1)
NAME = "Ayşe Yılmaz"


def _as(client: TestClient, person: Person, clock: FixedClock) -> str:
    client.cookies.clear()
    return log_in(client, person, clock)


def _fresh(person: Person, clock: FixedClock) -> str:
    clock.advance(timedelta(seconds=30))
    return current_code(person, clock)


def _citizen(ctx: AppContext, clock: FixedClock, *, withdrawn: bool = False) -> tuple[str, str]:
    """A referred citizen with a signed wellbeing consent (on paper): (public id, CPR)."""
    pilot = Pilot.start(ctx, clock)
    pilot.at(SIGNED)
    cpr = synthetic_cpr(date(1968, 8, 8), 2345)
    pid = pilot.citizen(name=NAME, cpr=cpr)
    pilot.refer(pid, SIGNED)
    consent = pilot.sign(pid, "wellbeing", SIGNED)
    if withdrawn:
        pilot.withdraw(pid, consent, SIGNED)
    return pid, cpr


def _propose(
    client: TestClient, token: str, pid: str, reason: str = "referred_by_mistake", note: str = ""
):  # type: ignore[no-untyped-def]
    return client.post(
        f"/borgere/{pid}/sletning", data={"reason": reason, "note": note, "csrf_token": token}
    )


def _proposals(ctx: AppContext) -> list[ErasureProposal]:
    with ctx.sessions() as s:
        return list(s.scalars(select(ErasureProposal).order_by(ErasureProposal.id)).all())


def _row(ctx: AppContext, pid: str) -> Citizen:
    with ctx.sessions() as s:
        found = s.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert found is not None
        return found


def _actions(ctx: AppContext, prefix: str) -> list[str]:
    with ctx.sessions() as s:
        sealed = s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
        staged = s.scalars(select(AuditPending.action).order_by(AuditPending.id)).all()
        return [a for a in [*sealed, *staged] if a.startswith(prefix)]


def _proposed(
    ctx: AppContext, client: TestClient, clock: FixedClock, pid: str, **kw: str
) -> tuple[Person, str]:
    nav = enrolled_person(ctx, "navigator")
    token = _as(client, nav, clock)
    r = _propose(client, token, pid, **kw)
    assert r.status_code == 303, r.text
    return nav, _proposals(ctx)[-1].public_id


def test_a_citizen_referred_by_mistake_is_erased_when_a_data_controller_approves(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pid, cpr = _citizen(ctx, clock)
    nav = enrolled_person(ctx, "navigator")
    token = _as(client, nav, clock)
    page = client.get(f"/borgere/{pid}").text
    assert f'href="/borgere/{pid}/sletning"' in page

    # The dry run before proposing: rows per category, what is kept and why.
    dry = client.get(f"/borgere/{pid}/sletning")
    assert dry.status_code == 200
    assert "Prøvekørsel: det ville blive slettet" in dry.text
    assert 'Scannede samtykkeerklæringer</td><td data-title="Antal">1' in dry.text
    assert "art. 7, stk. 1" in dry.text
    assert "1 samtykkeregistrering(er)" in dry.text
    assert "Blanket " in dry.text  # the signed original to shred
    assert NAME not in dry.text
    assert escape(NAME) not in dry.text
    assert _proposals(ctx) == []

    r = _propose(client, token, pid, note="Forkert CPR på henvisningen")
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/borgere/{pid}/sletning?besked=erasure-proposed"
    assert "Afventer godkendelse" in client.get(r.headers["location"]).text
    (proposal,) = _proposals(ctx)
    assert proposal.status == "proposed"
    assert proposal.note_sealed is not None
    assert b"Forkert CPR" not in proposal.note_sealed
    assert _row(ctx, pid).deleted_at is None

    dc = enrolled_person(ctx, "data_controller")
    dc_token = _as(client, dc, clock)
    listing = client.get("/sletning/borgere")
    assert listing.status_code == 200
    assert proposal.public_id in listing.text
    assert "Henvist ved en fejl" in listing.text
    view = client.get(f"/sletning/borgere/{proposal.public_id}")
    assert "Forkert CPR på henvisningen" in view.text  # the note, opened for the decider
    assert "Godkend og slet borgeren" in view.text

    r = client.post(
        f"/sletning/borgere/{proposal.public_id}/godkend",
        data={
            "code": _fresh(dc, clock),
            "comment": "Bekræftet med praksis",
            "csrf_token": dc_token,
        },
    )
    assert r.status_code == 303, r.text
    done = client.get(r.headers["location"])
    assert "Borgeren er slettet" in done.text
    assert "Sletningen er godkendt og gennemført" in done.text
    assert "Det er slettet" in done.text
    assert "Det bevares, og hvorfor" in done.text
    assert "Borgerens oplysninger er ikke videregivet." in done.text
    assert cpr not in done.text
    assert escape(NAME) not in done.text
    assert "Forkert CPR" not in done.text  # the note went with the key

    row = _row(ctx, pid)
    assert row.deleted_at is not None
    assert row.cpr_index is None
    assert row.name_sealed is None
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(CitizenKey).where(
            CitizenKey.citizen_id == row.id)) == 0  # fmt: skip
        consents = s.scalars(select(Consent).where(Consent.citizen_id == row.id)).all()
        assert len(consents) == 1
        assert consents[0].decision == "given"
        kept = s.scalar(select(ErasureProposal).where(ErasureProposal.id == proposal.id))
        assert kept is not None
        assert kept.status == "carried_out"
        assert kept.note_sealed is None
        assert kept.decided_by == dc.user_id
        assert kept.decision_comment == "Bekræftet med praksis"
        assert json.loads(kept.deleted_rows or "{}")["citizen_identity"] == 1
    assert _actions(ctx, "erasure.") == ["erasure.proposed", "erasure.approved"]
    with ctx.sessions() as s:
        deleted = s.scalars(select(AuditEvent).where(AuditEvent.action == "citizen.deleted")).all()
        staged = s.scalars(
            select(AuditPending).where(AuditPending.action == "citizen.deleted")
        ).all()
        details = [json.loads(e.details) for e in [*deleted, *staged]]
    assert [d["rule"] for d in details] == ["erasure_referred_by_mistake"]
    assert all(cpr not in json.dumps(d) and NAME not in json.dumps(d) for d in details)

    # The attacker's test: the CPR search no longer finds the citizen; the page is gone.
    token = _as(client, nav, clock)
    search = client.post("/borgere/soeg", data={"cpr": cpr, "csrf_token": token})
    assert search.status_code == 404
    assert client.get(f"/borgere/{pid}").status_code == 404
    assert client.get(f"/borgere/{pid}/sletning").status_code == 404
    # The signed original now waits on the worklist, without a name.
    worklist = client.get("/arbejdsliste").text
    assert "Originaler der skal makuleres (1)" in worklist
    assert "Slettet borger" in worklist


def test_the_dpo_proposes_an_erasure_after_withdrawal(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pid, _ = _citizen(ctx, clock, withdrawn=True)
    dpo = enrolled_person(ctx, "dpo")
    token = _as(client, dpo, clock)
    dry = client.get(f"/borgere/{pid}/sletning")
    assert dry.status_code == 200
    assert "tilbage til borgeren" not in dry.text
    r = _propose(client, token, pid, reason="erasure_request_after_withdrawal")
    assert r.status_code == 303, r.text
    (proposal,) = _proposals(ctx)
    assert proposal.reason == "erasure_request_after_withdrawal"
    assert proposal.proposed_by == dpo.user_id


def test_erasure_after_withdrawal_needs_the_withdrawal_first(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pid, _ = _citizen(ctx, clock)
    token = _as(client, enrolled_person(ctx, "navigator"), clock)
    r = _propose(client, token, pid, reason="erasure_request_after_withdrawal", note="Ringede")
    assert r.status_code == 409
    assert "Registrér tilbagekaldelsen først" in r.text
    assert "Ringede</textarea>" in r.text
    assert _proposals(ctx) == []


@pytest.mark.parametrize(
    ("reason", "note", "message"),
    [
        ("", "Borgeren ringede", "Vælg, hvorfor borgeren skal slettes."),
        ("everything", "Borgeren ringede", "Vælg, hvorfor borgeren skal slettes."),
        ("referred_by_mistake", "x" * 1001, "Noten må højst have 1000 tegn."),
    ],
)
def test_a_form_mistake_keeps_the_form_and_changes_nothing(
    ctx: AppContext, client: TestClient, clock: FixedClock, reason: str, note: str, message: str
) -> None:
    pid, _ = _citizen(ctx, clock)
    token = _as(client, enrolled_person(ctx, "navigator"), clock)
    r = _propose(client, token, pid, reason=reason, note=note)
    assert r.status_code == 400
    assert message in r.text
    assert "Der er et problem" in r.text
    assert f"{note}</textarea>" in r.text
    assert _proposals(ctx) == []
    assert _actions(ctx, "erasure.") == []


def test_another_organisations_proposal_is_not_found_and_nothing_changes(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pid, _ = _citizen(ctx, clock)
    _, proposal = _proposed(ctx, client, clock, pid)
    stranger = enrolled_person(ctx, "data_controller", org_name="Norddjurs Kommune")
    token = _as(client, stranger, clock)
    unknown = "0" * 32
    for target in (proposal, unknown):
        assert client.get(f"/sletning/borgere/{target}").status_code == 404
        r = client.post(
            f"/sletning/borgere/{target}/godkend",
            data={"code": _fresh(stranger, clock), "csrf_token": token},
        )
        assert r.status_code == 404
        r = client.post(
            f"/sletning/borgere/{target}/afvis", data={"comment": "Nej", "csrf_token": token}
        )
        assert r.status_code == 404
    assert proposal not in client.get("/sletning/borgere").text
    # Nor may a stranger's navigator propose for the citizen.
    nav = enrolled_person(ctx, "navigator", org_name="Norddjurs Kommune")
    token = _as(client, nav, clock)
    assert client.get(f"/borgere/{pid}/sletning").status_code == 404
    assert _propose(client, token, pid).status_code == 404
    (row,) = _proposals(ctx)
    assert row.status == "proposed"
    assert _row(ctx, pid).deleted_at is None


def test_the_proposer_cannot_approve_their_own_proposal(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    """A navigator who proposed and later became a data controller (a role change) still
    cannot decide their own proposal: the policy's not_self, audited as a denial."""
    pid, _ = _citizen(ctx, clock)
    nav, proposal = _proposed(ctx, client, clock, pid)
    with session_scope(ctx.sessions) as s:
        user = s.get(User, nav.user_id)
        assert user is not None
        user.role = "data_controller"
    nav.role = "data_controller"
    token = _as(client, nav, clock)
    page = client.get(f"/sletning/borgere/{proposal}")
    assert page.status_code == 200
    assert "Du kan ikke selv godkende dit forslag" in page.text
    assert "Godkend og slet borgeren" not in page.text
    r = client.post(
        f"/sletning/borgere/{proposal}/godkend",
        data={"code": _fresh(nav, clock), "csrf_token": token},
    )
    assert r.status_code == 403
    r = client.post(
        f"/sletning/borgere/{proposal}/afvis", data={"comment": "Nej", "csrf_token": token}
    )
    assert r.status_code == 403
    assert _proposals(ctx)[0].status == "proposed"
    assert _row(ctx, pid).deleted_at is None
    with ctx.sessions() as s:
        denials = s.scalars(
            select(AuditEvent.reason).where(
                AuditEvent.action == "access.denied", AuditEvent.actor_user_id == nav.user_id
            )
        ).all()
        denials = [*denials, *s.scalars(
            select(AuditPending.reason).where(
                AuditPending.action == "access.denied", AuditPending.actor_user_id == nav.user_id
            )
        ).all()]  # fmt: skip
    assert len(denials) == 2
    assert all("not_self" in (d or "") for d in denials)


def test_a_wrong_or_replayed_code_keeps_the_page_and_erases_nothing(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pid, _ = _citizen(ctx, clock)
    _, proposal = _proposed(ctx, client, clock, pid)
    dc = enrolled_person(ctx, "data_controller")
    token = _as(client, dc, clock)
    replayed = current_code(dc, clock)  # the code the login just used
    for code, message in (
        ("000000", "Koden er forkert eller allerede brugt"),
        (replayed, "Koden er forkert eller allerede brugt"),
        ("", "Skriv en ny kode fra din godkender-app."),
    ):
        r = client.post(
            f"/sletning/borgere/{proposal}/godkend",
            data={"code": code, "comment": "Ok", "csrf_token": token},
        )
        assert r.status_code == 400, code
        assert message in r.text
        assert "Ok</textarea>" in r.text
    assert _proposals(ctx)[0].status == "proposed"
    assert _row(ctx, pid).deleted_at is None
    # A forgotten code is named, not counted toward the lock; the two wrong ones are.
    assert _actions(ctx, "login.step_up_failed") == ["login.step_up_failed"] * 2
    assert _actions(ctx, "erasure.approved") == []


def test_a_rejection_needs_a_comment_and_deletes_nothing(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pid, _ = _citizen(ctx, clock)
    _, proposal = _proposed(ctx, client, clock, pid)
    token = _as(client, enrolled_person(ctx, "data_controller"), clock)
    r = client.post(
        f"/sletning/borgere/{proposal}/afvis", data={"comment": " ", "csrf_token": token}
    )
    assert r.status_code == 400
    assert "Skriv, hvorfor forslaget afvises." in r.text
    r = client.post(
        f"/sletning/borgere/{proposal}/afvis",
        data={"comment": "Borgeren er i målgruppen", "csrf_token": token},
    )
    assert r.status_code == 303
    (row,) = _proposals(ctx)
    assert row.status == "rejected"
    assert row.decision_comment == "Borgeren er i målgruppen"
    assert _row(ctx, pid).deleted_at is None
    # Decided: a later approval is refused, nothing changes.
    r = client.post(
        f"/sletning/borgere/{proposal}/godkend",
        data={"code": _fresh(enrolled_person(ctx, "data_controller"), clock), "csrf_token": token},
    )
    assert r.status_code in (400, 409)
    assert _row(ctx, pid).deleted_at is None


def test_a_second_open_proposal_is_closed_when_the_first_is_carried_out(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pid, _ = _citizen(ctx, clock, withdrawn=True)
    _, first = _proposed(ctx, client, clock, pid)
    _, second = _proposed(ctx, client, clock, pid, reason="erasure_request_after_withdrawal")
    dc = enrolled_person(ctx, "data_controller")
    token = _as(client, dc, clock)
    r = client.post(
        f"/sletning/borgere/{second}/godkend",
        data={"code": _fresh(dc, clock), "csrf_token": token},
    )
    assert r.status_code == 303
    statuses = {p.public_id: p.status for p in _proposals(ctx)}
    assert statuses == {first: "cancelled", second: "carried_out"}
    r = client.post(
        f"/sletning/borgere/{first}/godkend", data={"code": _fresh(dc, clock), "csrf_token": token}
    )
    assert r.status_code == 409
    assert "Forslaget er annulleret." in r.text
    assert _actions(ctx, "erasure.") == [
        "erasure.proposed", "erasure.proposed", "erasure.approved", "erasure.cancelled"
    ]  # fmt: skip


def test_the_deletion_ledger_names_the_erasure_rule(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pid, _ = _citizen(ctx, clock)
    _, proposal = _proposed(ctx, client, clock, pid)
    dc = enrolled_person(ctx, "data_controller")
    token = _as(client, dc, clock)
    r = client.post(
        f"/sletning/borgere/{proposal}/godkend",
        data={"code": _fresh(dc, clock), "csrf_token": token},
    )
    assert r.status_code == 303
    with ctx.sessions() as s:
        ledger = deletion_ledger(s)
    assert [(e.kind, e.citizen, e.rule) for e in ledger] == [
        ("citizen", pid, "erasure_referred_by_mistake")
    ]


def test_the_application_login_cannot_change_the_kept_consent_evidence(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    """After an erasure the consent rows stay as evidence; the application's own database
    login (what an SQL injection would use) can neither change nor delete them, nor delete
    the erasure's record."""
    if ctx.engine.dialect.name != "postgresql":
        pytest.skip("least privilege is PostgreSQL's: SQLite has no logins")
    pid, _ = _citizen(ctx, clock)
    _, proposal = _proposed(ctx, client, clock, pid)
    dc = enrolled_person(ctx, "data_controller")
    token = _as(client, dc, clock)
    client.post(
        f"/sletning/borgere/{proposal}/godkend",
        data={"code": _fresh(dc, clock), "csrf_token": token},
    )
    for statement in (
        "UPDATE consent SET decision = 'refused'",
        "DELETE FROM consent_event",
        "DELETE FROM erasure_proposal",
    ):
        with pytest.raises(DBAPIError) as refused, ctx.engine.begin() as conn:
            conn.execute(text(statement))
        assert getattr(refused.value.orig, "sqlstate", None) == "42501", statement
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Consent)) == 1
        assert s.scalar(select(func.count()).select_from(ConsentEvent)) >= 0


def test_any_deletion_of_the_citizen_empties_an_open_proposal_s_note(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    """The pilot-end deletion (or a restore's) empties the sealed notes too; the open
    proposal can then no longer be approved."""
    pid, _ = _citizen(ctx, clock)
    _, proposal = _proposed(ctx, client, clock, pid, note="Ringede den 3. marts")
    with session_scope(ctx.sessions) as s:
        citizen = s.scalar(select(Citizen).where(Citizen.public_id == pid))
        assert citizen is not None
        delete_citizen(s, ctx.deps, SYSTEM, citizen, rule="pilot_end")
    (row,) = _proposals(ctx)
    assert row.note_sealed is None
    dc = enrolled_person(ctx, "data_controller")
    token = _as(client, dc, clock)
    page = client.get(f"/sletning/borgere/{proposal}")
    assert page.status_code == 200
    assert "Ringede" not in page.text
    r = client.post(
        f"/sletning/borgere/{proposal}/godkend",
        data={"code": _fresh(dc, clock), "csrf_token": token},
    )
    assert r.status_code == 409
    assert "Borgeren er allerede slettet." in r.text


def test_the_dpo_reaches_the_proposal_from_the_log_filtered_by_cpr(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    pid, cpr = _citizen(ctx, clock)
    token = _as(client, enrolled_person(ctx, "dpo"), clock)
    r = client.post("/dpo/log/borger", data={"cpr": cpr, "csrf_token": token})
    assert r.status_code == 303
    log = client.get(r.headers["location"]).text
    assert f'href="/borgere/{pid}/sletning" id="erasure-link"' in log
    assert client.get(f"/borgere/{pid}/sletning").status_code == 200

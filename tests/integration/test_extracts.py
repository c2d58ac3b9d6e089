"""Extracts end to end on a seeded cohort: the gate includes exactly the citizens whose
journal consent covers the execution day (checked against the legal rules in Python for
every citizen), gives the reasons for the rest as counts, writes a signed manifest that an
outside verifier accepts and that fails when any byte changes, records the data as
obtained, limits downloads, and deletes the files on schedule."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from consent_service.audit.recorder import Actor
from consent_service.citizens.models import Citizen
from consent_service.clock import FixedClock
from consent_service.consents import rules
from consent_service.consents import service as consents
from consent_service.consents.active import states_of
from consent_service.consents.catalogue import catalogue
from consent_service.consents.models import ConsentEvent
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.errors import RuleRefusal
from consent_service.extracts import (
    coverage,
    downloads,
    execution,
    gate,
    gate_query,
    repository,
    requests,
)
from consent_service.extracts.models import ExtractChunk, ExtractRequest
from consent_service.worker.runner import run_due
from tests.conftest import enrolled_person
from tests.coverage_support import pseudonym_of
from tests.factories import synthetic_cpr
from tests.scenario import Pilot

VERIFY = Path(__file__).resolve().parents[2] / "audit" / "verify_extract.py"
REFERRED = date(2026, 11, 2)
DAY = date(2027, 11, 5)  # the execution day


@dataclass
class Seeded:
    pilot: Pilot
    requester: Actor
    approver: Actor
    cprs: dict[str, str]  # label -> CPR
    pids: dict[str, str]  # label -> citizen public id
    consents: dict[str, str]  # label -> journal consent public id


def _actor(ctx: AppContext) -> Actor:
    p = enrolled_person(ctx, "data_controller")
    return Actor(user_id=p.user_id, username=p.username, organisation_id=p.organisation_id)


@pytest.fixture
def seeded(ctx: AppContext, clock: FixedClock) -> Seeded:
    pilot = Pilot.start(ctx, clock)
    s = Seeded(pilot, _actor(ctx), _actor(ctx), {}, {}, {})
    pilot.at(REFERRED)

    def citizen(label: str, cpr: str | None = None) -> str:
        s.cprs[label] = cpr or synthetic_cpr(date(1960, 1, 1) + timedelta(days=len(s.cprs)), 3)
        s.pids[label] = pilot.citizen(cpr=s.cprs[label], name=f"Borger {label}")
        pilot.refer(s.pids[label], REFERRED)
        return s.pids[label]

    citizen("covered")
    s.consents["covered"] = pilot.sign(s.pids["covered"], "journal", date(2026, 11, 10))
    citizen("expired_yesterday")  # valid until 4 November 2027, the day before
    s.consents["expired_yesterday"] = pilot.sign(
        s.pids["expired_yesterday"], "journal", date(2026, 11, 5)
    )
    citizen("not_in_journal")
    pilot.at(date(2026, 11, 10))
    from consent_service.consents import printed
    from consent_service.consents import service as consents

    with session_scope(ctx.sessions) as session:
        c = session.scalar(select(Citizen).where(Citizen.public_id == s.pids["not_in_journal"]))
        assert c is not None
        form, _ = printed.print_form(session, ctx.deps, pilot.actor, c, "journal")
        from tests.factories import tiny_png

        consents.record_signed(
            session, ctx.deps, pilot.actor, c, "journal", form_id=form.form_id,
            signed_on=date(2026, 11, 10), witness="Navigatør", scan=tiny_png(),
        )  # fmt: skip
    citizen("withdrawn")
    s.consents["withdrawn"] = pilot.sign(s.pids["withdrawn"], "journal", date(2026, 11, 10))
    pilot.withdraw(s.pids["withdrawn"], s.consents["withdrawn"], date(2027, 1, 10))
    citizen("no_consent")
    citizen("wellbeing_only")
    pilot.sign(s.pids["wellbeing_only"], "wellbeing", date(2026, 11, 12))
    citizen("renewed")  # an expired consent and a newer covering one
    pilot.sign(s.pids["renewed"], "journal", date(2026, 11, 3))
    s.consents["renewed"] = pilot.sign(s.pids["renewed"], "journal", date(2027, 10, 1))
    citizen("under_18", cpr="030310-4007")
    # Outside the cohort: another organisation's citizen with a covering consent.
    other = Pilot.start(ctx, clock, org_name="Norddjurs Kommune")
    other.at(date(2026, 11, 12))
    stranger = other.citizen(cpr=synthetic_cpr(date(1955, 5, 5), 5))
    other.refer(stranger, date(2026, 11, 12))
    other.sign(stranger, "journal", date(2026, 11, 12))
    return s


def _request(s: Seeded, **changes: object) -> ExtractRequest:
    ctx = s.pilot.ctx
    fields: dict[str, object] = {
        "purpose": "payment_goal_1_regional", "sources": ["sygesikring", "hospital"],
        "fields": ["gp_contacts", "acute_contacts"], "cohort": "hold-2",
        "measurement_years": 2, "planned_on": DAY, **changes,
    }  # fmt: skip
    data = requests.DraftInput(**fields)  # type: ignore[arg-type]
    with session_scope(ctx.sessions) as session:
        return requests.draft(
            session, ctx.deps, s.requester, s.requester.organisation_id or 0, data
        )


def _approve(s: Seeded, req: ExtractRequest) -> None:
    with session_scope(s.pilot.ctx.sessions) as session:
        row = requests.request_in_organisation(session, req.organisation_id, req.public_id)
        requests.decide(session, s.pilot.ctx.deps, s.approver, row, approve=True, comment="ok")


def _execute(s: Seeded, req: ExtractRequest, actor: Actor | None = None) -> dict[str, object]:
    with session_scope(s.pilot.ctx.sessions) as session:
        row = requests.request_in_organisation(session, req.organisation_id, req.public_id)
        return execution.execute_request(session, s.pilot.ctx.deps, actor or s.requester, row)


def _download(s: Seeded, req: ExtractRequest, actor: Actor | None = None) -> bytes:
    with session_scope(s.pilot.ctx.sessions) as session:
        row = requests.request_in_organisation(session, req.organisation_id, req.public_id)
        return downloads.download(session, s.pilot.ctx.deps, actor or s.requester, row)


def test_the_gate_agrees_with_the_legal_rules_for_every_citizen(
    seeded: Seeded, ctx: AppContext
) -> None:
    kind = catalogue().kinds["journal"]
    with ctx.sessions() as session:
        rows = session.execute(
            gate_query.gate(seeded.requester.organisation_id or 0, "hold-2", "journal", DAY)
        ).all()
        assert {r.public_id for r in rows} == set(seeded.pids.values())
        for row in rows:
            states = states_of(session, row.citizen_id, "journal")
            covered = any(rules.consent_covers(st.facts, kind, DAY).covered for st in states)
            assert (row.reason == gate.COVERED) == (
                covered and row.public_id != seeded.pids["under_18"]
            )
    reasons = {r.public_id: r.reason for r in rows}
    expected = {
        "covered": "covered", "renewed": "covered", "expired_yesterday": "expired",
        "not_in_journal": "not_entered_in_journal", "withdrawn": "withdrawn",
        "no_consent": "no_consent", "wellbeing_only": "no_consent", "under_18": "under_18",
    }  # fmt: skip
    assert {label: reasons[pid] for label, pid in seeded.pids.items()} == expected


def test_four_eyes_planned_day_manifest_and_obtained_data(
    seeded: Seeded, ctx: AppContext, tmp_path: Path
) -> None:
    req = _request(seeded)
    with session_scope(ctx.sessions) as session, pytest.raises(RuleRefusal, match="selv godkende"):
        requests.decide(session, ctx.deps, seeded.requester,
                        requests.request_in_organisation(
                            session, req.organisation_id, req.public_id),
                        approve=True, comment="")  # fmt: skip
    with pytest.raises(RuleRefusal, match="godkendt"):
        _execute(seeded, req)
    _approve(seeded, req)
    seeded.pilot.at(DAY - timedelta(days=1))
    with pytest.raises(RuleRefusal, match="først udføres"):
        _execute(seeded, req)
    seeded.pilot.at(DAY)
    manifest = _execute(seeded, req)
    assert manifest["included"] == 2
    assert manifest["excluded"] == {
        "expired": 1, "no_consent": 2, "not_entered_in_journal": 1, "under_18": 1, "withdrawn": 1,
    }  # fmt: skip
    assert manifest["measurement"] == "Hold 2:2"
    assert manifest["approved_by"] == seeded.approver.user_id
    assert [f["name"] for f in manifest["files"]] == ["hospital.csv", "sygesikring.csv"]
    text = json.dumps(manifest, ensure_ascii=False)
    for label, cpr in seeded.cprs.items():
        assert cpr not in text
        assert f"Borger {label}" not in text
    # The stored chunks hold no CPR in clear.
    with ctx.sessions() as session:
        blob = b"".join(session.scalars(select(ExtractChunk.content_sealed)).all())
    assert seeded.cprs["covered"].replace("-", "").encode() not in blob

    archive = _download(seeded, req)
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        lines = zf.read("sygesikring.csv").decode().splitlines()
    assert lines[0] == "cpr;pseudonym;period_from;period_to"
    cprs = sorted(line.split(";")[0] for line in lines[1:])
    assert cprs == sorted(seeded.cprs[k].replace("-", "") for k in ("covered", "renewed"))
    assert all(line.endswith(f";2024-11-02;{DAY.isoformat()}") for line in lines[1:])

    # The data counts as obtained today under the covering consents, and only those.
    with ctx.sessions() as session:
        obtained = session.execute(
            select(ConsentEvent.consent_id, ConsentEvent.occurred_on).where(
                ConsentEvent.event_type == "data_obtained"
            )
        ).all()
    assert len(obtained) == 2
    assert {d for _, d in obtained} == {DAY}

    # The outside verifier accepts the archive and refuses any changed byte.
    path = tmp_path / "udtraek.zip"
    path.write_bytes(archive)
    key = tmp_path / "key.pem"
    key.write_text(ctx.crypto.public_key_pem())
    ok = subprocess.run([sys.executable, str(VERIFY), str(path), "--public-key", str(key)],
                        capture_output=True, text=True, check=False)  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith(f"OK: extract {req.public_id} (Hold 2:2), 2 citizens, 2 files")
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    for name, change in (("hospital.csv", b"0"), ("manifest.json", b"3")):
        altered = bytearray(members[name])
        altered[-3] = change[0] if altered[-3] != change[0] else ord("9")
        bad = tmp_path / f"bad-{name}.zip"
        with zipfile.ZipFile(bad, "w") as zf:
            for n, data in members.items():
                zf.writestr(n, bytes(altered) if n == name else data)
        result = subprocess.run([sys.executable, str(VERIFY), str(bad), "--public-key", str(key)],
                                capture_output=True, text=True, check=False)  # fmt: skip
        assert result.returncode in (1, 2), name
        assert "FAIL" in result.stdout or "cannot read" in result.stderr


def test_withdrawal_after_execution_keeps_obtained_data_but_blocks_the_next(
    seeded: Seeded, ctx: AppContext
) -> None:
    first = _request(seeded)
    _approve(seeded, first)
    seeded.pilot.at(DAY)
    assert _execute(seeded, first)["included"] == 2
    seeded.pilot.withdraw(
        seeded.pids["covered"], seeded.consents["covered"], DAY + timedelta(days=1)
    )
    with ctx.sessions() as session:
        [state] = list(states_of(session, _cid(session, seeded.pids["covered"]), "journal"))
    journal = catalogue().kinds["journal"]
    assert state.facts.data_obtained_on == DAY
    assert rules.consent_covers(state.facts, journal, DAY).covered  # lawfully obtained then
    before = dataclasses.replace(state.facts, withdrawn_on=None)
    effect = rules.can_withdraw(before, journal, DAY + timedelta(days=1))
    assert effect.data_already_obtained
    assert effect.outcome is rules.WithdrawalOutcome.STOPS_FURTHER_USE
    second = _request(seeded, planned_on=DAY + timedelta(days=2))
    _approve(seeded, second)
    seeded.pilot.at(DAY + timedelta(days=2))
    manifest = _execute(seeded, second)
    assert manifest["included"] == 1
    assert manifest["excluded"]["withdrawn"] == 2  # type: ignore[index]
    # The first extract's files are untouched by the withdrawal.
    with ctx.sessions() as session:
        row = requests.request_in_organisation(session, first.organisation_id, first.public_id)
        assert json.loads(row.manifest or "{}")["included"] == 2


@pytest.fixture
def postgresql_only(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers already: every transaction begins IMMEDIATE")


def _until(condition: Callable[[], bool], done: threading.Event) -> None:
    """Wait until ``done`` is set or ``condition`` holds (a bounded poll, not a timing)."""
    for _ in range(3000):
        if done.wait(0.01) or condition():
            return
    raise AssertionError("neither happened")


def test_a_withdrawal_during_an_execution_waits_and_is_told_data_was_obtained(
    postgresql_only: None, seeded: Seeded, ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The execution has read the gate (its snapshot includes the citizen) and not yet
    recorded data_obtained when the withdrawal comes in: the withdrawal must not be told
    that nothing was obtained while the extract holds the citizen's data."""
    req = _request(seeded)
    _approve(seeded, req)
    seeded.pilot.at(DAY)
    gate_read, resume = threading.Event(), threading.Event()
    record_obtained = repository.record_obtained

    def paused(*args: object, **kwargs: object) -> None:
        gate_read.set()
        assert resume.wait(60)
        record_obtained(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(repository, "record_obtained", paused)
    results: dict[str, object] = {}
    withdrawal_began, withdrawal_done = threading.Event(), threading.Event()

    def execute() -> None:
        try:
            results["manifest"] = _execute(seeded, req)
        except BaseException as exc:
            results["execute failed"] = exc
            gate_read.set()

    def withdraw() -> None:
        try:
            with session_scope(ctx.sessions) as session:
                results["pid"] = session.scalar(text("SELECT pg_backend_pid()"))
                withdrawal_began.set()
                citizen = session.scalar(
                    select(Citizen).where(Citizen.public_id == seeded.pids["covered"])
                )
                assert citizen is not None
                consent = consents.get_consent(session, citizen, seeded.consents["covered"])
                results["effect"] = consents.withdraw(
                    session, ctx.deps, seeded.pilot.actor, citizen, consent, DAY, "phone"
                )
        except BaseException as exc:
            results["withdraw failed"] = exc
        finally:
            withdrawal_began.set()
            withdrawal_done.set()

    def withdrawal_waits_for_a_lock() -> bool:
        with ctx.engine.connect() as conn:
            return bool(
                conn.scalar(
                    text("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = :pid AND NOT granted)"),
                    {"pid": results["pid"]},
                )
            )

    executing = threading.Thread(target=execute)
    executing.start()
    assert gate_read.wait(60)
    withdrawing = threading.Thread(target=withdraw)
    withdrawing.start()
    assert withdrawal_began.wait(60)
    _until(withdrawal_waits_for_a_lock, withdrawal_done)
    resume.set()
    executing.join(60)
    withdrawing.join(60)
    assert "execute failed" not in results, results
    assert "withdraw failed" not in results, results

    manifest = results["manifest"]
    effect = results["effect"]
    assert isinstance(manifest, dict)
    assert isinstance(effect, rules.WithdrawalEffect)
    assert manifest["included"] == 2  # the citizen is in the extract...
    assert effect.data_already_obtained  # ...and the withdrawal says so
    assert effect.outcome is rules.WithdrawalOutcome.STOPS_FURTHER_USE
    with ctx.sessions() as session:
        [state] = list(states_of(session, _cid(session, seeded.pids["covered"]), "journal"))
    assert state.facts.data_obtained_on == DAY
    assert state.facts.withdrawn_on == DAY


def _cid(session: object, pid: str) -> int:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    cid = session.scalar(select(Citizen.id).where(Citizen.public_id == pid))
    assert cid is not None
    return cid


def test_requests_outside_the_policy_are_refused_with_the_rule(seeded: Seeded) -> None:
    # The refusal names the rule in the page's Danish words, never a code or the rule file.
    with pytest.raises(RuleRefusal, match=r"Feltet 'Kommunal sygepleje' hører ikke til") as field:
        _request(seeded, fields=["home_nursing"])
    with pytest.raises(RuleRefusal, match=r"Kilden '[^']+' hører ikke til formålet") as source:
        _request(seeded, sources=["municipal"], fields=["home_nursing"])
    for refusal in (field, source):
        message = str(refusal.value)
        assert "home_nursing" not in message
        assert "municipal" not in message
        assert ".yaml" not in message
    with pytest.raises(RuleRefusal, match="højst 1 år"):
        _request(seeded, purpose="payment_goal_2_wellbeing", sources=["wellbeing"],
                 fields=["who5"], measurement_years=2)  # fmt: skip


def test_downloads_are_limited_to_two_people_three_times_fourteen_days(
    seeded: Seeded, ctx: AppContext
) -> None:
    req = _request(seeded)
    _approve(seeded, req)
    seeded.pilot.at(DAY)
    _execute(seeded, req)
    outsider = _actor(ctx)
    with pytest.raises(RuleRefusal, match="Kun den"):
        _download(seeded, req, outsider)
    _download(seeded, req)
    _download(seeded, req, seeded.approver)
    _download(seeded, req)
    with pytest.raises(RuleRefusal, match="3 gange"):
        _download(seeded, req)
    assert len(seeded.pilot.events("extract.downloaded")) == 3


def test_files_are_deleted_after_90_days_and_the_manifest_stays(
    seeded: Seeded, ctx: AppContext
) -> None:
    req = _request(seeded)
    _approve(seeded, req)
    seeded.pilot.at(DAY)
    _execute(seeded, req)
    seeded.pilot.at(DAY + timedelta(days=89))
    run_due(ctx.sessions, ctx.deps, worker="w1")
    with ctx.sessions() as session:
        assert session.scalars(select(ExtractChunk)).all() != []
    seeded.pilot.at(DAY + timedelta(days=90))
    run_due(ctx.sessions, ctx.deps, worker="w1")
    with ctx.sessions() as session:
        assert session.scalars(select(ExtractChunk)).all() == []
        row = requests.request_in_organisation(session, req.organisation_id, req.public_id)
        assert row.key_wrapped is None
        assert row.manifest is not None
        assert row.manifest_signature is not None
    assert len(seeded.pilot.events("extract.files_deleted")) == 1


def test_wellbeing_extract_holds_pseudonymised_scores_only(
    ctx: AppContext, clock: FixedClock
) -> None:
    pilot = Pilot.start(ctx, clock)
    pilot.at(REFERRED)
    cpr = synthetic_cpr(date(1966, 6, 6), 7)
    pid = pilot.citizen(cpr=cpr, name="Trivsel Borger")
    pilot.refer(pid, REFERRED)
    pilot.sign(pid, "wellbeing", date(2026, 11, 10))
    pilot.answer(pid, "baseline", date(2026, 11, 20), who5=[5, 4, 4, 3, 4], ls=8)
    pilot.answer(pid, "follow_up", date(2027, 6, 1), who5=[5, 5, 4, 4, 4], ls=9)
    no_answers = pilot.citizen(cpr=synthetic_cpr(date(1967, 7, 7), 7))
    pilot.refer(no_answers, REFERRED)
    pilot.sign(no_answers, "wellbeing", date(2026, 11, 10))
    s = Seeded(pilot, _actor(ctx), _actor(ctx), {}, {}, {})
    req = _request(s, purpose="payment_goal_2_wellbeing", sources=["wellbeing"],
                   fields=["who5", "life_satisfaction"], measurement_years=1,
                   planned_on=date(2027, 11, 20))  # fmt: skip
    _approve(s, req)
    pilot.at(date(2027, 11, 20))
    manifest = _execute(s, req)
    assert manifest["included"] == 1
    assert manifest["excluded"] == {"no_answers": 1}
    with zipfile.ZipFile(io.BytesIO(_download(s, req))) as zf:
        lines = zf.read("wellbeing.csv").decode().splitlines()
    assert lines[0] == "pseudonym;occasion;who5_raw;who5_percent;life_satisfaction"
    assert [line.split(";")[1:] for line in lines[1:]] == [
        ["baseline", "20", "80", "8"], ["follow_up", "22", "88", "9"],
    ]  # fmt: skip
    body = "\n".join(lines)
    assert cpr.replace("-", "") not in body
    assert pid not in body  # the pseudonym is keyed per extract, not the service's id


def test_coverage_plan_names_who_needs_a_new_consent_by_when(
    seeded: Seeded, ctx: AppContext
) -> None:
    seeded.pilot.at(date(2027, 6, 1))
    with ctx.sessions() as session:
        plan = coverage.coverage_plan(session, ctx.deps.crypto,
                                      seeded.requester.organisation_id or 0, "hold-2", 2,
                                      date(2028, 6, 30), date(2027, 6, 1))  # fmt: skip
    assert plan.measurement == "Hold 2:2"
    assert plan.in_cohort == 8
    assert plan.covered == 1  # only the consent renewed in October 2027 lasts until then
    assert plan.covered_now == 3  # covered, expired_yesterday and renewed's first consent
    assert plan.expire_before == 2
    assert plan.reconsent_by == [
        (pseudonym_of(ctx, seeded.pids["expired_yesterday"], "hold-2", 2), date(2027, 11, 4)),
        (pseudonym_of(ctx, seeded.pids["covered"], "hold-2", 2), date(2027, 11, 9)),
    ]

"""The legal adviser's rulebook (issue 17): the Regelsamling grouped by law, the sign-off
with a comment and a fresh code, and its lapse when a rule file, a scenario or a consent
text changes afterwards (in a copied rules folder: the real files are never touched)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from consent_service.app import create_app
from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import SYSTEM
from consent_service.clock import FixedClock, local_time
from consent_service.config import REPO_ROOT
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.identity.models import User
from consent_service.rulebook import book, service
from consent_service.rulebook.models import RulebookApproval, RulebookApprovedFile
from consent_service.rulebook.service import ScenarioOutcome
from tests.conftest import Person, current_code, enrolled_person, log_in, make_settings

RULE_FOLDERS = ("features", "policies", "retention", "templates")


@pytest.fixture
def rules_root(tmp_path: Path) -> Path:
    root = tmp_path / "rules"
    for folder in RULE_FOLDERS:
        shutil.copytree(REPO_ROOT / folder, root / folder)
    return root


@pytest.fixture
def rctx(
    db_url: str, test_keys: dict[str, str], clock: FixedClock, rules_root: Path
) -> Iterator[AppContext]:
    context = AppContext.build(make_settings(db_url, test_keys, rules_root=rules_root), clock)
    yield context
    context.engine.dispose()


@pytest.fixture
def rclient(rctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(rctx), follow_redirects=False) as c:
        yield c


def _as(client: TestClient, person: Person, clock: FixedClock) -> str:
    client.cookies.clear()
    return log_in(client, person, clock)


def _approve(
    client: TestClient, token: str, code: str, comment: str = "Gennemgået mod loven."
) -> object:
    return client.post(
        "/regelsamling/godkend", data={"csrf_token": token, "code": code, "comment": comment}
    )


def _fresh(person: Person, clock: FixedClock) -> str:
    from datetime import timedelta

    clock.advance(timedelta(seconds=30))
    return current_code(person, clock)


def _events(ctx: AppContext, action: str) -> list[AuditEvent]:
    with ctx.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_the_legal_adviser_reads_every_scenario_grouped_by_law(
    rctx: AppContext, rclient: TestClient, clock: FixedClock
) -> None:
    _as(rclient, enrolled_person(rctx, "legal_adviser"), clock)
    page = rclient.get("/regelsamling")
    assert page.status_code == 200
    text = page.text
    for law in ("Sundhedsloven § 42 d", "Sundhedsloven § 43", "Sundhedsloven § 44",
                "Databeskyttelsesforordningen art. 6", "Databeskyttelsesforordningen art. 7",
                "Databeskyttelsesforordningen art. 9", "Databeskyttelsesforordningen art. 15",
                "Databeskyttelsesforordningen art. 17", "Databeskyttelsesloven § 11",
                "Projektets egne regler"):  # fmt: skip
        assert f"<h2>{law}</h2>" in text, law
    # A feature under its first law, a scenario with its steps, an examples table.
    assert "Udtræk af registerdata til betalingsmåling" in text
    assert "Samtykket udløb dagen før udførelsen" in text
    assert "<strong>Så</strong> er borgeren ikke med i udtrækket" in text
    assert '<th scope="col">måling</th>' in text
    assert "<td>Hold 1:1</td>" in text
    # The rule files a scenario rests on, with a short SHA-256; nothing approved yet.
    assert '<span data-file="policies/extracts.yaml">Udtrækspolitikken</span>' in text
    assert 'id="never-approved"' in text
    assert 'id="approve-form"' in text
    assert "ikke godkendt" in text


def test_sign_off_with_comment_and_fresh_code_then_a_change_lapses_it(
    rctx: AppContext, rclient: TestClient, clock: FixedClock, rules_root: Path
) -> None:
    jurist = enrolled_person(rctx, "legal_adviser")
    token = _as(rclient, jurist, clock)
    r = _approve(rclient, token, _fresh(jurist, clock))
    assert r.status_code == 303, r.text[:500]
    assert r.headers["location"] == "/regelsamling?besked=rulebook-approved"
    page = rclient.get(r.headers["location"]).text
    assert 'id="in-force"' in page
    assert "Gennemgået mod loven." in page
    assert 'data-status="changed"' not in page
    assert 'data-status="approved"' in page
    [event] = _events(rctx, "rulebook.approved")
    assert event.outcome == "success"
    with rctx.sessions() as s:
        approval = s.scalars(select(RulebookApproval)).one()
        files = {f.path: f for f in s.scalars(select(RulebookApprovedFile))}
    assert approval.approved_by == jurist.user_id
    assert "features/udtraek.feature" in files
    assert "templates/consent/journal/da/v1.md" in files
    assert "policies/rulebook.yaml" in files
    assert files["policies/consents.yaml"].text == (
        rules_root / "policies/consents.yaml"
    ).read_text(encoding="utf-8")

    # A consent text and a policy change, a scenario changes, a file is added and one removed.
    template = rules_root / "templates/consent/journal/da/v1.md"
    template.write_text(
        template.read_text(encoding="utf-8") + "\nNy sætning <script>alert(1)</script>\n",
        encoding="utf-8",
    )
    cohorts = rules_root / "policies/cohorts.yaml"
    cohorts.write_text(cohorts.read_text(encoding="utf-8") + "\n# note\n", encoding="utf-8")
    feature = rules_root / "features/udtraek.feature"
    feature.write_text(
        feature.read_text(encoding="utf-8").replace(
            "Så er borgeren ikke med i udtrækket", "Så er borgeren stadig ikke med i udtrækket"
        ),
        encoding="utf-8",
    )
    (rules_root / "templates/consent/journal/da/v2.md").write_text("Udkast\n", encoding="utf-8")
    (rules_root / "templates/consent/wellbeing/da/v1.md").unlink()

    page = rclient.get("/regelsamling").text
    assert 'id="lapsed"' in page
    assert 'data-file="templates/consent/journal/da/v1.md" data-status="changed"' in page
    assert 'data-file="policies/cohorts.yaml" data-status="changed"' in page
    assert 'data-file="templates/consent/journal/da/v2.md" data-status="new"' in page
    assert 'data-file="templates/consent/wellbeing/da/v1.md" data-status="removed"' in page
    assert 'data-file="features/udtraek.feature" data-status="changed"' in page
    assert 'data-file="policies/consents.yaml" data-status="approved"' in page
    # The diff: escaped, as <ins>/<del>, no inline style.
    assert "<ins>+ Ny sætning &lt;script&gt;alert(1)&lt;/script&gt;</ins>" in page
    assert "<script>alert(1)" not in page
    assert "<del>-       Så er borgeren ikke med i udtrækket</del>" in page
    assert "style=" not in page
    # The changed scenario, and a scenario whose rule file changed, are marked; an
    # untouched scenario on untouched rules is not.
    assert "fjernet</span>" in page
    assert "ny</span>" in page
    assert "ændret siden godkendelse</span>" in page
    assert 'class="rulebook-scenario" data-status="changed"' in page
    assert 'class="rulebook-scenario" data-status="approved"' in page

    # The DPO and the data controller see the notice on their home pages.
    for role in ("dpo", "data_controller"):
        _as(rclient, enrolled_person(rctx, role), clock)
        home = rclient.get("/").text
        assert "Regelsamlingen er ændret siden juristens godkendelse" in home, role
        assert 'href="/regelsamling"' in home
        view = rclient.get("/regelsamling")
        assert view.status_code == 200
        assert 'id="approve-form"' not in view.text  # read-only for them

    # A new sign-off covers the changes: the lapse ends.
    token = _as(rclient, jurist, clock)
    assert _approve(rclient, token, _fresh(jurist, clock), "Ny tekst v2 set.").status_code == 303
    assert 'id="in-force"' in rclient.get("/regelsamling").text


def test_home_pages_hash_the_rule_files_once_until_one_changes(
    rctx: AppContext,
    rclient: TestClient,
    clock: FixedClock,
    rules_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 18: the home page's notice of a lapsed sign-off hashes the rule files once per
    process; a file is read and hashed again only when it changed, and the change shows."""
    jurist = enrolled_person(rctx, "legal_adviser")
    token = _as(rclient, jurist, clock)
    assert _approve(rclient, token, _fresh(jurist, clock)).status_code == 303
    covered = book.covered_files(rules_root, book.load_rulebook(rules_root, strict=False))
    hashed: list[bytes] = []

    def counting_sha256(data: bytes) -> str:
        hashed.append(data)
        return hashlib.sha256(data).hexdigest()

    monkeypatch.setattr(book, "sha256", counting_sha256)
    monkeypatch.setattr(book, "_seen", None)  # as in a process that has not hashed them yet
    for _ in range(2):
        home = rclient.get("/")
        assert home.status_code == 200
        assert "Regelsamlingen er ændret" not in home.text
    assert sorted(hashed) == sorted(covered.values())  # each file once, over both views

    hashed.clear()
    policy = rules_root / "policies/consents.yaml"
    policy.write_text(policy.read_text(encoding="utf-8") + "# ændret\n", encoding="utf-8")
    home = rclient.get("/")
    assert "Regelsamlingen er ændret siden juristens godkendelse" in home.text
    assert hashed == [policy.read_bytes()]
    hashed.clear()
    assert "Regelsamlingen er ændret" in rclient.get("/").text
    assert hashed == []


def test_an_empty_comment_or_a_wrong_code_keeps_the_page(
    rctx: AppContext, rclient: TestClient, clock: FixedClock
) -> None:
    jurist = enrolled_person(rctx, "legal_adviser")
    token = _as(rclient, jurist, clock)
    empty = _approve(rclient, token, _fresh(jurist, clock), comment="   ")
    assert empty.status_code == 400
    assert "Skriv en kommentar til godkendelsen." in empty.text
    assert 'id="comment-error"' in empty.text
    assert "error-summary" in empty.text

    wrong = _approve(rclient, token, "000000", comment="Min kommentar")
    assert wrong.status_code == 400
    assert 'id="code-error"' in wrong.text
    assert "Min kommentar" in wrong.text  # the comment is kept, the code is not
    assert _events(rctx, "login.step_up_failed")
    with rctx.sessions() as s:
        assert s.get(User, jurist.user_id).code_failures == 1  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(RulebookApproval)) == 0

    # A code used once (here: for the sign-off) is refused the second time.
    code = _fresh(jurist, clock)
    assert _approve(rclient, token, code).status_code == 303
    replay = _approve(rclient, token, code)
    assert replay.status_code == 400
    assert 'id="code-error"' in replay.text
    with rctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(RulebookApproval)) == 1


def test_only_the_legal_adviser_signs_and_others_cannot_read_the_rulebook(
    rctx: AppContext, rclient: TestClient, clock: FixedClock
) -> None:
    for role in ("navigator", "referrer", "administrator"):
        token = _as(rclient, enrolled_person(rctx, role), clock)
        assert rclient.get("/regelsamling").status_code == 403, role
        assert _approve(rclient, token, "123456").status_code == 403, role
    for role in ("dpo", "data_controller"):
        person = enrolled_person(rctx, role)
        token = _as(rclient, person, clock)
        assert _approve(rclient, token, _fresh(person, clock)).status_code == 403, role
    with rctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(RulebookApproval)) == 0


def test_the_legal_adviser_reaches_no_citizen_extract_or_log(
    rctx: AppContext, rclient: TestClient, clock: FixedClock
) -> None:
    jurist = enrolled_person(rctx, "legal_adviser")
    token = _as(rclient, jurist, clock)
    pages = ("/borgere", "/arbejdsliste", "/udtraek", "/udtraek/daekning", "/dpo/log", "/dpo",
             "/dpo/afvisninger", "/dpo/indsigt", "/admin/brugere", "/sletning")  # fmt: skip
    for path in pages:
        assert rclient.get(path).status_code == 403, path
    # Without the form's CSRF token the sign-off is refused and nothing is stored.
    no_csrf = rclient.post(
        "/regelsamling/godkend", data={"code": _fresh(jurist, clock), "comment": "x"}
    )
    assert no_csrf.status_code == 403
    assert token
    with rctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(RulebookApproval)) == 0


def test_an_administrator_creates_a_legal_adviser_directly_without_a_proposal(
    rctx: AppContext, rclient: TestClient, clock: FixedClock
) -> None:
    token = _as(rclient, enrolled_person(rctx, "administrator"), clock)
    form = rclient.get("/admin/brugere")
    assert '<option value="legal_adviser"' in form.text
    assert "Jurist" in form.text
    r = rclient.post(
        "/admin/brugere",
        data={"csrf_token": token, "username": "jurist1", "display_name": "Ida Vinther",
              "role": "legal_adviser"},
    )  # fmt: skip
    assert r.status_code == 200, r.text[:300]
    with rctx.sessions() as s:
        user = s.scalars(select(User).where(User.username == "jurist1")).one()
        assert user.role == "legal_adviser"
    assert rctx.policy.role_may("legal_adviser", "rulebook:approve")
    assert not any(
        rctx.policy.role_may("legal_adviser", p)
        for p, spec in rctx.policy.spec.permissions.items()
        if spec.personal_data
    )


def _scenario_block(page: str, name: str) -> str:
    """The Regelsamling's block of the scenario called ``name``."""
    start = page.index(f": {name} <span")
    return page[start : page.index("</div>", start)]


def test_the_page_shows_each_scenarios_latest_run_and_whether_the_rules_changed_since(
    rctx: AppContext, rclient: TestClient, clock: FixedClock, rules_root: Path
) -> None:
    """ "Bestået <time>" after a recorded run with today's rules; "kørt med andre regler end
    de nuværende" once a rule file changes; a later failure says when it last passed."""
    _as(rclient, enrolled_person(rctx, "legal_adviser"), clock)
    name = "Den 30. februar findes ikke"
    page = rclient.get("/regelsamling").text
    assert "Ikke kørt mod tjenesten endnu." in _scenario_block(page, name)

    def record(outcome: str) -> str:
        clock.advance(timedelta(minutes=2))
        with session_scope(rctx.sessions) as s:
            service.record_verification(
                s, rctx.deps, SYSTEM, f"run-{outcome}",
                [ScenarioOutcome("features/cpr.feature", name, outcome)],
                "0.1.0", service.rules_digest(rules_root),
            )  # fmt: skip
        return local_time(clock.now())

    passed_at = record("passed")
    block = _scenario_block(rclient.get("/regelsamling").text, name)
    assert f"Bestået {passed_at}." in block
    assert "kørt med andre regler" not in block
    other = _scenario_block(rclient.get("/regelsamling").text, "Et ciffer for lidt")
    assert "Ikke kørt mod tjenesten endnu." in other

    policy = rules_root / "policies/consents.yaml"
    policy.write_text(policy.read_text(encoding="utf-8") + "\n# note\n", encoding="utf-8")
    block = _scenario_block(rclient.get("/regelsamling").text, name)
    assert f"Bestået {passed_at}, kørt med andre regler end de nuværende." in block

    failed_at = record("failed")
    block = _scenario_block(rclient.get("/regelsamling").text, name)
    assert f"Fejlede {failed_at}; sidst bestået {passed_at}." in block
    assert "kørt med andre regler" not in block

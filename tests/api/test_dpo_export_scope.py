"""A DPO exports their own organisation's audit log: other organisations' events appear
only as digests, the file verifies outside the service, and asking for another
organisation is refused and recorded as a rejected attempt. The operator's
`consent-service audit export` says which organisation, or `--all`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from consent_service.app import create_app
from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import Actor
from consent_service.cli import main
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from tests.conftest import Person, enrolled_person, log_in

VERIFY = Path(__file__).resolve().parents[2] / "audit" / "verify.py"


def _read(ctx: AppContext, person: Person, resource: str) -> None:
    with session_scope(ctx.sessions) as session:
        ctx.audit.record(
            session,
            Actor(user_id=person.user_id, username=person.username,
                  organisation_id=person.organisation_id),
            action="citizen.read", outcome="success",
            resource_type="citizen", resource_id=resource,
        )  # fmt: skip


@pytest.fixture
def people(ctx: AppContext) -> tuple[Person, Person]:
    """A DPO in Midtjylland; a navigator in Nordjylland who has read a citizen."""
    dpo = enrolled_person(ctx, "dpo", "dpo-midt", org_name="Region Midtjylland")
    nord = enrolled_person(ctx, "navigator", "nav-nord", org_name="Region Nordjylland")
    _read(ctx, nord, "nord-citizen-1")
    _read(ctx, dpo, "midt-citizen-1")
    return dpo, nord


def _verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFY), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_dpo_exports_their_own_organisation(
    ctx: AppContext, clock: FixedClock, people: tuple[Person, Person], tmp_path: Path
) -> None:
    dpo, _ = people
    today = clock.now().date()
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        log_in(client, dpo, clock)
        r = client.get(f"/dpo/eksport?fra={today - timedelta(days=1)}&til={today}")
        assert r.status_code == 200
    export = tmp_path / "midt.jsonl"
    export.write_bytes(r.content)
    result = _verify(export)
    assert result.returncode == 0, result.stdout
    assert f"for organisation {dpo.organisation_id}" in result.stdout
    text = export.read_text(encoding="utf-8")
    assert "midt-citizen-1" in text
    assert "nord-citizen-1" not in text
    assert "nav-nord" not in text
    assert json.loads(text.splitlines()[0])["organisation_id"] == dpo.organisation_id


def test_asking_for_another_organisation_is_refused_and_audited(
    ctx: AppContext, clock: FixedClock, people: tuple[Person, Person]
) -> None:
    dpo, nord = people
    today = clock.now().date()
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        log_in(client, dpo, clock)
        period = f"fra={today - timedelta(days=1)}&til={today}"
        r = client.get(f"/dpo/eksport?{period}&organisation={nord.organisation_id}")
        assert r.status_code == 403
        assert "nord-citizen-1" not in r.text
        request_id = r.headers["x-request-id"]
        own = client.get(f"/dpo/eksport?{period}&organisation={dpo.organisation_id}")
        assert own.status_code == 200
    with ctx.sessions() as s:
        denied = s.scalars(select(AuditEvent).where(AuditEvent.request_id == request_id)).all()
        exported = s.scalars(select(AuditEvent).where(AuditEvent.action == "audit.exported"))
        exports = [json.loads(e.details)["organisation"] for e in exported]
    assert [(e.action, e.outcome, e.actor_user_id) for e in denied] == [
        ("access.denied", "deny", dpo.user_id)
    ]
    details = json.loads(denied[0].details)
    assert (details["permission"], details["path"]) == ("audit:export", "/dpo/eksport")
    assert exports == [dpo.organisation_id]  # only the allowed one was exported


@pytest.fixture
def cli_env(ctx: AppContext, test_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_ENV_FILE", "/nonexistent/consent.env")
    monkeypatch.setenv("CONSENT_DATABASE_URL", ctx.settings.database_url)
    for name, value in test_keys.items():
        monkeypatch.setenv(f"CONSENT_{name.upper()}", value)


@pytest.mark.usefixtures("cli_env", "people")
def test_the_cli_exports_one_organisation_or_all_when_told(
    clock: FixedClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    day = clock.now().date().isoformat()
    period = ["audit", "export", "--from", day, "--to", day]
    with pytest.raises(SystemExit):  # neither --organisation nor --all: no default
        main([*period, "--out", str(tmp_path / "none.jsonl")])
    assert not (tmp_path / "none.jsonl").exists()
    assert main([*period, "--out", str(tmp_path / "x.jsonl"), "--organisation", "Nowhere"]) == 1
    assert not (tmp_path / "x.jsonl").exists()

    nord_file = tmp_path / "nord.jsonl"
    assert main([*period, "--out", str(nord_file), "--organisation", "Region Nordjylland"]) == 0
    assert "for Region Nordjylland" in capsys.readouterr().out
    assert _verify(nord_file).returncode == 0
    text = nord_file.read_text(encoding="utf-8")
    assert "nord-citizen-1" in text
    assert "midt-citizen-1" not in text
    assert "dpo-midt" not in text

    all_file = tmp_path / "all.jsonl"
    assert main([*period, "--out", str(all_file), "--all"]) == 0
    assert _verify(all_file).returncode == 0
    text = all_file.read_text(encoding="utf-8")
    assert "nord-citizen-1" in text
    assert "midt-citizen-1" in text

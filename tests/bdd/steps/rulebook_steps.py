"""Steps of features/regelsamling.feature: the legal adviser's sign-off through the real
service (``rulebook.service.approve``), a rule file changed in a copy of the rules (the
real files are never touched), and the worker's own pass (``housekeeping``) noting the
lapse and raising the DPO's alert, on both database engines."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, then, when
from sqlalchemy import func, select

from consent_service.audit.models import AuditAlert
from consent_service.audit.recorder import Actor
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.rulebook import service
from consent_service.worker.runner import housekeeping
from tests.conftest import enrolled_person

# The rules root whose tests run (a checkout, or the one `rules verify` was given).
RULES_ROOT = Path(__file__).resolve().parents[3]
RULE_FOLDERS = ("features", "policies", "retention", "templates")
LAPSE_RULE = "rulebook_lapsed"


@dataclass
class Rulebook:
    ctx: AppContext  # the service, reading the rules from ``root``
    clock: FixedClock
    root: Path


@pytest.fixture
def rulebook(ctx: AppContext, clock: FixedClock, tmp_path: Path) -> Iterator[Rulebook]:
    root = tmp_path / "rules"
    for folder in RULE_FOLDERS:
        shutil.copytree(RULES_ROOT / folder, root / folder)
    settings = ctx.settings.model_copy(update={"rules_root": root})
    context = AppContext.build(settings, clock)
    yield Rulebook(context, clock, root)
    context.engine.dispose()


def _alerts(rulebook: Rulebook) -> int:
    with rulebook.ctx.sessions() as session:
        count = session.scalar(
            select(func.count()).select_from(AuditAlert).where(AuditAlert.rule == LAPSE_RULE)
        )
    return int(count or 0)


@given("juristen har godkendt regelsamlingen")
def _approved(rulebook: Rulebook) -> None:
    jurist = enrolled_person(rulebook.ctx, "legal_adviser")
    actor = Actor().as_user(jurist.user_id, jurist.username, jurist.organisation_id)
    with session_scope(rulebook.ctx.sessions) as session:
        service.approve(
            session, rulebook.ctx.deps, actor, jurist.user_id, jurist.organisation_id,
            rulebook.root, "Gennemgået og godkendt.",
        )  # fmt: skip


@when("en regelfil ændres")
def _change_rule_file(rulebook: Rulebook) -> None:
    path = rulebook.root / "policies" / "consents.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "# ændret efter godkendelsen\n")


@when("tjenesten ser efter ændringer i regelsamlingen")
@when("tjenesten ser efter ændringer i regelsamlingen igen")
def _worker_pass(rulebook: Rulebook) -> None:
    rulebook.clock.advance(timedelta(minutes=1))
    housekeeping(rulebook.ctx.sessions, rulebook.ctx.deps)


@then("er godkendelsen bortfaldet")
def _lapsed(rulebook: Rulebook) -> None:
    with rulebook.ctx.sessions() as session:
        assert service.lapse_state(session, rulebook.root) == (True, True)


@then("er godkendelsen stadig gældende")
def _in_force(rulebook: Rulebook) -> None:
    with rulebook.ctx.sessions() as session:
        assert service.lapse_state(session, rulebook.root) == (True, False)


@then(parsers.parse("databeskyttelsesrådgiveren har fået {count:d} alarm om regelsamlingen"))
@then(parsers.parse("databeskyttelsesrådgiveren har fået {count:d} alarmer om regelsamlingen"))
@then(parsers.parse("har databeskyttelsesrådgiveren stadig fået {count:d} alarm om regelsamlingen"))
def _alert_count(rulebook: Rulebook, count: int) -> None:
    assert _alerts(rulebook) == count

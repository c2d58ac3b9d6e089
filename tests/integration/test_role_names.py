"""The Danish role names on the pages are the access policy's (``policies/access.yaml``,
``roles: <role>: da:``): renamed there, renamed on every page."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from consent_service.app import create_app
from consent_service.clock import FixedClock
from consent_service.config import Settings
from consent_service.context import AppContext
from consent_service.web.templating import role_names_da
from tests.conftest import enrolled_person, log_in

RENAMED = {"Administrator": "Brugeradministrator", "Henviser": "Henvisende læge"}


@pytest.fixture
def renamed_ctx(settings: Settings, clock: FixedClock, tmp_path: Path) -> Iterator[AppContext]:
    """A service whose policy names two roles differently from the shipped file."""
    policies = tmp_path / "policies"
    shutil.copytree(settings.policy_dir, policies)
    access = policies / "access.yaml"
    text = access.read_text(encoding="utf-8")
    for old, new in RENAMED.items():
        text = text.replace(f"da: {old}\n", f"da: {new}\n")
    access.write_text(text, encoding="utf-8")
    context = AppContext.build(settings.model_copy(update={"policy_dir": policies}), clock)
    yield context
    context.engine.dispose()


def test_the_pages_name_the_roles_as_the_policy_does(
    renamed_ctx: AppContext, clock: FixedClock
) -> None:
    names = role_names_da(renamed_ctx.policy)
    assert names["administrator"] == "Brugeradministrator"
    assert names["referrer"] == "Henvisende læge"
    admin = enrolled_person(renamed_ctx, "administrator")
    with TestClient(create_app(renamed_ctx), follow_redirects=False) as client:
        log_in(client, admin, clock)
        page = client.get("/admin/brugere")
    assert page.status_code == 200
    assert "(Brugeradministrator)" in page.text  # the header names the user's role
    offered = re.search(r'<select id="new-role"[^>]*>(.*?)</select>', page.text, re.S)
    labels = re.findall(r"<option[^>]*>([^<]+)</option>", offered.group(1) if offered else "")
    assert labels
    assert set(labels) == set(names.values())
    assert "Administrator" not in labels

"""Scenarios of features/opfoelgning.feature, nyt_journalsamtykke.feature and
sletning.feature, on both database engines."""

from __future__ import annotations

import pytest
from pytest_bdd import scenarios

from consent_service.context import AppContext
from tests.integration.test_backup import target_url  # noqa: F401 - a fixture of the restore step


@pytest.fixture(autouse=True)
def _database(ctx: AppContext) -> AppContext:
    """Puts the engine parameter in every scenario: each runs on SQLite and PostgreSQL."""
    return ctx


scenarios("../../features/opfoelgning.feature")
scenarios("../../features/nyt_journalsamtykke.feature")
scenarios("../../features/sletning.feature")

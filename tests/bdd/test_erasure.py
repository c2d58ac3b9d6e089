"""Scenarios of features/sletning_af_borger.feature, on both database engines."""

from __future__ import annotations

import pytest
from pytest_bdd import scenarios

from consent_service.context import AppContext


@pytest.fixture(autouse=True)
def _database(ctx: AppContext) -> AppContext:
    """Puts the engine parameter in every scenario: each runs on SQLite and PostgreSQL."""
    return ctx


scenarios("../../features/sletning_af_borger.feature")

"""Scenarios of features/journalnotat.feature."""

from pytest_bdd import scenarios

scenarios("../../features/journalnotat.feature")

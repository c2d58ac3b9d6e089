"""Scenarios of features/cpr.feature."""

from pytest_bdd import scenarios

scenarios("../../features/cpr.feature")

"""Scenarios of features/under_18.feature."""

from pytest_bdd import scenarios

scenarios("../../features/under_18.feature")

"""Scenarios of features/frivillighed.feature."""

from pytest_bdd import scenarios

scenarios("../../features/frivillighed.feature")

"""Scenarios of features/trivsel_samtykke_indhold.feature."""

from pytest_bdd import scenarios

scenarios("../../features/trivsel_samtykke_indhold.feature")

"""Scenarios of features/journal_samtykke_gyldighed.feature."""

from pytest_bdd import scenarios

scenarios("../../features/journal_samtykke_gyldighed.feature")

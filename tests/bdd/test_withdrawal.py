"""Scenarios of features/tilbagekaldelse.feature."""

from pytest_bdd import scenarios

scenarios("../../features/tilbagekaldelse.feature")

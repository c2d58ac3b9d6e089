"""Scenarios of features/henvisning_maalgruppe.feature (a pure rule: no database)."""

from pytest_bdd import scenarios

scenarios("../../features/henvisning_maalgruppe.feature")

"""Consent service for the social-prescribing pilot "Sociale henvisninger Norddjurs"."""

__version__ = "0.1.0"

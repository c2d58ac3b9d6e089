"""The Danish words pages and histories use for a consent's codes: its states, the events
of its history, the channels of a withdrawal and the reasons for a correction.

Codes never reach a person; the labels come from ``policies/labels.yaml``.
"""

from __future__ import annotations

from consent_service import labels

CHANNELS = labels.group("withdrawal_channels")
# Why a recorded consent is corrected; codes, never free text, so no personal data.
CORRECTION_REASONS = labels.group("correction_reasons")
STATE_NAMES_DA = labels.group("consent_states")
EVENT_NAMES_DA = labels.group("consent_events")
# Why a citizen is not offered the data-collection consents (rules.data_collection_allowed).
NO_REFERRAL_YET = (
    "Registrér først en henvisning. Samtykke til dataindsamling kræver, at borgeren var "
    "fyldt 18 år ved henvisningen."
)
UNDER_AGE_AT_REFERRAL = (
    "Borgeren var under 18 år ved henvisningen og indgår ikke i dataindsamlingen. "
    "Tilbuddet om en social navigatør gælder fuldt ud."
)

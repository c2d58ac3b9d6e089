"""The Danish words pages and histories use for a consent's codes: its states, the events
of its history, the channels of a withdrawal and the reasons for a correction.

Codes never reach a person; each has its label here, in one place.
"""

from __future__ import annotations

CHANNELS = {"in_person": "personligt", "phone": "telefon", "letter": "brev"}
# Why a recorded consent is corrected; codes, never free text, so no personal data.
CORRECTION_REASONS = {
    "recorded_in_error": "Registreret ved en fejl",
    "wrong_citizen": "Erklæringen tilhører en anden borger",
    "scan_mismatch": "Scanningen svarer ikke til erklæringen",
    "signature_missing": "Underskrift eller dato mangler på erklæringen",
}
STATE_NAMES_DA = {
    "requested": "Anmodet",
    "given": "Givet",
    "refused": "Afslået",
    "withdrawn": "Tilbagekaldt",
    "expired": "Udløbet",
    "invalidated": "Ugyldiggjort",
}
EVENT_NAMES_DA = {
    "journal_entry_confirmed": "Indført i patientjournalen",
    "withdrawn": "Tilbagekaldt",
    "data_obtained": "Oplysninger indhentet",
    "invalidated": "Ugyldiggjort",
}
# Why a citizen is not offered the data-collection consents (rules.data_collection_allowed).
NO_REFERRAL_YET = (
    "Registrér først en henvisning. Samtykke til dataindsamling kræver, at borgeren var "
    "fyldt 18 år ved henvisningen."
)
UNDER_AGE_AT_REFERRAL = (
    "Borgeren var under 18 år ved henvisningen og indgår ikke i dataindsamlingen. "
    "Tilbuddet om en social navigatør gælder fuldt ud."
)

"""The outcomes of the extract's consent gate: ``covered``, or why a citizen is left out,
with the Danish name a page shows. The gate itself is one SQL statement
(``extracts/gate_query.py``); its rules are those of consents/rules.py (``consent_covers``)."""

from __future__ import annotations

COVERED = "covered"
# Why a citizen is left out, in the order the manifest lists them (Danish for pages).
REASONS_DA = {
    "under_18": "Under 18 år ved henvisningen",
    "no_consent": "Intet samtykke",
    "expired": "Samtykket er udløbet",
    "withdrawn": "Samtykket er tilbagekaldt",
    "not_entered_in_journal": "Samtykket er ikke indført i journalen",
    "no_answers": "Ingen trivselssvar",
    "deleted": "Borgeren er slettet",
}

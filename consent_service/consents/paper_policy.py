"""The rules of paper originals, as data and as a pure function: ``policies/paper.yaml``
(how long an original may be out; how long after it is due it must be destroyed) and
which custody fact may follow which (``refusal``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from consent_service.consents.paper_models import DESTROYED, RETURNED, STORED, TAKEN_OUT
from consent_service.rulefile import load_yaml_model

RULE_FILE = Path(__file__).resolve().parents[2] / "policies" / "paper.yaml"


class PaperRuleError(ValueError):
    """policies/paper.yaml is missing or invalid."""


class PaperRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    max_days_out: int = Field(ge=1)
    destroy_within_days: int = Field(ge=0)


@cache
def paper_rules() -> PaperRules:
    return load_yaml_model(RULE_FILE, PaperRules, "paper rules", PaperRuleError)


def refusal(state: str | None, event: str) -> str | None:
    """Why ``event`` cannot follow ``state`` (Danish), or None if it may."""
    if state == DESTROYED:
        return "Originalen er makuleret; der kan ikke registreres mere om den."
    if event == STORED and state == TAKEN_OUT:
        return "Originalen er udtaget. Registrér, at den er lagt tilbage."
    if event == TAKEN_OUT and state is None:
        return "Originalen er ikke registreret lagt på plads endnu."
    if event == TAKEN_OUT and state == TAKEN_OUT:
        return "Originalen er allerede udtaget."
    if event == RETURNED and state != TAKEN_OUT:
        return "Originalen er ikke udtaget."
    return None

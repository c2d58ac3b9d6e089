"""The rules of erasing one citizen, as data: ``policies/erasure.yaml`` (the reasons a
proposal may give, each with its law, and what an erasure keeps and why), read and
validated at start-up; and the deletion rule an approved proposal runs under."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from consent_service.rulefile import load_yaml_model

RULE_FILE = Path(__file__).resolve().parents[2] / "policies" / "erasure.yaml"
RULE_PREFIX = "erasure_"


class ErasureRuleError(ValueError):
    """policies/erasure.yaml is missing or invalid."""


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    da: str = Field(min_length=1)
    law: str = Field(min_length=1)
    hint: str = Field(min_length=1)


class Kept(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    da: str = Field(min_length=1)
    why: str = Field(min_length=1)


class ErasureRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    reasons: dict[str, Reason] = Field(min_length=1)
    kept: dict[str, Kept] = Field(min_length=1)


@cache
def erasure_rules() -> ErasureRules:
    return load_yaml_model(RULE_FILE, ErasureRules, "erasure rules", ErasureRuleError)


def deletion_rule(reason: str) -> str:
    """The rule a citizen's deletion is recorded under when a proposal with ``reason`` is
    carried out (``citizen.deleted``'s ``rule``; a restore re-applies it by that name)."""
    return f"{RULE_PREFIX}{reason}"

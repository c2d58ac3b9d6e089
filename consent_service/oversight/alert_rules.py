"""The alert rules of ``audit/alerts.yaml`` as data: their model, validated when loaded,
and the Danish names of what an alert is about. Evaluating them is ``oversight.alerts``."""

from __future__ import annotations

from datetime import datetime, time
from functools import cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from consent_service.config import REPO_ROOT
from consent_service.rulefile import load_yaml_model

DEFAULT_RULES = REPO_ROOT / "audit" / "alerts.yaml"
SUBJECT_KINDS_DA = {
    "account": "Bruger",
    "address": "Adresse",
    "witness": "Vidne",
    "citizen": "Borger",
    "subject_request": "Anmodning fra borger",
}


class AlertRulesError(ValueError):
    """The alert rules are missing, not YAML, or invalid; names file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkingHours(_Strict):
    timezone: StrictStr
    weekdays: tuple[StrictInt, ...] = Field(min_length=1)
    start: time
    end: time

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone
        return value

    def covers(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        return local.isoweekday() in self.weekdays and self.start <= local.time() < self.end


class Rule(_Strict):
    title_da: StrictStr = Field(min_length=1)
    shape: Literal["count", "distinct", "off_hours", "silence"]
    actions: tuple[StrictStr, ...] = Field(min_length=1)
    key: StrictStr = Field(pattern=r"^(account|address|detail:[a-z_]+|resource:[a-z_]+)$")
    window_minutes: StrictInt | None = Field(default=None, ge=1)
    threshold: StrictInt = Field(default=1, ge=1)
    distinct: Literal["resource_id"] | None = None
    expects: Literal["witnesses"] | None = None

    @model_validator(mode="after")
    def _shape_fields(self) -> Rule:
        if self.shape in ("count", "distinct") and self.window_minutes is None:
            raise ValueError("a count or distinct rule needs window_minutes")
        if (self.shape == "distinct") != (self.distinct is not None):
            raise ValueError("distinct is required for shape distinct, and only then")
        if (self.shape == "silence") != (self.expects is not None):
            raise ValueError("expects is required for shape silence, and only then")
        if self.shape == "silence" and not self.key.startswith("resource:"):
            raise ValueError("a silence rule's key is resource:<type>")
        if self.shape == "silence" and any(a.endswith(".") for a in self.actions):
            raise ValueError("a silence rule names exact actions")
        return self

    @property
    def subject_kind(self) -> str:
        """What the subject is: account, address, the detail's kind, or the resource type."""
        kind, _, rest = self.key.partition(":")
        return rest if kind == "resource" else kind

    def matches(self, action: str) -> bool:
        return any(action == a or (a.endswith(".") and action.startswith(a)) for a in self.actions)


class AlertRules(_Strict):
    version: StrictInt
    working_hours: WorkingHours
    rules: dict[StrictStr, Rule] = Field(min_length=1)

    def title_da(self, rule: str) -> str:
        found = self.rules.get(rule)
        return found.title_da if found else rule


def load_alert_rules(path: Path = DEFAULT_RULES) -> AlertRules:
    """The alert rules of ``path``; raises ``AlertRulesError`` naming file and field."""
    return load_yaml_model(path, AlertRules, "alert rules", AlertRulesError)


@cache
def default_alert_rules() -> AlertRules:
    """The reviewed rules of ``audit/alerts.yaml``, loaded once."""
    return load_alert_rules()

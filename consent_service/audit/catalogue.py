"""The catalogue of audit event types (``audit/events.yaml``): what each records, why it is
logged, how long it is kept, and how a citizen's access report words it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    model_validator,
)

from consent_service.clock import add_months
from consent_service.config import REPO_ROOT
from consent_service.retention.schedule import default_schedule
from consent_service.rulefile import load_yaml_model

DEFAULT_CATALOGUE = REPO_ROOT / "audit" / "events.yaml"
ACTION_PATTERN = r"^[a-z_]+\.[a-z_]+$"

Category = Literal[
    "authentication", "access", "administration", "citizen", "referral", "consent",
    "audit", "alert", "system", "wellbeing", "schedule", "retention", "extract",
]  # fmt: skip


class EventCatalogueError(ValueError):
    """The catalogue is missing, not YAML, or invalid; names file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Retention(_Strict):
    months: StrictInt | None = Field(default=None, ge=1)
    pilot_end_plus_years: StrictInt | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one(self) -> Retention:
        if (self.months is None) == (self.pilot_end_plus_years is None):
            raise ValueError("retention names exactly one of months, pilot_end_plus_years")
        return self


class CitizenWording(_Strict):
    what: StrictStr = Field(min_length=1)
    why: StrictStr = Field(min_length=1)

    @property
    def what_da(self) -> str:
        return self.what

    @property
    def why_da(self) -> str:
        return self.why


class EventType(_Strict):
    category: Category
    description: StrictStr = Field(min_length=1)
    why: StrictStr = Field(min_length=1)
    fields: tuple[StrictStr, ...]
    retention: Retention
    citizen_da: CitizenWording | None = None


FALLBACK_WORDING = CitizenWording(
    what="Dine oplysninger blev brugt", why="Projektet Sociale henvisninger Norddjurs"
)


class EventCatalogue(_Strict):
    version: StrictInt
    events: dict[StrictStr, EventType] = Field(min_length=1)

    @model_validator(mode="after")
    def _names(self) -> EventCatalogue:
        bad = [name for name in self.events if not re.fullmatch(ACTION_PATTERN, name)]
        if bad:
            raise ValueError(f"event names must look like 'area.verb': {', '.join(bad)}")
        return self

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(self.events)

    def get(self, action: str) -> EventType | None:
        return self.events.get(action)

    def citizen_wording(self, action: str) -> CitizenWording:
        event = self.events.get(action)
        return event.citizen_da if event and event.citizen_da else FALLBACK_WORDING

    def retention_deadline(self, action: str, occurred_at: datetime) -> datetime | None:
        """When an event of this type may go; None (kept) for a type not catalogued."""
        event = self.events.get(action)
        if event is None:
            return None
        r = event.retention
        if r.months is not None:
            return add_months(occurred_at, r.months)
        end = default_schedule().pilot_end
        years = r.pilot_end_plus_years or 0
        return datetime.combine(end.replace(year=end.year + years), time(0), tzinfo=UTC)


def load_event_catalogue(path: Path = DEFAULT_CATALOGUE) -> EventCatalogue:
    return load_yaml_model(path, EventCatalogue, "event catalogue", EventCatalogueError)


@cache
def default_event_catalogue() -> EventCatalogue:
    return load_event_catalogue()

"""What the BDD steps share: the scenario's world, and Danish dates as the features
write them ("29. februar 2028")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from consent_service.citizens.cpr import Cpr, InvalidCpr
from consent_service.consents.kinds import ConsentKind, default_consent_kinds
from consent_service.consents.rules import ConsentFacts, ConsentStatus, WithdrawalEffect
from consent_service.consents.templates import ConsentTemplate

MONTHS = (
    "januar", "februar", "marts", "april", "maj", "juni",
    "juli", "august", "september", "oktober", "november", "december",
)  # fmt: skip
DATE = rf"\d{{1,2}}\. (?:{'|'.join(MONTHS)}) \d{{4}}"


def danish_date(text: str) -> date:
    """'29. februar 2028' -> date(2028, 2, 29)."""
    day, month, year = text.split()
    return date(int(year), MONTHS.index(month) + 1, int(day.rstrip(".")))


def kind(kind_id: str) -> ConsentKind:
    return default_consent_kinds().kinds[kind_id]


@dataclass
class World:
    """Everything a scenario has established so far."""

    consents: dict[str, ConsentFacts] = field(default_factory=dict)
    current: str | None = None  # the consent kind the scenario talks about
    described: dict[str, ConsentStatus] = field(default_factory=dict)  # as the scenario says
    birth_date: date | None = None
    referred_on: date | None = None
    on: date | None = None
    withdrawal: WithdrawalEffect | None = None
    template: ConsentTemplate | None = None
    today: date | None = None
    cpr_text: str | None = None
    cpr: Cpr | None = None
    cpr_error: InvalidCpr | None = None

    @property
    def facts(self) -> ConsentFacts:
        assert self.current is not None, "no consent in this scenario yet"
        return self.consents[self.current]

    @facts.setter
    def facts(self, value: ConsentFacts) -> None:
        self.current = value.kind
        self.consents[value.kind] = value

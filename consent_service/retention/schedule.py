"""The retention schedule (``retention/schedule.yaml``) as data, validated when loaded, and
the deletion procedure (``retention/PROCEDURE.md``) generated from it, so the two cannot
disagree."""

from __future__ import annotations

from datetime import date, timedelta
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
from consent_service.rulefile import load_yaml_model

DEFAULT_SCHEDULE = REPO_ROOT / "retention" / "schedule.yaml"
PROCEDURE = REPO_ROOT / "retention" / "PROCEDURE.md"

Trigger = Literal["withdrawal", "pilot_end", "record_date"]
Method = Literal["crypto_shredding", "row_deletion", "segment_purge", "file_deletion"]

TRIGGER_DA = {
    "withdrawal": "tilbagekaldelse af samtykket",
    "pilot_end": "projektets afslutning",
    "record_date": "registreringens egen dato",
}
METHOD_DA = {
    "crypto_shredding": "kryptografisk sletning (datanøglen destrueres), derefter "
    "sletning af rækkerne",
    "row_deletion": "sletning af rækkerne",
    "segment_purge": "sletning af hele signerede segmenter af loggen; checkpoints bevares",
    "file_deletion": "sletning af filen (driftens rutine for sikkerhedskopier)",
}


class RetentionError(ValueError):
    """The schedule is missing, not YAML, or invalid; names file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Keep(_Strict):
    days: StrictInt | None = Field(default=None, ge=0)
    months: StrictInt | None = Field(default=None, ge=1)
    years: StrictInt | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_unit(self) -> Keep:
        if sum(v is not None for v in (self.days, self.months, self.years)) != 1:
            raise ValueError("keep names exactly one of days, months, years")
        return self

    def after(self, start: date) -> date:
        """The deadline: ``start`` plus the period (a month or year past the end of a
        shorter month ends on that month's last day)."""
        if self.days is not None:
            return start + timedelta(days=self.days)
        return add_months(start, self.months if self.months is not None else 12 * (self.years or 0))

    def da(self) -> str:
        if self.days is not None:
            return f"{self.days} dage"
        if self.months is not None:
            return f"{self.months} måneder"
        return f"{self.years} år"


class Category(_Strict):
    da: StrictStr = Field(min_length=1)
    trigger: Trigger
    consent_kind: StrictStr | None = None
    keep: Keep
    method: Method
    reason: StrictStr = Field(min_length=10)

    @model_validator(mode="after")
    def _kind_with_withdrawal(self) -> Category:
        if (self.trigger == "withdrawal") != (self.consent_kind is not None):
            raise ValueError("consent_kind is required with trigger withdrawal, and only then")
        return self


REQUIRED_CATEGORIES = frozenset(
    {
        "citizen_identity",
        "referral",
        "wellbeing_answers",
        "consent_records",
        "signed_scans",
        "audit_events",
        "extract_manifests",
        "sessions",
        "disclosures",
    }
)

# The consent evidence: kept long after the pilot (to prove each consent and disclosure),
# then deleted per organisation by a data controller's confirmation; the database itself
# refuses it before the day ``evidence_delete_from`` gives (migration 0019).
EVIDENCE_CATEGORIES = (
    "consent_records",
    "disclosures",
    "extract_manifests",
    "subject_requests",
    "erasure_proposals",
)


class RetentionSchedule(_Strict):
    version: StrictInt
    pilot_end: date
    categories: dict[str, Category]

    @model_validator(mode="after")
    def _complete(self) -> RetentionSchedule:
        missing = REQUIRED_CATEGORIES - set(self.categories)
        if missing:
            raise ValueError(f"categories missing: {', '.join(sorted(missing))}")
        for name in EVIDENCE_CATEGORIES:
            c = self.categories[name]
            if (c.trigger, c.method) != ("pilot_end", "row_deletion"):
                raise ValueError(f"{name}: the consent evidence is deleted by rows after pilot_end")
        return self


def evidence_delete_from(schedule: RetentionSchedule, category: str) -> date:
    """The first day an evidence category may be deleted: the day after its period from
    the pilot's end has run out (like the pilot-end deletion, from the day after the end)."""
    c = schedule.categories[category]
    return c.keep.after(schedule.pilot_end) + timedelta(days=1)


def load_schedule(path: Path = DEFAULT_SCHEDULE) -> RetentionSchedule:
    """The retention schedule from ``path``, validated; raises RetentionError."""
    return load_yaml_model(path, RetentionSchedule, "retention schedule", RetentionError)


@cache
def default_schedule() -> RetentionSchedule:
    """The schedule in ``retention/schedule.yaml`` (read once)."""
    return load_schedule()


def render_procedure(schedule: RetentionSchedule) -> str:
    """The deletion procedure in Danish, for the data controller and the DPO."""
    lines = [
        "# Procedure for sletning – Sociale henvisninger Norddjurs",
        "",
        "<!-- Genereret fra retention/schedule.yaml med `consent-service retention procedure`."
        " Ret skemaet, ikke denne fil. -->",
        "",
        f"Projektet slutter den {schedule.pilot_end:%d-%m-%Y}. Samtykkeservicen sletter selv "
        "efter skemaet nedenfor; hver sletning efterlader en sletningspost i auditloggen "
        "(kategori, antal rækker, tidspunkt, regel og en hash) uden personoplysninger.",
        "",
        "## Sådan foregår en sletning",
        "",
        "1. Den dataansvarlige ser først en prøvekørsel, der viser, hvad der vil blive slettet.",
        "2. Sletning ved projektets afslutning kræver den dataansvarliges bekræftelse med en "
        "ny kode fra godkendelsesappen (TOTP).",
        "3. Borgerens datanøgle destrueres, så personoplysningerne heller ikke kan læses i "
        "ældre sikkerhedskopier; derefter slettes rækkerne.",
        "4. Det, der skal bevare beviset for samtykket (artikel 7, stk. 1), bevares uden "
        "identitet; loggen slettes kun i hele signerede segmenter.",
        "5. Papirerklæringerne makuleres af den dataansvarlige efter samme frist som scanningerne.",
        "6. Samtykkeregistreringer, videregivelser og udtræksmanifester slettes pr. organisation "
        "tidligst dagen efter, at deres frist er udløbet "
        f"({evidence_delete_from(schedule, 'consent_records'):%d-%m-%Y}), når den dataansvarlige "
        "har set en prøvekørsel og bekræftet med en ny kode; databasen afviser selv en "
        "tidligere sletning. Sletningen kræver, at borgernes oplysninger er slettet ved "
        "projektets afslutning.",
        "",
        "## Kategorier",
        "",
        "| Kategori | Udløses af | Slettes senest | Metode | Begrundelse |",
        "|---|---|---|---|---|",
    ]
    for name, c in schedule.categories.items():
        trigger = TRIGGER_DA[c.trigger]
        if c.consent_kind:
            trigger += f" ({c.consent_kind})"
        lines.append(
            f"| {c.da} (`{name}`) | {trigger} | {c.keep.da()} efter | {METHOD_DA[c.method]} "
            f"| {c.reason} |"
        )
    return "\n".join(lines) + "\n"

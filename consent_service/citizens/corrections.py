"""Corrections of a citizen's name, contact data and practice, with their history.

A correction names a reason and records only the fields that changed, each with its value
before and after: one ``citizen_change`` row, sealed under the citizen's identity key (so
deleting the citizen shreds the history with the rest), and the audit event
``citizen.corrected`` naming the fields only (never a value), in one transaction.

Forms already printed keep the old name: they are stored PDFs whose hash the consent
record holds, and a correction does not touch them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from consent_service import labels
from consent_service.audit.recorder import Actor
from consent_service.citizens import repository as repo
from consent_service.citizens.models import Citizen, CitizenChange
from consent_service.citizens.service import (
    checked_contact,
    decrypt,
    optional_text,
    required_text,
)
from consent_service.citizens.vault import CitizenVault
from consent_service.errors import InvalidInput
from consent_service.identity.users import display_names
from consent_service.services import ServiceDeps

CORRECTABLE = ("name", "phone", "email", "municipality", "gp_clinic")
_SEALED = {"name", "phone", "email"}
_CHANGE_COLUMN = "citizen_change"
REASON_MAX = 500


@dataclass(frozen=True)
class CorrectionInput:
    name: str
    phone: str
    email: str
    municipality: str
    gp_clinic: str
    reason: str


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str | None
    after: str | None

    @property
    def label(self) -> str:
        return labels.label("citizen_fields", self.field)


@dataclass(frozen=True)
class ChangeView:
    """One correction as the citizen's page shows it."""

    changed_at: datetime
    changed_by: str
    changes: tuple[FieldChange, ...]
    reason: str


def _checked(data: CorrectionInput) -> dict[str, str | None]:
    """The corrected values, checked as at registration (the reason too)."""
    name = required_text(data.name, "name", 200)
    phone, email = checked_contact(data.phone, data.email)
    return {
        "name": name,
        "phone": phone,
        "email": email,
        "municipality": required_text(data.municipality, "municipality", 100),
        "gp_clinic": required_text(data.gp_clinic, "gp_clinic", 200),
    }


def correct_citizen(
    session: Session, deps: ServiceDeps, actor: Actor, citizen: Citizen, data: CorrectionInput
) -> CitizenChange:
    """Correct the citizen's fields that differ from what is stored, with a reason.

    Refuses (``InvalidInput``) a field as registration would, a missing reason, and a
    correction that changes nothing. The citizen's row is locked first, so two corrections
    at once are recorded one after the other, each with the other's result as its
    "before"."""
    after = _checked(data)
    reason = optional_text(data.reason, "reason", REASON_MAX)
    if reason is None:
        raise InvalidInput("Skriv en begrundelse for rettelsen.", field="reason")
    repo.lock_citizen(session, citizen.id)
    view = decrypt(deps, citizen)
    before: dict[str, str | None] = {
        "name": view.name,
        "phone": view.phone,
        "email": view.email,
        "municipality": view.municipality,
        "gp_clinic": view.gp_clinic,
    }
    changes = [FieldChange(f, before[f], after[f]) for f in CORRECTABLE if before[f] != after[f]]
    if not changes:
        raise InvalidInput("Intet er ændret. Ret mindst ét felt, eller gå tilbage.")
    vault = CitizenVault(deps.crypto)
    pid = citizen.public_id
    key = vault.unwrap(pid, citizen.wrapped_key)
    for change in changes:
        value = change.after
        if change.field in _SEALED:
            sealed = vault.seal(key, pid, change.field, value) if value is not None else None
            setattr(citizen, f"{change.field}_sealed", sealed)
        else:
            setattr(citizen, change.field, value)
    payload = {
        "changes": [{"field": c.field, "before": c.before, "after": c.after} for c in changes],
        "reason": reason,
    }
    row = CitizenChange(
        citizen_id=citizen.id,
        organisation_id=citizen.organisation_id,
        changes_sealed=vault.seal(key, pid, _CHANGE_COLUMN, json.dumps(payload)),
        changed_at=deps.clock.now(),
        changed_by=actor.user_id or 0,
    )
    session.add(row)
    session.flush()
    deps.audit.record(
        session,
        actor,
        action="citizen.corrected",
        outcome="success",
        resource_type="citizen",
        resource_id=pid,
        details={"fields": [c.field for c in changes]},
    )
    return row


def history(session: Session, deps: ServiceDeps, citizen: Citizen) -> list[ChangeView]:
    """The citizen's corrections, newest first, opened with their identity key and with
    the people who made them named (not audited: the page that shows them records the
    read of the citizen)."""
    rows = repo.changes_of(session, citizen.id)
    if not rows:
        return []
    vault = CitizenVault(deps.crypto)
    key = vault.unwrap(citizen.public_id, citizen.wrapped_key)
    names = display_names(session, citizen.organisation_id, {r.changed_by for r in rows})
    out = []
    for row in rows:
        payload = json.loads(vault.open(key, citizen.public_id, _CHANGE_COLUMN, row.changes_sealed))
        out.append(
            ChangeView(
                changed_at=row.changed_at,
                changed_by=names.get(row.changed_by, "en tidligere bruger"),
                changes=tuple(
                    FieldChange(c["field"], c["before"], c["after"]) for c in payload["changes"]
                ),
                reason=payload["reason"],
            )
        )
    return out

"""What the DPO does with the audit log, besides reading it: find a citizen's pseudonymous
id by CPR (itself audited), and build a citizen's access report (GDPR art. 15).

The DPO sees metadata, never content: nothing here decrypts a citizen's record. The CPR
number is the one the DPO typed; it is used through the blind index and not stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.audit.catalogue import default_event_catalogue
from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import Actor
from consent_service.audit.scope import concerns_organisation
from consent_service.citizens.models import Citizen
from consent_service.citizens.probes import record_probes
from consent_service.citizens.service import parse_cpr_input
from consent_service.identity.models import Organisation, User
from consent_service.services import ServiceDeps

LOOKUP_PURPOSES = {
    "log_review": "Gennemgang af logning",
    "access_report": "Indsigtsanmodning (artikel 15)",
}


def lookup_citizen(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    organisation_id: int,
    cpr_text: str,
    purpose: str,
) -> Citizen | None:
    """The citizen with this CPR number in the DPO's organisation, through the blind index.
    The lookup is audited with its purpose, result and the number as a keyed hash, never
    the number; a number registered only in another organisation is a cross-organisation
    probe there (``citizens.probes.record_probes``), as a navigator's search is."""
    if purpose not in LOOKUP_PURPOSES:
        raise ValueError(f"unknown lookup purpose {purpose!r}")
    cpr = parse_cpr_input(cpr_text, deps)
    citizen = session.scalar(
        select(Citizen).where(
            Citizen.organisation_id == organisation_id,
            Citizen.cpr_index == deps.crypto.blind_index(organisation_id, cpr.value),
        )
    )
    deps.audit.record(
        session,
        actor,
        action="audit.citizen_lookup",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id if citizen else None,
        details={
            "purpose": purpose,
            "criterion_hash": deps.crypto.search_criterion_hash(cpr.value),
            "found": citizen is not None,
        },
    )
    if citizen is None:
        record_probes(session, deps, actor, organisation_id, cpr, via="dpo_lookup")
    return citizen


@dataclass(frozen=True)
class AccessItem:
    seq: int
    occurred_at: datetime
    action: str
    outcome: str
    what_da: str  # what was done, for the citizen
    why_da: str  # the purpose, for the citizen
    staff_name: str | None  # for the DPO's eyes only
    staff_role: str | None
    organisation: str | None


def access_report(
    session: Session, organisation_id: int, citizen_public_id: str
) -> list[AccessItem]:
    """Every audited use of the citizen's data, oldest first: when, what and why, and (for
    the DPO) by whom. The DPO's own look-ups to answer the request are included: they are
    uses of the data too. Only events that concern the DPO's organisation
    (``scope.concerns_organisation``), the citizen's data controller."""
    catalogue = default_event_catalogue()
    rows = session.execute(
        select(AuditEvent, User.display_name, User.role, Organisation.name)
        .outerjoin(User, User.id == AuditEvent.actor_user_id)
        .outerjoin(Organisation, Organisation.id == AuditEvent.organisation_id)
        .where(
            AuditEvent.resource_type == "citizen",
            AuditEvent.resource_id == citizen_public_id,
            concerns_organisation(organisation_id),
        )
        .order_by(AuditEvent.seq)
    )
    items = []
    for event, staff, role, organisation in rows:
        wording = catalogue.citizen_wording(event.action)
        items.append(
            AccessItem(
                seq=event.seq,
                occurred_at=event.occurred_at,
                action=event.action,
                outcome=event.outcome,
                what_da=wording.what_da,
                why_da=wording.why_da,
                staff_name=staff,
                staff_role=role,
                organisation=organisation,
            )
        )
    return items


def record_report(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    citizen_public_id: str,
    version: str,
    items: Sequence[AccessItem],
    fmt: str,
) -> None:
    deps.audit.record(
        session,
        actor,
        action="audit.access_report",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen_public_id,
        details={"version": version, "format": fmt, "entries": len(items)},
    )

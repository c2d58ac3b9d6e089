"""What the DPO does with the audit log, each audited: read a page of it or the rejected
attempts, verify it, fetch a witness's cosigned checkpoint, find a citizen's pseudonymous
id by CPR, and build a citizen's access report (GDPR art. 15).

The DPO sees metadata, never content: nothing here decrypts a citizen's record. The CPR
number is the one the DPO typed; it is used through the blind index and not stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from consent_service.audit.catalogue import default_event_catalogue
from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import Actor
from consent_service.audit.service import Verification, verify_chain
from consent_service.audit.witnessing import CosignedNote, newest_cosigned_note
from consent_service.citizens import repository as citizens_repo
from consent_service.citizens.models import Citizen
from consent_service.citizens.probes import record_probes
from consent_service.citizens.service import parse_cpr_input
from consent_service.config import WitnessTarget
from consent_service.consents import paper
from consent_service.consents.catalogue import catalogue as consent_catalogue
from consent_service.errors import NotFound
from consent_service.extracts.policy import default_extract_policy
from consent_service.identity import repository as identity_repo
from consent_service.identity.models import User
from consent_service.oversight import repository
from consent_service.oversight.review_query import (
    MAX_PAGE_SIZE,
    AuditPage,
    RejectedGroup,
    count_matching,
    decisions_of_requests,
    rejected_attempts,
    search,
)
from consent_service.oversight.schemas import AuditFilter
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
    citizen = citizens_repo.holder_of_cpr_index(
        session, organisation_id, deps.crypto.blind_index(organisation_id, cpr.value)
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
    request_id: str | None = None  # for the DPO's eyes only


def access_report(
    session: Session, organisation_id: int, citizen_public_id: str
) -> list[AccessItem]:
    """Every audited use of the citizen's data, oldest first: when, what and why, and (for
    the DPO) by whom. The DPO's own look-ups to answer the request are included: they are
    uses of the data too. Only events that concern the DPO's organisation
    (``scope.concerns_organisation``), the citizen's data controller."""
    catalogue = default_event_catalogue()
    rows = repository.citizen_events_with_staff(session, organisation_id, citizen_public_id)
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
                request_id=event.request_id,
            )
        )
    return items


@dataclass(frozen=True)
class ExtractItem:
    """A disclosure of the citizen's data by a register extract: their CPR number (or
    pseudonymised answers) sent to the recipient for the purpose, under the legal basis
    and the consent recorded with it."""

    extract_id: str
    obtained_on: date  # the day of the disclosure
    recorded_at: datetime
    purpose_da: str
    recipient: str
    legal_basis: str
    registers_da: str  # the registers (sources) asked
    consent_da: str  # the consent used: its kind and text version
    text_sha256: str  # the exact text signed (for the DPO's eyes only)
    approved_by: str | None  # for the DPO's eyes only
    executed_by: str | None  # for the DPO's eyes only


def extracts_report(session: Session, organisation_id: int, citizen: Citizen) -> list[ExtractItem]:
    """Each disclosure of the citizen's data by the organisation's register extracts,
    oldest first, in Danish: purpose and registers by ``policies/extracts.yaml``, the
    recipient and legal basis as recorded with the disclosure."""
    policy = default_extract_policy()
    rows = repository.disclosures_of_citizen(session, organisation_id, citizen.id)
    people = {
        u.id: u.display_name for u in identity_repo.users_of_organisation(session, organisation_id)
    }
    items = []
    for disclosure, extract in rows:
        purpose = policy.purposes.get(disclosure.purpose)
        sources = extract.sources.split()
        registers = (
            ", ".join(purpose.sources[s].da if s in purpose.sources else s for s in sources)
            if purpose
            else " ".join(sources)
        )
        items.append(
            ExtractItem(
                extract_id=extract.public_id,
                obtained_on=disclosure.disclosed_on,
                recorded_at=disclosure.recorded_at,
                purpose_da=purpose.da if purpose else disclosure.purpose,
                recipient=disclosure.recipient,
                legal_basis=disclosure.legal_basis,
                registers_da=registers,
                consent_da=(
                    f"{consent_catalogue().name(disclosure.consent_kind)}, tekstversion "
                    f"{disclosure.template_version}"
                ),
                text_sha256=disclosure.text_sha256,
                approved_by=people.get(extract.decided_by or 0),
                executed_by=people.get(extract.executed_by or 0),
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
    extracts: int = 0,
) -> None:
    """Record that the access report of the citizen was made, in which version and
    format, with how many entries."""
    deps.audit.record(
        session,
        actor,
        action="audit.access_report",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen_public_id,
        details={"version": version, "format": fmt, "entries": len(items), "extracts": extracts},
    )


def view_log(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    audit_filter: AuditFilter,
    *,
    before_seq: int | None,
    criteria: Mapping[str, object],
) -> AuditPage:
    """One page of the log search, audited with the reviewer's ``criteria`` (as the DPO
    typed them, never a CPR number) and how many rows it showed."""
    result = search(session, audit_filter, before_seq=before_seq)
    deps.audit.record(
        session,
        actor,
        action="audit.log_viewed",
        outcome="success",
        details={**criteria, "rows": len(result.events)},
    )
    return result


def decisions_for(
    session: Session, organisation_id: int, request_ids: Sequence[str]
) -> dict[str, AuditEvent]:
    """The permission decisions of the requests, to fold into their actions' rows."""
    return decisions_of_requests(session, request_ids, organisation_id)


def export_log(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    audit_filter: AuditFilter,
    max_rows: int,
    *,
    criteria: Mapping[str, object],
) -> list[AuditEvent] | None:
    """Every event of the filter, newest first, for the CSV export; None (and nothing
    audited) if there are more than ``max_rows``. The export is audited with the filter
    and the row count, in the caller's transaction."""
    if count_matching(session, audit_filter) > max_rows:
        return None
    events: list[AuditEvent] = []
    before: int | None = None
    while True:
        result = search(session, audit_filter, before_seq=before, page_size=MAX_PAGE_SIZE)
        events.extend(result.events)
        before = result.next_before_seq
        if before is None:
            break
    deps.audit.record(
        session,
        actor,
        action="audit.log_exported",
        outcome="success",
        details={**criteria, "rows": len(events), "format": "csv"},
    )
    return events


def view_rejected(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    organisation_id: int,
    first: date,
    last: date,
    occurred_from: datetime,
    occurred_to: datetime,
) -> list[RejectedGroup]:
    """The rejected attempts concerning the organisation in the period, audited."""
    groups = rejected_attempts(session, occurred_from, occurred_to, organisation_id)
    deps.audit.record(
        session,
        actor,
        action="audit.rejected_viewed",
        outcome="success",
        details={"from": first.isoformat(), "to": last.isoformat(), "groups": len(groups)},
    )
    return groups


def verify_now(session: Session, deps: ServiceDeps, actor: Actor) -> Verification:
    """Verify the whole log now (``service.verify_chain``); the result is audited."""
    result = verify_chain(session, deps.crypto.public_key)
    deps.audit.record(
        session,
        actor,
        action="audit.verified",
        outcome="success" if result.intact else "failure",
        details={
            "events": result.events,
            "checkpoints": result.checkpoints,
            "problems": len(result.problems) + result.omitted,
            "problem": str(result.problems[0]) if result.problems else None,
        },
    )
    return result


def fetch_cosigned_note(
    session: Session, deps: ServiceDeps, actor: Actor, witness: str | None
) -> tuple[WitnessTarget, CosignedNote]:
    """The newest checkpoint the configured witness named ``witness`` cosigned, as a note;
    the fetch is audited. Raises ``NotFound`` for an unknown witness or one that has
    cosigned nothing yet."""
    target = next((w for w in deps.settings.witnesses if w.name == witness), None)
    note = (
        newest_cosigned_note(session, deps.crypto.public_key, target)
        if target is not None
        else None
    )
    if target is None or note is None:
        raise NotFound("no such witness, or it has cosigned nothing yet")
    deps.audit.record(
        session,
        actor,
        action="audit.cosigned_note_fetched",
        outcome="success",
        resource_type="checkpoint",
        resource_id=str(note.seq),
        details={"witness": target.name, "seq": note.seq},
    )
    return target, note


def staff_member_named(session: Session, organisation_id: int, username: str) -> User | None:
    """The user of ``organisation_id`` with exactly that user name (a filter of the log
    search), None for another organisation's user exactly as for an unknown name."""
    return identity_repo.user_named_in_organisation(session, organisation_id, username)


def organisation_name(session: Session, organisation_id: int) -> str:
    """The organisation's name as a report heads it; empty for an unknown id."""
    org = identity_repo.organisation_by_id(session, organisation_id)
    return org.name if org else ""


def paper_overview(session: Session, organisation_id: int, today: date) -> paper.Unaccounted:
    """Signed paper originals not accounted for (``consents.paper.unaccounted``): never
    recorded in a place, out longer than ``policies/paper.yaml`` allows, or past their
    destruction deadline. Shown by form code and the citizen's pseudonymous id, no names."""
    return paper.unaccounted(session, organisation_id, today)

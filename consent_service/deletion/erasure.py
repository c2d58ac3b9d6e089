"""Erasure of one citizen (GDPR art. 17): proposed with a reason, decided by another
person, carried out by the crypto-shredding deletion, and stated for the answer.

A navigator or the DPO proposes the erasure with a reason from ``policies/erasure.yaml``
after seeing the dry run (``plan``): what would be deleted, and what is kept and why. A
data controller of the same organisation who is not the proposer approves it with a fresh
code (the endpoint checks the code); the approval, the deletion
(``deletion.service.delete_citizen`` with the rule ``erasure_<reason>``, which emits
``citizen.deleted``) and the proposal's new status commit together or not at all. What is
kept: the consent records and their history without identity (art. 7(1)), the deletion
record, the disclosures already made (listed, so the answer to the citizen can name them,
art. 19), and the signed paper originals until they are shredded (they then show on the
worklist's "Originaler der skal makuleres", ``consents.paper.awaiting_destruction``).

Of two decisions on one proposal, or two approvals of proposals for the same citizen, the
first wins: the citizen's row, then the proposal's, are locked before the status is read;
the second is refused and changes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.citizens import repository as citizens_repo
from consent_service.citizens.models import Citizen
from consent_service.citizens.vault import CitizenVault
from consent_service.consents import active, paper
from consent_service.consents import repository as consents_repo
from consent_service.consents.catalogue import catalogue
from consent_service.consents.paper_models import DESTROYED
from consent_service.deletion import erasure_query as query
from consent_service.deletion import repository
from consent_service.deletion.erasure_models import (
    APPROVED,
    CANCELLED,
    CARRIED_OUT,
    PROPOSED,
    REJECTED,
    ErasureProposal,
)
from consent_service.deletion.erasure_policy import deletion_rule, erasure_rules
from consent_service.deletion.service import delete_citizen
from consent_service.errors import InvalidInput, NotFound, RuleRefusal
from consent_service.extracts.policy import default_extract_policy
from consent_service.services import ServiceDeps

NOTE_MAX = 1000
COMMENT_MAX = 1000
NOTE_COLUMN = "erasure_note"  # the associated data of a sealed note


@dataclass(frozen=True)
class DisclosureMade:
    """A disclosure already made, as the answer to the citizen names it."""

    extract: str  # the extract request's public id
    day: date
    purpose: str  # Danish
    recipient: str


@dataclass(frozen=True)
class PaperOriginal:
    """A signed paper original not yet destroyed: it must be shredded after the erasure."""

    form_code: str | None
    state: str | None  # paper_custody_events, or None: never recorded
    location: str | None


@dataclass(frozen=True)
class ErasurePlan:
    """What erasing the citizen deletes and keeps (a dry run: nothing changes)."""

    citizen: str  # public id
    rows: dict[str, int]
    consent_records: int
    consent_events: int
    disclosures: tuple[DisclosureMade, ...]
    originals: tuple[PaperOriginal, ...]
    deleted: bool  # the citizen is erased already


def _disclosures(session: Session, citizen: Citizen) -> tuple[DisclosureMade, ...]:
    purposes = default_extract_policy().purposes
    return tuple(
        DisclosureMade(
            req.public_id,
            d.disclosed_on,
            purposes[d.purpose].da if d.purpose in purposes else d.purpose,
            d.recipient,
        )
        for d, req in query.disclosures_of(session, citizen.organisation_id, citizen.id)
    )


def _originals(session: Session, citizen: Citizen, today: date) -> tuple[PaperOriginal, ...]:
    custody = paper.custody_for_citizen(session, citizen, today)
    out = []
    for consent in consents_repo.consents_of(session, citizen.id):
        held = custody.get(consent.public_id)
        if held is None or held.state == DESTROYED:
            continue
        out.append(PaperOriginal(paper.form_code(session, consent), held.state, held.location))
    return tuple(out)


def plan(session: Session, citizen: Citizen, today: date) -> ErasurePlan:
    """The dry run of erasing ``citizen``: rows deleted per category (the deletion's own
    count, ``deletion.repository.citizen_rows``), and what is kept."""
    deleted = citizen.deleted_at is not None
    rows = {} if deleted else repository.citizen_rows(session, [citizen.id])
    consents, events = query.consent_counts(session, citizen.id)
    return ErasurePlan(
        citizen.public_id,
        rows,
        consents,
        events,
        _disclosures(session, citizen),
        _originals(session, citizen, today),
        deleted,
    )


def consents_in_force(session: Session, citizen: Citizen, today: date) -> list[str]:
    """The kinds of consent the citizen has given and not withdrawn (nor expired or
    invalidated) on ``today``."""
    kinds = catalogue().kinds
    return [
        kind
        for kind in kinds
        if active.in_force(active.states_of(session, citizen.id, kind), today) is not None
    ]


def check_proposal(
    session: Session, citizen: Citizen, reason: str, note: str, today: date
) -> tuple[str, str]:
    """(reason, note stripped) if a proposal may be made with them; else refused, the form
    mistakes (``InvalidInput``) first, then the rules (``RuleRefusal``)."""
    rules = erasure_rules()
    if reason not in rules.reasons:
        raise InvalidInput("Vælg, hvorfor borgeren skal slettes.", field="reason")
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput(f"Noten må højst have {NOTE_MAX} tegn.", field="note")
    if citizen.deleted_at is not None:
        raise RuleRefusal("Borgeren er allerede slettet.")
    if reason == "erasure_request_after_withdrawal" and consents_in_force(session, citizen, today):
        # GDPR art. 17(1)(b): erasure because the consent was withdrawn presupposes that it
        # was; a consent still in force is withdrawn first (consent:withdraw).
        raise RuleRefusal(
            "Borgeren har et samtykke, der ikke er tilbagekaldt. Registrér tilbagekaldelsen "
            "først, eller vælg en anden begrundelse."
        )
    return reason, note


def propose(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    citizen: Citizen,
    reason: str,
    note: str,
    today: date,
) -> ErasureProposal:
    """Propose erasing ``citizen`` with ``reason`` (policies/erasure.yaml) and an optional
    note (sealed under the citizen's identity key); audited ``erasure.proposed`` in the
    same transaction. Several proposals may wait for one citizen; the first approved
    closes the others."""
    reason, note = check_proposal(session, citizen, reason, note, today)
    sealed = None
    if note:
        vault = CitizenVault(deps.crypto)
        key = vault.unwrap(citizen.public_id, citizen.wrapped_key)
        sealed = vault.seal(key, citizen.public_id, NOTE_COLUMN, note)
    proposal = ErasureProposal(
        public_id=uuid.uuid4().hex,
        organisation_id=citizen.organisation_id,
        citizen_id=citizen.id,
        reason=reason,
        note_sealed=sealed,
        status=PROPOSED,
        proposed_by=actor.user_id or 0,
        proposed_at=deps.clock.now(),
    )
    session.add(proposal)
    session.flush()
    _audit(session, deps, actor, proposal, citizen, action="erasure.proposed")
    return proposal


def note_of(deps: ServiceDeps, proposal: ErasureProposal, citizen: Citizen) -> str | None:
    """The proposal's note, opened with the citizen's key; None if there is none or the
    citizen is erased (the key is gone)."""
    if proposal.note_sealed is None or citizen.wrapped_key is None:
        return None
    vault = CitizenVault(deps.crypto)
    key = vault.unwrap(citizen.public_id, citizen.wrapped_key)
    return vault.open(key, citizen.public_id, NOTE_COLUMN, proposal.note_sealed)


def proposal_in_organisation(
    session: Session, organisation_id: int, public_id: str
) -> ErasureProposal:
    """The organisation's proposal; ``NotFound`` for an unknown id and another
    organisation's alike, so a foreign id reveals nothing."""
    found = query.proposal_by_public_id(session, organisation_id, public_id[:32])
    if found is None:
        raise NotFound("erasure proposal")
    return found


def citizen_of(session: Session, proposal: ErasureProposal) -> Citizen:
    """The proposal's citizen, erased or not."""
    citizen = session.get(Citizen, proposal.citizen_id)
    if citizen is None:  # the foreign key forbids it
        raise NotFound("citizen")
    return citizen


def proposals_of_citizen(session: Session, citizen: Citizen) -> Sequence[ErasureProposal]:
    return query.proposals_of_citizen(session, citizen.id)


def proposals_of_organisation(
    session: Session, organisation_id: int
) -> Sequence[tuple[ErasureProposal, Citizen]]:
    return query.proposals_of_organisation(session, organisation_id)


_DECIDED_DA = {
    APPROVED: "Forslaget er allerede godkendt.",
    CARRIED_OUT: "Forslaget er allerede godkendt, og borgeren er slettet.",
    REJECTED: "Forslaget er allerede afvist.",
    CANCELLED: "Forslaget er annulleret.",
}


def _clean_comment(comment: str, *, required: bool) -> str:
    comment = comment.strip()
    if len(comment) > COMMENT_MAX:
        raise InvalidInput(f"Kommentaren må højst have {COMMENT_MAX} tegn.", field="comment")
    if required and not comment:
        raise InvalidInput("Skriv, hvorfor forslaget afvises.", field="comment")
    return comment


def _lock_open(session: Session, actor: Actor, proposal: ErasureProposal, citizen: Citizen) -> None:
    """Lock the citizen, then the proposal, and refuse unless it is open and not the
    actor's own (the access policy's ``not_self``, restated where the decision is made)."""
    citizens_repo.lock_citizen(session, citizen.id)
    query.lock_proposal(session, proposal)
    if proposal.status != PROPOSED:
        raise RuleRefusal(_DECIDED_DA.get(proposal.status, "Forslaget er allerede afgjort."))
    if actor.user_id is not None and proposal.proposed_by == actor.user_id:
        raise RuleRefusal("Den, der har foreslået sletningen, kan ikke selv godkende den.")


def approve(
    session: Session, deps: ServiceDeps, actor: Actor, proposal: ErasureProposal, comment: str
) -> dict[str, int]:
    """Approve the proposal and carry the erasure out, in this transaction: audited
    ``erasure.approved``, then the deletion (``citizen.deleted``, rule
    ``erasure_<reason>``); the other open proposals for the citizen are closed
    (``erasure.cancelled``). The caller has checked a fresh code. Returns the rows
    deleted per category."""
    comment = _clean_comment(comment, required=False)
    citizen = citizen_of(session, proposal)
    _lock_open(session, actor, proposal, citizen)
    if citizen.deleted_at is not None:
        raise RuleRefusal("Borgeren er allerede slettet.")
    now = deps.clock.now()
    proposal.status = APPROVED
    proposal.decided_by, proposal.decided_at = actor.user_id, now
    proposal.decision_comment = comment or None
    session.flush()
    _audit(session, deps, actor, proposal, citizen, action="erasure.approved")
    record = delete_citizen(session, deps, actor, citizen, deletion_rule(proposal.reason))
    proposal.status = CARRIED_OUT
    proposal.deleted_rows = json.dumps(record.rows, sort_keys=True)
    for other in query.proposals_of_citizen(session, citizen.id):
        if other.id != proposal.id and other.status == PROPOSED:
            other.status = CANCELLED
            other.decided_by, other.decided_at = actor.user_id, now
            other.decision_comment = "Borgeren er slettet efter et andet forslag."
            _audit(session, deps, actor, other, citizen, action="erasure.cancelled")
    session.flush()
    return record.rows


def reject(
    session: Session, deps: ServiceDeps, actor: Actor, proposal: ErasureProposal, comment: str
) -> None:
    """Reject the proposal with a comment; audited ``erasure.rejected``. Nothing is
    deleted."""
    comment = _clean_comment(comment, required=True)
    citizen = citizen_of(session, proposal)
    _lock_open(session, actor, proposal, citizen)
    proposal.status = REJECTED
    proposal.decided_by, proposal.decided_at = actor.user_id, deps.clock.now()
    proposal.decision_comment = comment
    session.flush()
    _audit(session, deps, actor, proposal, citizen, action="erasure.rejected")


def _audit(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    proposal: ErasureProposal,
    citizen: Citizen,
    *,
    action: str,
) -> None:
    deps.audit.record(
        session,
        actor,
        action=action,
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        organisation_id=proposal.organisation_id,
        details={"proposal": proposal.public_id, "reason": proposal.reason},
    )


def deleted_rows(proposal: ErasureProposal) -> dict[str, int]:
    """What the carried-out erasure deleted, per category."""
    if not proposal.deleted_rows:
        return {}
    rows: dict[str, int] = json.loads(proposal.deleted_rows)
    return rows

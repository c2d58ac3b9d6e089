"""An extract request from draft to decision: the data controller's draft, checked
against the extract policy, and the second data controller's approval or rejection
(four eyes). Loading a request goes through ``request_in_organisation``: another
organisation's request is not found, exactly like an unknown one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.citizens.cohorts import default_cohorts
from consent_service.clock import legal_today
from consent_service.errors import InvalidInput, NotFound, RuleRefusal
from consent_service.extracts import repository, rules
from consent_service.extracts.models import ExtractFile, ExtractRequest
from consent_service.extracts.policy import default_extract_policy
from consent_service.services import ServiceDeps

LIST_LIMIT = 200


@dataclass(frozen=True)
class DraftInput:
    purpose: str
    sources: list[str]
    fields: list[str]
    cohort: str
    measurement_years: int
    planned_on: date


def record_event(
    session: Session, deps: ServiceDeps, actor: Actor, req: ExtractRequest, *, action: str,
    details: dict[str, Any] | None = None, outcome: str = "success",
) -> None:  # fmt: skip
    """Audit an event of the request (with its purpose), in the caller's transaction."""
    deps.audit.record(
        session, actor, action=action, outcome=outcome, resource_type="extract",
        resource_id=req.public_id, organisation_id=req.organisation_id,
        details={"purpose": req.purpose, **(details or {})},
    )  # fmt: skip


def request_in_organisation(
    session: Session, organisation_id: int, public_id: str
) -> ExtractRequest:
    """The organisation's request by public id; raises ``NotFound`` for an unknown id and
    for another organisation's alike, so a foreign id reveals nothing."""
    req = repository.request_by_public_id(session, organisation_id, public_id)
    if req is None:
        raise NotFound("extract")
    return req


def latest_requests(session: Session, organisation_id: int) -> Sequence[ExtractRequest]:
    """The organisation's newest requests, for the list page."""
    return repository.latest_requests(session, organisation_id, LIST_LIMIT)


def files_of(session: Session, req: ExtractRequest) -> Sequence[ExtractFile]:
    """The files an executed request wrote (none before execution or after deletion)."""
    return repository.files_of(session, req.id)


def draft(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, data: DraftInput
) -> ExtractRequest:
    """A data controller drafts a request; anything outside the policy is refused with
    the rule that refuses it."""
    policy = default_extract_policy()
    refusal = policy.refusal(data.purpose, data.sources, data.fields, data.measurement_years)
    if refusal is not None:
        raise RuleRefusal(refusal)
    if data.cohort not in {c.id for c in default_cohorts().cohorts}:
        raise InvalidInput("Vælg et hold.", field="cohort")
    if data.planned_on < legal_today(deps.clock):
        raise InvalidInput("Den planlagte dato må ikke ligge i fortiden.", field="planned_on")
    req = ExtractRequest(
        public_id=uuid.uuid4().hex,
        organisation_id=organisation_id,
        purpose=data.purpose,
        sources=" ".join(sorted(set(data.sources))),
        fields=" ".join(sorted(set(data.fields))),
        cohort=data.cohort,
        measurement_years=data.measurement_years,
        planned_on=data.planned_on,
        status="draft",
        requested_by=actor.user_id or 0,
        requested_at=deps.clock.now(),
        policy_sha256=policy.sha256,
        downloads=0,
    )
    session.add(req)
    session.flush()
    record_event(session, deps, actor, req, action="extract.requested",
                 details={"cohort": req.cohort, "measurement": req.measurement_years,
                          "sources": req.sources, "fields": req.fields})  # fmt: skip
    return req


def decide(
    session: Session, deps: ServiceDeps, actor: Actor, req: ExtractRequest, *,
    approve: bool, comment: str,
) -> None:  # fmt: skip
    """The second data controller approves or rejects. The requester never decides on
    their own request (the access policy's ``not_self`` says so too; this is the rule
    restated where the decision is made)."""
    if req.status != "draft":
        raise RuleRefusal("Anmodningen er allerede afgjort.")
    if rules.is_requester(req, actor.user_id):
        raise RuleRefusal("Den, der har anmodet om udtrækket, kan ikke selv godkende det.")
    comment = comment.strip()
    if len(comment) > 1000:
        raise InvalidInput("Kommentaren er for lang (højst 1000 tegn).", field="comment")
    if default_extract_policy().sha256 != req.policy_sha256:
        raise RuleRefusal(
            "Udtrækspolitikken er ændret, siden anmodningen blev lavet. Lav en ny anmodning."
        )
    req.status = "approved" if approve else "rejected"
    req.decided_by, req.decided_at, req.decision_comment = actor.user_id, deps.clock.now(), comment
    record_event(
        session, deps, actor, req, action="extract.approved" if approve else "extract.rejected"
    )

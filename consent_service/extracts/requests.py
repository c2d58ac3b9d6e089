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
from consent_service.extracts import gate, gate_query, repository, rules
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


class DraftRefused(RuleRefusal):
    """The extract policy refuses a draft; ``field`` is the form field it is about."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def draft_problems(
    deps: ServiceDeps, purpose: str, sources: list[str], fields: list[str], cohort: str,
    measurement_years: int | None, planned_on: date | None,
) -> list[tuple[str, str]]:  # fmt: skip
    """Every way a draft breaks the policy or the form's rules, as (form field, Danish
    message), so a page can name them all at once; None is a value the page could not
    read (it says so itself)."""
    found = default_extract_policy().problems(purpose, sources, fields, measurement_years)
    if cohort not in {c.id for c in default_cohorts().cohorts}:
        found.append(("cohort", "Vælg et hold."))
    if planned_on is not None and planned_on < legal_today(deps.clock):
        found.append(("planned_on", "Den planlagte dato må ikke ligge i fortiden."))
    return found


def draft(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, data: DraftInput
) -> ExtractRequest:
    """A data controller drafts a request; anything outside the policy is refused with
    the rule that refuses it."""
    policy = default_extract_policy()
    refusal = policy.problems(data.purpose, data.sources, data.fields, data.measurement_years)
    if refusal:
        raise DraftRefused(refusal[0][1], refusal[0][0])
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


def lock(session: Session, req: ExtractRequest) -> None:
    """Take the request's row for this transaction and read it again, so two changes of
    one request (approve, reject, cancel, execute, download) run one after the other and
    the second sees what the first did (PostgreSQL's row lock; SQLite's transactions take
    the write lock when they begin)."""
    session.refresh(req, with_for_update=True)


def decide(
    session: Session, deps: ServiceDeps, actor: Actor, req: ExtractRequest, *,
    approve: bool, comment: str,
) -> None:  # fmt: skip
    """The second data controller approves or rejects. The requester never decides on
    their own request (the access policy's ``not_self`` says so too; this is the rule
    restated where the decision is made). A rejection says why; an approval may."""
    comment = comment.strip()
    if len(comment) > COMMENT_MAX:
        raise InvalidInput(f"Begrundelsen er for lang (højst {COMMENT_MAX} tegn).", field="comment")
    if not approve and not comment:
        raise InvalidInput("Skriv, hvorfor anmodningen afvises.", field="comment")
    lock(session, req)
    if req.status != "draft":
        raise RuleRefusal(_decided_already(req))
    if rules.is_requester(req, actor.user_id):
        raise RuleRefusal("Den, der har anmodet om udtrækket, kan ikke selv godkende det.")
    if default_extract_policy().sha256 != req.policy_sha256:
        raise RuleRefusal(
            "Udtrækspolitikken er ændret, siden anmodningen blev lavet. Lav en ny anmodning."
        )
    req.status = "approved" if approve else "rejected"
    req.decided_by, req.decided_at, req.decision_comment = actor.user_id, deps.clock.now(), comment
    record_event(
        session, deps, actor, req, action="extract.approved" if approve else "extract.rejected"
    )


COMMENT_MAX = 1000

_STATUS_DA = {
    "approved": "Anmodningen er allerede godkendt.",
    "rejected": "Anmodningen er allerede afvist.",
    "executed": "Udtrækket er allerede udført.",
    "cancelled": "Anmodningen er annulleret.",
}


def _decided_already(req: ExtractRequest) -> str:
    return _STATUS_DA.get(req.status, "Anmodningen er allerede afgjort.")


def check_cancel(req: ExtractRequest, reason: str) -> str:
    """The reason, stripped, if ``req`` may be cancelled with it; else refused: only a
    draft, or an approved request not yet executed, and only with a reason."""
    if req.status not in rules.CANCELLABLE:
        raise RuleRefusal(
            _decided_already(req) + " Kun en anmodning, der afventer godkendelse eller er "
            "godkendt og ikke udført, kan annulleres."
        )
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Skriv, hvorfor anmodningen annulleres.", field="reason")
    if len(reason) > COMMENT_MAX:
        raise InvalidInput(f"Begrundelsen er for lang (højst {COMMENT_MAX} tegn).", field="reason")
    return reason


def cancel(
    session: Session, deps: ServiceDeps, actor: Actor, req: ExtractRequest, reason: str
) -> None:
    """A data controller of the organisation (the requester or another) cancels a draft,
    or an approved request not yet executed, with a reason; audited
    (``extract.cancelled``) in the same transaction. The row is locked first, so a
    cancellation and an approval or execution of the same request never both succeed."""
    check_cancel(req, reason)  # the reason first: a form mistake changes nothing
    lock(session, req)
    reason = check_cancel(req, reason)
    before = req.status
    req.status = "cancelled"
    req.cancelled_at, req.cancelled_by, req.cancel_reason = deps.clock.now(), actor.user_id, reason
    record_event(session, deps, actor, req, action="extract.cancelled", details={"was": before})


@dataclass(frozen=True)
class GatePreview:
    """What the consent gate would do on the request's planned day, as things stand."""

    on: date
    included: int
    excluded: dict[str, int]


def gate_preview(session: Session, req: ExtractRequest) -> GatePreview | None:
    """The gate on the planned day for the approver: counts included and excluded by
    reason (the gate's own counting, ``gate_query.reason_counts``); None for a purpose
    the current policy no longer has."""
    purpose = default_extract_policy().purposes.get(req.purpose)
    if purpose is None:
        return None
    counts = gate_query.reason_counts(
        session, req.organisation_id, req.cohort, purpose.consent_kind, req.planned_on
    )
    included = counts.pop(gate.COVERED, 0)
    place = {reason: i for i, reason in enumerate(gate.REASONS_DA)}
    excluded = dict(sorted(counts.items(), key=lambda kv: place.get(kv[0], len(place))))
    return GatePreview(req.planned_on, included, excluded)

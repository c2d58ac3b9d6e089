"""The register of data-subject requests: registered from the citizen's page, extended
within the first month, answered or refused, and every missed deadline recorded once.

Each change and its audit event commit together (the caller's transaction). The free
text (why the deadline was extended, what the answer said) is sealed under the citizen's
identity key, as a correction's history is (``citizens.corrections``), and never goes
into the log: the events name the request, its kind and its dates only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.citizens import service as citizens
from consent_service.citizens.models import Citizen
from consent_service.citizens.probes import probe_not_found
from consent_service.citizens.vault import CitizenKeyDestroyed, CitizenVault
from consent_service.clock import legal_today
from consent_service.errors import InvalidInput, NotFound, RuleRefusal
from consent_service.identity.users import display_names
from consent_service.services import ServiceDeps
from consent_service.subject_requests import repository as repo
from consent_service.subject_requests import rules
from consent_service.subject_requests.models import SubjectRequest
from consent_service.subject_requests.policy import (
    ANSWERED,
    CLOSING,
    EXTENDED,
    OPEN_STATUSES,
    RECEIVED,
    request_rules,
)

REASON_MAX = 1000
NOTE_MAX = 2000
_EXTENSION_COLUMN = "subject_request_extension"
_ANSWER_COLUMN = "subject_request_answer"
# How far back a receipt date may lie: a typo (2062 for 2026, 1926) is caught.
OLDEST_RECEIPT_DAYS = 366


@dataclass(frozen=True)
class RequestInput:
    kind: str
    channel: str
    received_on: date


def _aad_column(column: str, request: SubjectRequest) -> str:
    """A sealed text's column, bound to its request (a copy to another row fails)."""
    return f"{column}:{request.public_id}"


def _clean(value: str, field: str, max_len: int, missing: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(missing, field=field)
    if len(value) > max_len:
        raise InvalidInput(f"Højst {max_len} tegn.", field=field)
    return value


def _seal(deps: ServiceDeps, citizen: Citizen, column: str, value: str) -> bytes:
    vault = CitizenVault(deps.crypto)
    key = vault.unwrap(citizen.public_id, citizen.wrapped_key)
    return vault.seal(key, citizen.public_id, column, value)


def request_in_organisation(
    session: Session, organisation_id: int, public_id: str
) -> tuple[SubjectRequest, Citizen]:
    """The organisation's request ``public_id`` and its citizen; an unknown id and
    another organisation's request are both ``NotFound`` (the second a ``ProbeNotFound``,
    recorded in that organisation's log as a cross-organisation probe of its citizen)."""
    found = repo.by_public_id(session, organisation_id, public_id)
    if found is None:
        foreign = repo.by_public_id_any_organisation(session, public_id)
        owner = session.get(Citizen, foreign.citizen_id) if foreign is not None else None
        if owner is not None and owner.organisation_id != organisation_id:
            raise probe_not_found(organisation_id, owner, via="subject_request")
        raise NotFound("subject request")
    citizen = session.get(Citizen, found.citizen_id)
    if citizen is None or citizen.organisation_id != organisation_id:
        raise NotFound("subject request")
    return found, citizen


def register(
    session: Session, deps: ServiceDeps, actor: Actor, citizen: Citizen, data: RequestInput
) -> SubjectRequest:
    """Register a request the citizen made; its deadline is one month after receipt
    (GDPR art. 12(3), months counted per Reg. 1182/71)."""
    policy = request_rules()
    today = legal_today(deps.clock)
    if data.kind not in policy.kinds:
        raise InvalidInput("Vælg, hvad borgeren anmoder om.", field="kind")
    if data.channel not in policy.channels:
        raise InvalidInput("Vælg, hvordan anmodningen kom.", field="channel")
    if data.received_on > today:
        raise InvalidInput("Modtagelsesdatoen kan ikke ligge efter i dag.", field="received_on")
    if (today - data.received_on).days > OLDEST_RECEIPT_DAYS:
        raise InvalidInput(
            "Modtagelsesdatoen ligger mere end et år tilbage. Tjek datoen.", field="received_on"
        )
    if citizen.deleted_at is not None:
        raise RuleRefusal("Borgeren er slettet.")
    request = SubjectRequest(
        public_id=uuid.uuid4().hex,
        organisation_id=citizen.organisation_id,
        citizen_id=citizen.id,
        kind=data.kind,
        channel=data.channel,
        received_on=data.received_on,
        deadline_on=rules.one_month_after(data.received_on),
        status=RECEIVED,
        registered_at=deps.clock.now(),
        registered_by=actor.user_id or 0,
    )
    session.add(request)
    session.flush()
    _audit(session, deps, actor, citizen, request, action="subject_request.registered", details={
        "kind": request.kind, "channel": request.channel,
        "received_on": request.received_on.isoformat(),
        "deadline": request.deadline_on.isoformat(),
    })  # fmt: skip
    return request


def extend(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    request: SubjectRequest,
    citizen: Citizen,
    *,
    new_deadline: date,
    reason: str,
) -> SubjectRequest:
    """Extend the deadline, with the reason told to the citizen (art. 12(3)): only on or
    before the original deadline, once, by at most two further months."""
    reason = _clean(reason, "reason", REASON_MAX, "Skriv begrundelsen, som borgeren får.")
    request = repo.lock(session, request.id)
    policy = request_rules()
    today = legal_today(deps.clock)
    why_not = rules.extension_refusal(
        is_open=request.status in OPEN_STATUSES,
        already_extended=request.extended_to is not None,
        deadline=request.deadline_on,
        new_deadline=new_deadline,
        today=today,
        max_extension_months=policy.max_extension_months,
    )
    if why_not is not None:
        if (
            request.status in OPEN_STATUSES
            and request.extended_to is None
            and today <= request.deadline_on
        ):
            raise InvalidInput(why_not, field="new_deadline")  # a date to correct
        raise RuleRefusal(why_not)
    request.status = EXTENDED
    request.extended_to = new_deadline
    request.extended_on = today
    request.extension_sealed = _seal(deps, citizen, _aad_column(_EXTENSION_COLUMN, request), reason)
    request.handled_by = actor.user_id or 0
    session.flush()
    _audit(session, deps, actor, citizen, request, action="subject_request.extended", details={
        "deadline": request.deadline_on.isoformat(), "extended_to": new_deadline.isoformat(),
    })  # fmt: skip
    return request


def answer(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    request: SubjectRequest,
    citizen: Citizen,
    *,
    outcome: str,
    answered_on: date,
    note: str,
) -> SubjectRequest:
    """Record the answer (``answered``) or the refusal (``refused``, art. 12(4): with the
    reasons) given on ``answered_on``, with a summary. An answer after the deadline is
    recorded as late; it is still recorded."""
    if outcome not in CLOSING:
        raise InvalidInput("Vælg, om anmodningen er besvaret eller afvist.", field="outcome")
    missing = (
        "Skriv kort, hvad borgeren fik svar."
        if outcome == ANSWERED
        else "Skriv, hvorfor anmodningen er afvist (borgeren skal have begrundelsen)."
    )
    note = _clean(note, "note", NOTE_MAX, missing)
    request = repo.lock(session, request.id)
    today = legal_today(deps.clock)
    if request.status not in OPEN_STATUSES:
        raise RuleRefusal("Anmodningen er allerede afsluttet.")
    if answered_on > today:
        raise InvalidInput("Svardatoen kan ikke ligge efter i dag.", field="answered_on")
    if answered_on < request.received_on:
        raise InvalidInput(
            f"Svardatoen kan ikke ligge før modtagelsen {request.received_on:%d-%m-%Y}.",
            field="answered_on",
        )
    request.status = outcome
    request.answered_on = answered_on
    request.answer_sealed = _seal(deps, citizen, _aad_column(_ANSWER_COLUMN, request), note)
    request.handled_by = actor.user_id or 0
    session.flush()
    late = rules.timing(request.current_deadline, answered_on, today).overdue
    _audit(session, deps, actor, citizen, request, action="subject_request.answered", details={
        "outcome": outcome, "answered_on": answered_on.isoformat(),
        "deadline": request.current_deadline.isoformat(), "late": late,
    })  # fmt: skip
    return request


def _audit(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    citizen: Citizen,
    request: SubjectRequest,
    *,
    action: str,
    details: dict[str, object],
) -> None:
    deps.audit.record(
        session,
        actor,
        action=action,
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        organisation_id=request.organisation_id,
        details={"request": request.public_id, **details},
    )


# --- views -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestView:
    """A request as the citizen's page shows it (free text opened)."""

    request: SubjectRequest
    timing: rules.Timing
    kind_name: str
    channel_name: str
    status_name: str
    extension_reason: str | None
    answer_note: str | None
    handled_by: str | None

    @property
    def is_open(self) -> bool:
        return self.request.status in OPEN_STATUSES

    @property
    def may_extend(self) -> bool:
        return (
            self.request.status == RECEIVED
            and self.timing.days_left is not None
            and self.timing.days_left >= 0
        )

    @property
    def latest_extension(self) -> date:
        return rules.latest_extended_deadline(
            self.request.deadline_on, request_rules().max_extension_months
        )


def citizen_requests(
    session: Session, deps: ServiceDeps, citizen: Citizen, today: date
) -> list[RequestView]:
    """The citizen's requests, newest first, with their free text opened (not audited:
    the page that shows them records the read of the citizen)."""
    rows = repo.of_citizen(session, citizen.id)
    if not rows:
        return []
    policy = request_rules()
    vault = CitizenVault(deps.crypto)
    try:
        key: bytes | None = vault.unwrap(citizen.public_id, citizen.wrapped_key)
    except CitizenKeyDestroyed:
        key = None
    names = display_names(
        session, citizen.organisation_id, {r.handled_by for r in rows if r.handled_by}
    )

    def opened(column: str, row: SubjectRequest, sealed: bytes | None) -> str | None:
        if sealed is None or key is None:
            return None
        return vault.open(key, citizen.public_id, _aad_column(column, row), sealed)

    return [
        RequestView(
            request=row,
            timing=rules.timing(row.current_deadline, row.answered_on, today),
            kind_name=policy.kind_name(row.kind),
            channel_name=policy.channels[row.channel],
            status_name=policy.statuses[row.status],
            extension_reason=opened(_EXTENSION_COLUMN, row, row.extension_sealed),
            answer_note=opened(_ANSWER_COLUMN, row, row.answer_sealed),
            handled_by=names.get(row.handled_by) if row.handled_by else None,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class OpenRequest:
    """An open request in the organisation's list: the citizen by name (for those who
    manage requests) or by pseudonymous id only."""

    request: SubjectRequest
    citizen_public_id: str
    citizen_name: str | None
    timing: rules.Timing
    kind_name: str
    status_name: str


def open_requests(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, *, with_names: bool
) -> list[OpenRequest]:
    """The organisation's open requests, nearest deadline first. With names, each citizen
    named is a read (``citizen.listed``); without, citizens appear by pseudonymous id."""
    policy = request_rules()
    today = legal_today(deps.clock)
    out = []
    for request, citizen in repo.open_of_organisation(session, organisation_id):
        name = None
        if with_names:
            try:
                name = citizens.decrypt(deps, citizen).name
            except CitizenKeyDestroyed:
                name = None
        out.append(
            OpenRequest(
                request=request,
                citizen_public_id=citizen.public_id,
                citizen_name=name,
                timing=rules.timing(request.current_deadline, None, today),
                kind_name=policy.kind_name(request.kind),
                status_name=policy.statuses[request.status],
            )
        )
    out.sort(key=lambda o: (o.timing.deadline, o.request.received_on, o.request.id))
    if with_names:
        for public_id in dict.fromkeys(o.citizen_public_id for o in out if o.citizen_name):
            deps.audit.record(
                session,
                actor,
                action="citizen.listed",
                outcome="success",
                resource_type="citizen",
                resource_id=public_id,
            )
    return out


def due_soon_count(session: Session, organisation_id: int, today: date) -> int:
    """How many open requests are due within the warning period or overdue."""
    warn = request_rules().warn_within_days
    return sum(
        1
        for request, _ in repo.open_of_organisation(session, organisation_id)
        if rules.timing(request.current_deadline, None, today).due_soon(warn)
    )


def record_overdue(session: Session, deps: ServiceDeps, actor: Actor) -> int:
    """Record ``subject_request.overdue`` once for each request whose deadline passed
    unanswered (or that was answered late): the DPO's alert rule reads these events.
    Several workers on PostgreSQL skip each other's rows; the mark commits with the
    event. Returns how many were recorded."""
    today = legal_today(deps.clock)
    found = repo.overdue_not_recorded(session, today)
    now = deps.clock.now()
    for request in found:
        request.overdue_recorded_at = now
        deps.audit.record(
            session,
            actor,
            action="subject_request.overdue",
            outcome="success",
            resource_type="subject_request",
            resource_id=request.public_id,
            organisation_id=request.organisation_id,
            details={
                "kind": request.kind,
                "deadline": request.current_deadline.isoformat(),
                "answered": request.status in CLOSING,
            },
        )
    session.flush()
    return len(found)

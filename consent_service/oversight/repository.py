"""Database queries of the DPO's oversight: the events a reviewer of an organisation may
see (``scope_query.concerns_organisation``, joined with the staff who acted) and the audit
alerts.

``review_query`` (the log search and rejected attempts, with their filters) and
``scope_query`` (the one definition of what a reviewer of an organisation may see, a
condition these queries share) stay apart, each named for its job.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import ColumnElement, literal, or_, select
from sqlalchemy.orm import Session

from consent_service.audit.models import AuditAlert, AuditEvent
from consent_service.consents.models import Disclosure
from consent_service.extracts.models import ExtractRequest
from consent_service.identity.models import Organisation, User
from consent_service.oversight.scope_query import concerns_organisation

# --- events a reviewer may see --------------------------------------------------------


def events_between_shown_to(
    session: Session, first: int, last: int, organisation_id: int | None, *, batch: int
) -> Iterator[tuple[AuditEvent, bool]]:
    """Events ``first``..``last`` in log order, streamed ``batch`` at a time, each with
    whether a reviewer of ``organisation_id`` may see it in full (every event for None)."""
    visible: ColumnElement[bool] = (
        concerns_organisation(organisation_id) if organisation_id is not None else literal(True)
    )
    stmt = (
        select(AuditEvent, visible.label("visible"))
        .where(AuditEvent.seq >= first, AuditEvent.seq <= last)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=batch)
    )
    for event, shown in session.execute(stmt):
        yield event, bool(shown)


def citizen_events_with_staff(
    session: Session, organisation_id: int, citizen_public_id: str
) -> list[tuple[AuditEvent, str | None, str | None, str | None]]:
    """Events about the citizen that concern ``organisation_id``, oldest first, each with
    the acting user's name and role and the event's organisation's name."""
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
    return [(event, staff, role, organisation) for event, staff, role, organisation in rows]


def disclosures_of_citizen(
    session: Session, organisation_id: int, citizen_id: int
) -> list[tuple[Disclosure, ExtractRequest]]:
    """The organisation's disclosures of the citizen's data, oldest first, each with the
    extract request that made it: extract execution records one per citizen whose data
    it sent (``extracts.repository.record_disclosures``)."""
    rows = session.execute(
        select(Disclosure, ExtractRequest)
        .join(ExtractRequest, ExtractRequest.id == Disclosure.request_id)
        .where(
            Disclosure.organisation_id == organisation_id,
            Disclosure.citizen_id == citizen_id,
            ExtractRequest.organisation_id == organisation_id,
        )
        .order_by(Disclosure.disclosed_on, Disclosure.id)
    )
    return [(d, r) for d, r in rows]


# --- alerts ---------------------------------------------------------------------------


def alert_overlapping(
    session: Session, rule: str, subject_kind: str, subject: str, first_seq: int, last_seq: int
) -> bool:
    """Whether an alert of that rule and subject already covers part of the events."""
    found = session.scalar(
        select(AuditAlert.id).where(
            AuditAlert.rule == rule,
            AuditAlert.subject_kind == subject_kind,
            AuditAlert.subject == subject,
            AuditAlert.first_seq <= last_seq,
            AuditAlert.last_seq >= first_seq,
        )
    )
    return found is not None


def _visible(organisation_id: int, system_wide: bool) -> ColumnElement[bool]:
    own = AuditAlert.organisation_id == organisation_id
    if system_wide:
        return or_(own, AuditAlert.organisation_id.is_(None))
    return own


def open_alerts(session: Session, organisation_id: int, system_wide: bool) -> list[AuditAlert]:
    """Unacknowledged alerts of the organisation (and of none, ``system_wide``), newest
    first."""
    return list(
        session.scalars(
            select(AuditAlert)
            .where(AuditAlert.acknowledged_at.is_(None), _visible(organisation_id, system_wide))
            .order_by(AuditAlert.raised_at.desc(), AuditAlert.id.desc())
        )
    )


def acknowledged_alerts(
    session: Session, organisation_id: int, system_wide: bool, limit: int
) -> list[AuditAlert]:
    """The last ``limit`` acknowledged alerts of the organisation (and of none,
    ``system_wide``), newest first."""
    return list(
        session.scalars(
            select(AuditAlert)
            .where(AuditAlert.acknowledged_at.is_not(None), _visible(organisation_id, system_wide))
            .order_by(AuditAlert.acknowledged_at.desc())
            .limit(limit)
        )
    )


def alert_by_id(session: Session, alert_id: int) -> AuditAlert | None:
    """Any organisation's alert, for the worker and the command line."""
    return session.get(AuditAlert, alert_id)


def alert_for_reviewer(session: Session, organisation_id: int, alert_id: int) -> AuditAlert | None:
    """The alert if it is ``organisation_id``'s or of no organisation; None for another
    organisation's alert exactly as for an unknown id."""
    return session.scalar(
        select(AuditAlert).where(
            AuditAlert.id == alert_id, _visible(organisation_id, system_wide=True)
        )
    )


def alerts_to_notify(session: Session) -> Sequence[AuditAlert]:
    """Open alerts not yet mailed, oldest first."""
    return session.scalars(
        select(AuditAlert)
        .where(AuditAlert.notified_at.is_(None), AuditAlert.acknowledged_at.is_(None))
        .order_by(AuditAlert.id)
    ).all()

"""Which audit events a reviewer of one organisation may see.

Organisations are separate data controllers, so a DPO reviews, exports and is alerted
about their own organisation's events only, and about the system events that concern
every organisation alike. One definition, used by the review pages, the alerts and the
export (which shows every other event only as its digest, so the chain still verifies).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_, select

from consent_service.audit.models import AuditEvent
from consent_service.identity.models import User


def concerns_organisation(
    organisation_id: int, event: type[AuditEvent] = AuditEvent
) -> ColumnElement[bool]:
    """An event a reviewer of ``organisation_id`` may see in full:

    - the organisation's own events (``organisation_id`` is theirs);
    - events without an organisation done by one of its users (e.g. a login step);
    - system events without an organisation and without a user (the log's own
      checkpoints and purges, attempts on accounts that do not exist), which concern
      every organisation.

    Events of another organisation, or without an organisation but by another
    organisation's user, are not theirs to see. ``event`` is the table's entity, or an
    alias of it (a subquery of events).
    """
    own_users = select(User.id).where(User.organisation_id == organisation_id)
    return or_(
        event.organisation_id == organisation_id,
        and_(
            event.organisation_id.is_(None),
            or_(event.actor_user_id.is_(None), event.actor_user_id.in_(own_users)),
        ),
    )

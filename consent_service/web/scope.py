"""Scope helpers the endpoints of several domains share.

The targets of the administration routes, loaded through the identity domain's scoped
loaders: these routes answer a denial, not "not found", for an id outside the acting
user's organisation, and an unknown id gets the very same audited denial."""

from __future__ import annotations

from sqlalchemy.orm import Session

from consent_service.identity import users
from consent_service.identity.models import User
from consent_service.web.deps import Principal


def user_in_scope(session: Session, me: Principal, user_id: int) -> User:
    """The user an administration route acts on: one of the request's organisation (else
    the denial an unknown id gets), and not the acting user where the permission says
    ``not_self``."""
    target = users.user_in_organisation(session, me.organisation_id, user_id)
    if target is None:
        raise me.out_of_scope()
    me.ensure(resource_user_id=target.id)
    return target

"""Scope helpers the endpoints of several domains share.

The targets of the administration routes, loaded through the identity domain's scoped
loaders: these routes answer a denial, not "not found", for an id outside the acting
user's organisation, and an unknown id gets the very same audited denial. And whether a
reviewer also sees what belongs to no organisation (``audit:system_review``), and whether
an administrator manages every organisation (``organisations:manage``)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from consent_service.config import Settings
from consent_service.errors import NotFound
from consent_service.identity import organisations, users
from consent_service.identity.models import Organisation, User
from consent_service.oversight import alerts
from consent_service.text import ascii_number
from consent_service.web.deps import Principal

# Seeing and acknowledging what belongs to no organisation (policies/access.yaml).
SYSTEM_REVIEW = "audit:system_review"
# Managing every organisation and its users (policies/access.yaml): held by the
# administrators of the organisation that runs the service.
ORGANISATIONS_MANAGE = "organisations:manage"


def user_in_scope(session: Session, me: Principal, user_id: int) -> User:
    """The user an administration route acts on: one of the request's organisation (else
    the denial an unknown id gets), and not the acting user where the permission says
    ``not_self``."""
    target = users.user_in_organisation(session, me.organisation_id, user_id)
    if target is None:
        raise me.out_of_scope()
    me.ensure(resource_user_id=target.id)
    return target


def system_review(session: Session, settings: Settings, me: Principal) -> bool:
    """Whether the policy lets this reviewer see alerts of no organisation: it grants
    ``audit:system_review`` on the organisation that runs the service."""
    return me.holds(
        SYSTEM_REVIEW,
        resource_organisation_id=alerts.operating_organisation_id(session, settings),
    )


def ensure_system_review(session: Session, settings: Settings, me: Principal) -> None:
    """Deny, audited under ``audit:system_review``, unless this reviewer holds it."""
    me.ensure_also(
        SYSTEM_REVIEW,
        resource_organisation_id=alerts.operating_organisation_id(session, settings),
    )


def system_wide(session: Session, settings: Settings, me: Principal) -> bool:
    """Whether the policy lets this administrator see and manage every organisation: it
    grants ``organisations:manage`` on the organisation that runs the service."""
    return me.holds(
        ORGANISATIONS_MANAGE,
        resource_organisation_id=organisations.operating_organisation_id(session, settings),
    )


def ensure_system_wide(session: Session, settings: Settings, me: Principal) -> None:
    """Deny, audited under ``organisations:manage``, unless this administrator holds it."""
    me.ensure_also(
        ORGANISATIONS_MANAGE,
        resource_organisation_id=organisations.operating_organisation_id(session, settings),
    )


def organisation_in_scope(
    session: Session, settings: Settings, me: Principal, organisation_id: int
) -> Organisation:
    """The organisation a request names: one's own; another (or an unknown id) only for a
    system-wide administrator. Anyone else gets the one audited denial whether the id is
    another organisation's or unknown; a system-wide administrator's unknown id is not
    found."""
    if organisation_id != me.organisation_id:
        ensure_system_wide(session, settings, me)
    org = organisations.organisation_by_id(session, organisation_id)
    if org is None:
        raise NotFound("organisation")
    return org


def organisation_id_from(raw: str) -> int:
    """The organisation id a query or form names; anything but a number is not found."""
    number = ascii_number(raw, 9)
    if number is None:
        raise NotFound("organisation")
    return number

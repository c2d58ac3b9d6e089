"""Organisations (data controllers): creating and renaming them, and listing them with
their users for the administrator's pages.

Which organisations a person may see or manage is the access policy's decision
(``organisations:read`` for one's own, ``organisations:manage`` system-wide, held only by
the administrators of the organisation that runs the service); the endpoints ask it.
Every function takes the database session first, flushes, never commits, and records its
audit events in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.config import Settings
from consent_service.errors import RuleRefusal
from consent_service.identity import repository as repo
from consent_service.identity.errors import UserInputError
from consent_service.identity.models import Organisation, User
from consent_service.services import ServiceDeps

NAME_MAX = 200
NAME_TAKEN = "Der findes allerede en organisation med det navn. Vælg et andet navn."


@dataclass(frozen=True)
class OrganisationRow:
    """One organisation as the organisations page lists it."""

    organisation: Organisation
    users: int
    operates_service: bool


def checked_name(name: str) -> str:
    """An organisation's name as stored: trimmed, 2-200 characters, no control characters."""
    name = " ".join(name.split())
    if len(name) < 2 or len(name) > NAME_MAX:
        raise UserInputError(f"Skriv organisationens navn (2-{NAME_MAX} tegn).", field="name")
    return name


def operating_organisation_id(session: Session, settings: Settings) -> int | None:
    """The organisation that runs the service (``CONSENT_BOOTSTRAP_ORGANISATION``, the first
    administrator's); ``organisations:manage`` is checked against it."""
    org = repo.organisation_by_name(session, settings.bootstrap_organisation)
    return org.id if org else None


def _refuse_taken(session: Session, name: str, but: int | None = None) -> None:
    found = repo.organisation_by_folded_name(session, name)
    if found is not None and found.id != but:
        raise RuleRefusal(NAME_TAKEN)


def create_organisation(
    session: Session, deps: ServiceDeps, actor: Actor, name: str
) -> Organisation:
    """A new organisation with a unique name (whatever the case); audited. Of two requests
    creating the same name at once one succeeds and the other is refused (RuleRefusal),
    the second waiting on the unique index."""
    name = checked_name(name)
    _refuse_taken(session, name)
    org = Organisation(name=name, created_at=deps.clock.now())
    try:
        with session.begin_nested():
            session.add(org)
            session.flush()
    except IntegrityError:
        raise RuleRefusal(NAME_TAKEN) from None
    deps.audit.record(
        session,
        actor,
        action="organisation.created",
        outcome="success",
        resource_type="organisation",
        resource_id=str(org.id),
        details={"before": None, "after": {"name": org.name}},
        organisation_id=org.id,
    )
    return org


def rename_organisation(
    session: Session, deps: ServiceDeps, actor: Actor, org: Organisation, name: str
) -> None:
    """Give ``org`` a new unique name; audited before and after. The organisation that runs
    the service keeps its name: the configuration names it (CONSENT_BOOTSTRAP_ORGANISATION)."""
    name = checked_name(name)
    if name == org.name:
        raise UserInputError("Navnet er det samme som før.", field="name")
    if org.name == deps.settings.bootstrap_organisation:
        raise RuleRefusal(
            "Organisationen, der driver tjenesten, kan ikke omdøbes her: dens navn står i "
            "tjenestens opsætning (CONSENT_BOOTSTRAP_ORGANISATION)."
        )
    _refuse_taken(session, name, but=org.id)
    before = org.name
    try:
        with session.begin_nested():
            org.name = name
            session.flush()
    except IntegrityError:
        raise RuleRefusal(NAME_TAKEN) from None
    deps.audit.record(
        session,
        actor,
        action="organisation.renamed",
        outcome="success",
        resource_type="organisation",
        resource_id=str(org.id),
        details={"before": {"name": before}, "after": {"name": org.name}},
        organisation_id=org.id,
    )


def organisation_by_id(session: Session, organisation_id: int) -> Organisation | None:
    """Any organisation by id: for a system-wide administrator (``organisations:manage``);
    everyone else's requests name only their own organisation."""
    return repo.organisation_by_id(session, organisation_id)


def organisation_rows(
    session: Session, settings: Settings, only: int | None = None
) -> list[OrganisationRow]:
    """The organisations (or only ``only``) by name, with their number of users."""
    operating = settings.bootstrap_organisation
    return [
        OrganisationRow(org, users, org.name == operating)
        for org, users in repo.organisations_with_user_counts(session, only)
    ]


def all_organisations(session: Session) -> Sequence[Organisation]:
    """Every organisation by name (the user form's choice for a system-wide administrator)."""
    return repo.all_organisations(session)


def users_of(session: Session, organisation_id: int) -> Sequence[User]:
    """The organisation's users by user name (account metadata only)."""
    return repo.users_of_organisation(session, organisation_id)

"""The queries of paper originals (``consents.paper``): locations, custody facts, and the
organisation's signed originals with their citizen and printed form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from consent_service.citizens.models import Citizen
from consent_service.consents import repository
from consent_service.consents.models import Consent, ConsentForm
from consent_service.consents.paper_models import PaperCustody, PaperLocation
from consent_service.db import memoised_scalars

# Statements built once (``db.py``: statements built once per process).
_LOCATIONS = (
    select(PaperLocation)
    .where(PaperLocation.organisation_id == bindparam("organisation_id"))
    .order_by(PaperLocation.name, PaperLocation.id)
)
_HISTORIES_OF = (
    select(PaperCustody)
    .join(Consent, Consent.id == PaperCustody.consent_id)
    .where(Consent.citizen_id == bindparam("citizen_id"))
    .order_by(PaperCustody.consent_id, PaperCustody.seq)
)
_GIVEN_WITH_FORMS = (
    select(Consent, Citizen, ConsentForm.short_code)
    .join(Citizen, Citizen.id == Consent.citizen_id)
    .join(ConsentForm, ConsentForm.form_id == Consent.form_id)
    .where(Consent.organisation_id == bindparam("organisation_id"), Consent.decision == "given")
    .order_by(Consent.id)
)
_GIVEN_WITH_FORMS_ERASED = _GIVEN_WITH_FORMS.where(Citizen.deleted_at.is_not(None))


def location_rows(session: Session, organisation_id: int) -> Sequence[PaperLocation]:
    """The organisation's storage places, read once per transaction: the citizen page
    names the place of each original and offers the places in its forms."""
    return memoised_scalars(
        session,
        ("paper_locations", organisation_id),
        _LOCATIONS,
        {"organisation_id": organisation_id},
    )


def current_rows(session: Session, organisation_id: int) -> list[PaperCustody]:
    """The newest custody fact of every original of the organisation."""
    newest = (
        select(PaperCustody.consent_id, func.max(PaperCustody.seq).label("seq"))
        .where(PaperCustody.organisation_id == organisation_id)
        .group_by(PaperCustody.consent_id)
        .subquery()
    )
    return list(
        session.scalars(
            select(PaperCustody).join(
                newest,
                (PaperCustody.consent_id == newest.c.consent_id)
                & (PaperCustody.seq == newest.c.seq),
            )
        ).all()
    )


def history(session: Session, consent_id: int) -> list[PaperCustody]:
    return list(
        session.scalars(
            select(PaperCustody)
            .where(PaperCustody.consent_id == consent_id)
            .order_by(PaperCustody.seq)
        ).all()
    )


def histories_of(session: Session, citizen_id: int) -> Mapping[int, tuple[PaperCustody, ...]]:
    """The custody facts of each of the citizen's originals by consent id, oldest first:
    one query (read once per transaction) for a page that shows every original, not one
    per original."""
    return repository.by_consent_of_citizen(session, "paper_histories", _HISTORIES_OF, citizen_id)


def consents_of(session: Session, citizen_id: int) -> Sequence[Consent]:
    return sorted(repository.consents_of(session, citizen_id), key=lambda c: c.id)


def form_of(session: Session, form_id: str | None) -> ConsentForm | None:
    if form_id is None:
        return None
    return session.scalar(select(ConsentForm).where(ConsentForm.form_id == form_id))


def given_with_forms(
    session: Session, organisation_id: int, *, erased_only: bool = False
) -> Sequence[tuple[Consent, Citizen, str | None]]:
    """The organisation's given consents recorded from a printed form (signed originals),
    with the form's short code; ``erased_only``: only those of erased citizens. The form's
    sealed PDF is not read (a list of originals grows with every consent recorded)."""
    query = _GIVEN_WITH_FORMS_ERASED if erased_only else _GIVEN_WITH_FORMS
    rows = session.execute(query, {"organisation_id": organisation_id}).all()
    return [(r[0], r[1], r[2]) for r in rows]

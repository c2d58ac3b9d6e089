"""All database queries of consents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar

from sqlalchemy import Select, bindparam, exists, select, text
from sqlalchemy.orm import Session, defer

from consent_service.citizens.models import Citizen
from consent_service.consents.models import (
    Consent,
    ConsentEvent,
    ConsentForm,
    ConsentScan,
    Disclosure,
)
from consent_service.db import core_rows, memoised, memoised_scalars

# First key of the PostgreSQL advisory lock (two-key form: this number and the organisation
# id) under which extract executions and the ending of consents (withdrawal, invalidation)
# of one organisation serialise. Arbitrary; the audit chain's lock uses the one-key form.
CONSENT_USE_LOCK = 742_003


def _use_lock(session: Session, organisation_id: int, function: str) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: every transaction began IMMEDIATE, so writers are serialised already
    session.execute(
        text(f"SELECT {function}(:cls, :org)"), {"cls": CONSENT_USE_LOCK, "org": organisation_id}
    )


def lock_consents_for_use(session: Session, organisation_id: int) -> None:
    """Until the transaction ends, no consent of the organisation can be withdrawn or
    invalidated (shared: executions run side by side). Taken by an extract execution before
    it reads the gate, so a withdrawal is either in the gate's snapshot or waits for the
    execution's ``data_obtained`` events and is told that data was obtained."""
    _use_lock(session, organisation_id, "pg_advisory_xact_lock_shared")


def lock_consents_for_ending(session: Session, organisation_id: int) -> None:
    """Wait for any running extract execution of the organisation, and hold off new ones
    until the transaction ends. Taken before a withdrawal or invalidation reads the
    consent's events (READ COMMITTED: each statement after it sees what the execution
    committed), and before a citizen's data or wellbeing answers are deleted (an
    execution's snapshot would otherwise still hold and decrypt them)."""
    _use_lock(session, organisation_id, "pg_advisory_xact_lock")


# Statements built once (``db.py``: statements built once per process).
_FORM = select(ConsentForm).where(
    ConsentForm.form_id == bindparam("form_id"),
    ConsentForm.organisation_id == bindparam("organisation_id"),
)
_CONSENT_FOR_FORM = select(Consent).where(Consent.form_id == bindparam("form_id"))
_CONSENTS_OF = (
    select(Consent)
    .where(Consent.citizen_id == bindparam("citizen_id"))
    .order_by(Consent.recorded_at, Consent.id)
)
_EVENTS_BY_CONSENT = (
    select(ConsentEvent)
    .join(Consent, Consent.id == ConsentEvent.consent_id)
    .where(Consent.citizen_id == bindparam("citizen_id"))
    .order_by(ConsentEvent.recorded_at, ConsentEvent.id)
)
_consent, _form, _scan = (m.__table__.c for m in (Consent, ConsentForm, ConsentScan))
_PAPER_OF_CONSENTS = (  # Core: plain rows (``db.core_rows``)
    select(_consent.id, _form.short_code, _scan.id)
    .outerjoin(ConsentForm.__table__, _form.form_id == _consent.form_id)
    .outerjoin(ConsentScan.__table__, _scan.consent_id == _consent.id)
    .where(_consent.citizen_id == bindparam("citizen_id"))
)
_OPEN_FORMS = (
    select(ConsentForm, ConsentForm.pdf_sealed.is_not(None))
    .options(defer(ConsentForm.pdf_sealed))
    .where(
        ConsentForm.citizen_id == bindparam("citizen_id"),
        ~exists().where(Consent.form_id == ConsentForm.form_id),
    )
    .order_by(ConsentForm.printed_at.desc(), ConsentForm.id.desc())
)


def form(session: Session, organisation_id: int, form_id: str) -> ConsentForm | None:
    """The printed form ``form_id`` of the organisation (read once per transaction until
    it writes: recording a signed form finds it, then checks it again in the service)."""
    return memoised(
        session,
        ("form", organisation_id, form_id),
        lambda: session.scalar(_FORM, {"form_id": form_id, "organisation_id": organisation_id}),
    )


def consent_for_form(session: Session, form_id: str) -> Consent | None:
    """The consent recorded on the printed form, if any (read once per transaction until
    it writes, as ``form``; the unique ``consent.form_id`` decides a race)."""
    return memoised(
        session,
        ("consent_for_form", form_id),
        lambda: session.scalar(_CONSENT_FOR_FORM, {"form_id": form_id}),
    )


def consent_in_organisation(
    session: Session, organisation_id: int, public_id: str
) -> tuple[Consent, Citizen] | None:
    """The organisation's consent ``public_id`` with its citizen."""
    row = session.execute(
        select(Consent, Citizen)
        .join(Citizen, Citizen.id == Consent.citizen_id)
        .where(Consent.public_id == public_id, Consent.organisation_id == organisation_id)
    ).first()
    return (row[0], row[1]) if row is not None else None


def consent_any_organisation(session: Session, public_id: str) -> tuple[Consent, Citizen] | None:
    """For telling a cross-organisation probe from an unknown id only: the caller must
    answer both alike."""
    row = session.execute(
        select(Consent, Citizen)
        .join(Citizen, Citizen.id == Consent.citizen_id)
        .where(Consent.public_id == public_id)
    ).first()
    return (row[0], row[1]) if row is not None else None


def consents_of(session: Session, citizen_id: int) -> Sequence[Consent]:
    """The citizen's consents in the order recorded; read once per transaction."""
    return memoised_scalars(
        session,
        ("consents_of", citizen_id),
        _CONSENTS_OF,
        {"citizen_id": citizen_id},
    )


def events_of(session: Session, consent: Consent) -> Sequence[ConsentEvent]:
    """The consent's events in the order recorded. The events of all the citizen's
    consents are read together, once per transaction (``events_by_consent``)."""
    return events_by_consent(session, consent.citizen_id).get(consent.id, ())


def events_by_consent(session: Session, citizen_id: int) -> Mapping[int, tuple[ConsentEvent, ...]]:
    """The events of each of the citizen's consents, by consent id, in the order recorded:
    one query, read once per transaction, so a page or a plan that folds every consent of
    a citizen reads their histories once, not once per consent."""
    return by_consent_of_citizen(session, "events_by_consent", _EVENTS_BY_CONSENT, citizen_id)


class _OfConsent(Protocol):
    @property
    def consent_id(self) -> int: ...


R = TypeVar("R", bound=_OfConsent)


def by_consent_of_citizen(
    session: Session, key: str, statement: Select[R], citizen_id: int
) -> Mapping[int, tuple[R, ...]]:
    """The rows of ``statement`` (a citizen's rows of one entity that belongs to a consent,
    in order; its parameter ``citizen_id``) grouped by consent id, each group in that
    order; read once per transaction under ``key``."""

    def load() -> dict[int, tuple[R, ...]]:
        grouped: dict[int, list[R]] = {}
        for row in session.scalars(statement, {"citizen_id": citizen_id}):
            grouped.setdefault(row.consent_id, []).append(row)
        return {consent_id: tuple(rows) for consent_id, rows in grouped.items()}

    return memoised(session, (key, citizen_id), load)


def scan_of(session: Session, consent_id: int) -> ConsentScan | None:
    return session.scalar(select(ConsentScan).where(ConsentScan.consent_id == consent_id))


def paper_of_consents(session: Session, citizen_id: int) -> dict[int, tuple[str | None, bool]]:
    """For each of the citizen's consents, by consent id: its printed form's short code
    (None without a form or code) and whether its scan is kept. One query for every consent
    the citizen page shows, and neither the sealed PDF nor the scan itself is read."""
    rows = core_rows(session, _PAPER_OF_CONSENTS, {"citizen_id": citizen_id})
    return {r[0]: (r[1], r[2] is not None) for r in rows}


def open_forms_by_kind(
    session: Session, citizen_id: int
) -> tuple[dict[str, tuple[ConsentForm, ...]], frozenset[str]]:
    """The citizen's printed forms not yet recorded, newest first, by kind: one query for
    every kind (the citizen page shows them all). "Not yet recorded" is an anti-join on
    the unique ``consent.form_id`` index: a ``NOT IN`` over every consent's form would
    read the whole consent table on every citizen page. The sealed PDFs stay unread: the
    second value holds the ids of the forms whose PDF is kept (the page offers those
    again)."""
    grouped: dict[str, list[ConsentForm]] = {}
    kept: set[str] = set()
    for form, pdf_kept in session.execute(_OPEN_FORMS, {"citizen_id": citizen_id}):
        grouped.setdefault(form.kind, []).append(form)
        if pdf_kept:
            kept.add(form.form_id)
    return {kind: tuple(forms) for kind, forms in grouped.items()}, frozenset(kept)


def form_by_short_code(session: Session, short_code: str) -> ConsentForm | None:
    """The printed form with the (normalised) short code, in any organisation: codes are
    unique across the service, so the caller must check the organisation."""
    return session.scalar(select(ConsentForm).where(ConsentForm.short_code == short_code))


def disclosures_under_consent(session: Session, consent_id: int) -> Sequence[Disclosure]:
    """The disclosures made under the consent (extract executions), oldest first."""
    return session.scalars(
        select(Disclosure)
        .where(Disclosure.consent_id == consent_id)
        .order_by(Disclosure.disclosed_on, Disclosure.id)
    ).all()

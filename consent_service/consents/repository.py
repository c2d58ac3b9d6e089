"""All database queries of consents."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.consents.models import Consent, ConsentEvent, ConsentForm, ConsentScan


def form(session: Session, form_id: str) -> ConsentForm | None:
    return session.scalar(select(ConsentForm).where(ConsentForm.form_id == form_id))


def consent_for_form(session: Session, form_id: str) -> Consent | None:
    return session.scalar(select(Consent).where(Consent.form_id == form_id))


def consent_by_public_id(session: Session, public_id: str) -> Consent | None:
    return session.scalar(select(Consent).where(Consent.public_id == public_id))


def consents_of(session: Session, citizen_id: int) -> Sequence[Consent]:
    return session.scalars(
        select(Consent)
        .where(Consent.citizen_id == citizen_id)
        .order_by(Consent.recorded_at, Consent.id)
    ).all()


def events_of(session: Session, consent_id: int) -> Sequence[ConsentEvent]:
    return session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.consent_id == consent_id)
        .order_by(ConsentEvent.recorded_at, ConsentEvent.id)
    ).all()


def scan_of(session: Session, consent_id: int) -> ConsentScan | None:
    return session.scalar(select(ConsentScan).where(ConsentScan.consent_id == consent_id))


def open_forms(session: Session, citizen_id: int, kind: str) -> Sequence[ConsentForm]:
    """Printed forms of the kind not yet recorded."""
    used = select(Consent.form_id).where(Consent.form_id.is_not(None))
    return session.scalars(
        select(ConsentForm)
        .where(
            ConsentForm.citizen_id == citizen_id,
            ConsentForm.kind == kind,
            ConsentForm.form_id.not_in(used),
        )
        .order_by(ConsentForm.printed_at.desc())
    ).all()

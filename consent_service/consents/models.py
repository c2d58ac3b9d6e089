from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UtcDateTime

# The event types the extract gate reads (extracts/gate_query.py), indexed on their own.
GATE_EVENTS = "event_type IN ('withdrawn', 'journal_entry_confirmed', 'invalidated')"


class ConsentForm(Base):
    """A blank form printed for one citizen and kind: its id is on the paper and in the QR;
    ``short_code`` (about 8 characters in groups, with a check character) is printed beside
    the QR for a person to type when a scan cannot be read. The printed PDF is kept sealed
    under the citizen's identity key (``pdf_sealed``) so it can be downloaded again byte
    for byte (its hash is ``pdf_sha256``); forms printed before it was kept have none."""

    __tablename__ = "consent_form"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[str] = mapped_column(String(32), unique=True)
    short_code: Mapped[str | None] = mapped_column(String(16), unique=True, nullable=True)
    pdf_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    kind: Mapped[str] = mapped_column(String(32))
    template_version: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    text_sha256: Mapped[str] = mapped_column(String(64))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    printed_on: Mapped[date] = mapped_column(Date)
    printed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    printed_by: Mapped[int] = mapped_column(Integer)

    @property
    def code_shown(self) -> str | None:
        """The short code as printed (``K7QM-4XP2``); None for forms printed before codes."""
        return shown_code(self.short_code)


def shown_code(short_code: str | None) -> str | None:
    """A form's short code as printed (``K7QM-4XP2``); None for forms printed before codes."""
    if short_code is None:
        return None
    half = len(short_code) // 2
    return f"{short_code[:half]}-{short_code[half:]}"


class Consent(Base):
    """A recorded decision on a consent form: given (signed) or refused. Written once and
    never updated: what happens afterwards is appended to ``consent_event``."""

    __tablename__ = "consent"
    __table_args__ = (Index("ix_consent_citizen_kind", "citizen_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(16))  # given | refused
    template_version: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    text_sha256: Mapped[str] = mapped_column(String(64))
    form_id: Mapped[str | None] = mapped_column(
        ForeignKey("consent_form.form_id"), nullable=True, unique=True
    )
    decided_on: Mapped[date] = mapped_column(Date)
    # The last day a given consent covers (policies/consents.yaml's validity rule, computed
    # when recorded, so the extract gate can be set-based SQL); None: no fixed expiry.
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    witness: Mapped[str | None] = mapped_column(String(200), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[int] = mapped_column(Integer)


class ConsentEvent(Base):
    """Append-only history of a consent: journal entry confirmed, withdrawn, data obtained,
    corrected, invalidated. Each with who and when; the database refuses UPDATE and DELETE."""

    __tablename__ = "consent_event"
    # The events the extract gate decides on (extracts/gate_query.py; migration 0020).
    __table_args__ = (
        Index(
            "ix_consent_event_gate", "event_type", "consent_id", "occurred_on",
            postgresql_where=text(GATE_EVENTS), sqlite_where=text(GATE_EVENTS),
        ),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("consent.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(32))
    occurred_on: Mapped[date] = mapped_column(Date)
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[int] = mapped_column(Integer)


class ConsentScan(Base):
    """The signed paper form, scanned; sealed under the citizen's key."""

    __tablename__ = "consent_scan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("consent.id"), unique=True)
    content_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Disclosure(Base):
    """One citizen's data disclosed by one executed extract: to whom, for which purpose,
    under which law and which consent (the exact text's version and SHA-256). Written with
    the extract's files and ``data_obtained`` events, in the same transaction; appended,
    never changed. It names no identity (the citizen by id), so a citizen's erasure keeps
    it: the answer to the citizen lists the disclosures already made; it goes with the
    consent records (retention category ``disclosures``). Here, with the consents, so the
    withdrawal reads it; the extract execution (above) writes it."""

    __tablename__ = "disclosure"
    __table_args__ = (
        Index("ix_disclosure_org_citizen", "organisation_id", "citizen_id"),
        Index("ix_disclosure_consent", "consent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id"))
    consent_id: Mapped[int] = mapped_column(ForeignKey("consent.id"))
    consent_kind: Mapped[str] = mapped_column(String(32))
    template_version: Mapped[str] = mapped_column(String(16))
    text_sha256: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[int] = mapped_column(ForeignKey("extract_request.id"), index=True)
    disclosed_on: Mapped[date] = mapped_column(Date)
    purpose: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)

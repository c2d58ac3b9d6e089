"""Plain, immutable views of consents, for the renderers (PDF, FHIR, ISO/IEC TS 27560).

The renderers are pure functions of these views: no database, no clock, no keys. The
service builds a view after decrypting what it needs, in the audited request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class ConsentFormInput:
    """Everything printed on a blank consent form for one citizen and one consent kind."""

    form_id: str  # unique id of this printed form; also in the QR code
    kind: str  # "journal" | "wellbeing"
    version: str  # template version, e.g. "v1"
    language: str  # "da"
    title: str  # the template's title
    body_markdown: str  # the template's text (Markdown, without front matter)
    text_sha256: str  # SHA-256 of the exact template file
    citizen_name: str
    citizen_cpr: str  # formatted DDMMYY-SSSS
    organisation_name: str  # the data controller
    printed_on: date
    short_code: str = ""  # formatted K7QM-4XP2, printed beside the QR for typing


@dataclass(frozen=True)
class LegalBasis:
    code: str  # e.g. "GDPR-6-1-a", "SUL-42d-1"
    text: str  # human-readable, e.g. "Sundhedsloven § 42 d, stk. 1"


@dataclass(frozen=True)
class ConsentRecordView:
    """A recorded consent as a controller must be able to demonstrate it (GDPR art. 7(1))."""

    consent_id: str  # pseudonymous public id of the consent
    kind: str
    state: str  # W3C DPV consent status: requested, given, refused, withdrawn, expired, invalidated
    subject_id: str  # pseudonymous public id of the citizen
    subject_cpr: str  # 10 digits
    subject_name: str
    controller_name: str
    controller_contact: str
    dpo_contact: str
    purpose: str
    data_categories: tuple[str, ...]
    legal_bases: tuple[LegalBasis, ...]
    template_version: str
    language: str
    text_sha256: str
    form_id: str | None
    signed_on: date | None
    recorded_at: datetime | None
    valid_from: date | None
    valid_until: date | None  # last covered day, inclusive; None = no fixed end
    withdrawn_on: date | None
    withdrawal_method: str  # how to withdraw, in the notice's language
    scan_sha256: str | None
    scan_content_type: str | None

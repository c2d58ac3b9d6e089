"""Machine-readable exports of a recorded consent: HL7 FHIR R4 ``Consent`` and ISO/IEC TS 27560.

Pure functions of :class:`~consent_service.consents.views.ConsentRecordView`: no database, no
clock, no I/O, no keys. The same view always gives an equal dict with the same key order, so
``json.dumps(export)`` is byte-for-byte reproducible. Every value is a JSON type (str, list,
dict, None). Both exports carry the citizen's CPR number: they are personal data and are only
ever produced inside the audited request that built the view.

FHIR R4 (4.0.1) ``Consent`` -- :func:`to_fhir_r4`
=================================================
=========================  ===========================================================
FHIR element               from the view
=========================  ===========================================================
``id``                     ``consent_id`` (must be a valid FHIR id; ours are uuid4 hex)
``status``                 ``state`` via :data:`FHIR_STATUS` (DPV state -> consent-state-codes)
``scope``                  consentscope ``patient-privacy`` (see :data:`SCOPE`)
``category[0]``            LOINC 59284-0 "Patient Consent"
``category[1]``            local code system :data:`KIND_SYSTEM`, code ``kind``
``patient``                logical reference: CPR identifier (:data:`CPR_SYSTEM`) + ``subject_name``
``dateTime``               ``recorded_at`` (ISO 8601 with offset; omitted when not recorded)
``organization[0]``        ``controller_name`` as display
``sourceAttachment``       ``scan_content_type``, ``language``, ``scan_sha256`` (base64 of the
                           raw SHA-256 digest) and the title "Underskrevet samtykkeerklæring
                           <form_id>"; omitted when there is no scan
``policy[]``               one per ``legal_bases`` entry: authority + uri (see below)
``policyRule.text``        all ``legal_bases`` texts joined with "; "
``provision.type``         ``deny`` when refused, else ``permit``
``provision.period``       ``valid_from`` .. ``valid_until`` (end omitted when None)
``provision.purpose[0]``   v3-ActReason ``HOUTCOMS`` (see :data:`PURPOSE`)
=========================  ===========================================================

ISO/IEC TS 27560:2023 consent record -- :func:`to_iso27560`
===========================================================
The standard itself is paywalled; the structure follows its information elements as published
in the W3C DPVCG "Consent Records and Receipts as per ISO/IEC TS 27560:2023 using DPV" guide
(https://w3id.org/dpv/guides/consent-27560) and the Kantara Consent Receipt v1.1 it descends
from. Key names are ours (snake_case); the 27560 element each one carries is:

==============================  ===============================  ==========================
our key                         27560 element (DPV relation)     from the view
==============================  ===============================  ==========================
``schema_version``              schema version (dct:conformsTo)  :data:`ISO27560_SCHEMA`
``based_on``                    (informative: sources followed) fixed list
``record_id``                   record id (dct:identifier)       ``consent_id``
``record_timestamp``            record header timestamp          ``recorded_at`` or None
``jurisdiction``                jurisdiction                     "DK" (fixed: Danish pilot)
``subject.id``                  pii principal id (pseudonymous)  ``subject_id``
``subject.identifier``          pii principal id (national id)   scheme "CPR", ``subject_cpr``
``controller.name/contact``     pii controllers, party name and  ``controller_name``,
                                party contact                    ``controller_contact``
``dpo.contact``                 party contact (role: DPO)        ``dpo_contact``
``kind``                        (ours: journal | wellbeing)      ``kind``
``purposes[].purpose``          purpose                          ``purpose``
``purposes[].legal_bases[]``    lawful basis (dpv:hasLegalBasis) ``legal_bases`` code + text
``purposes[].personal_data_``   pii information / pii type       ``data_categories``
``categories``
``notice``                      privacy notice + language        ``template_version``,
                                                                 ``language``, ``text_sha256``
``event``                       event type, event time,          the event that set the
                                event state                      current ``state`` (below)
``events``                      the record's event list          every event the view
                                                                 implies, oldest first
``validity``                    validity duration (dct:valid)    ``valid_from``,
                                                                 ``valid_until`` (inclusive)
``withdrawal_method``           withdrawal method                ``withdrawal_method``
``state``                       event state (dpv:ConsentStatus)  ``state`` + DPV IRI
``evidence``                    (record-keeping, GDPR art. 7(1)) ``form_id``, ``scan_sha256``,
                                                                 ``scan_content_type``
==============================  ===============================  ==========================

Event times: ``recorded_at`` is an instant (ISO 8601 with offset); ``withdrawn_on`` and the
expiry are legal calendar dates (Europe/Copenhagen, ISO 8601 date). A consent expires on the day
after ``valid_until`` (the last covered day). The view has no invalidation date, so an
``invalidated`` event has time None.

Not carried (the view has no such fields): 27560's storage locations, retention period,
recipients/third parties and processing method. Data for result follow-up stays with the one
data controller (no data-processing agreements), so there are no recipients to list.
"""

from __future__ import annotations

import base64
import re
from datetime import date, datetime, timedelta
from typing import Any, Final

from consent_service.consents.views import ConsentRecordView, LegalBasis

__all__ = [
    "CPR_SYSTEM",
    "DPV_STATE_IRI",
    "FHIR_STATUS",
    "ISO27560_SCHEMA",
    "KIND_SYSTEM",
    "to_fhir_r4",
    "to_iso27560",
]

# --- shared -----------------------------------------------------------------------------------

#: DPV consent status per view state (https://w3id.org/dpv#ConsentStatus).
DPV_STATE_TERM: Final[dict[str, str]] = {
    "requested": "ConsentRequested",
    "given": "ConsentGiven",
    "refused": "ConsentRefused",
    "withdrawn": "ConsentWithdrawn",
    "expired": "ConsentExpired",
    "invalidated": "ConsentInvalidated",
}
DPV_NS: Final = "https://w3id.org/dpv#"
DPV_STATE_IRI: Final[dict[str, str]] = {
    state: DPV_NS + term for state, term in DPV_STATE_TERM.items()
}

#: The OID of the Danish civil registration (CPR) number, as used by HL7 Denmark's DK Core.
CPR_SYSTEM: Final = "urn:oid:1.2.208.176.1.2"

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# FHIR R4 "id" datatype: https://hl7.org/fhir/R4/datatypes.html#id
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def _state(view: ConsentRecordView) -> str:
    if view.state not in DPV_STATE_TERM:
        raise ValueError(f"unknown consent state {view.state!r}")
    return view.state


def _cpr(view: ConsentRecordView) -> str:
    """The CPR number as its 10 digits; never echoed in an error message."""
    digits = view.subject_cpr.replace("-", "")
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        raise ValueError("subject_cpr is not a 10-digit CPR number")
    return digits


def _instant(at: datetime) -> str:
    """ISO 8601 with a UTC offset; FHIR requires a zone whenever a time is given."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("recorded_at must be timezone-aware")
    return at.isoformat()


def _day(on: date) -> str:
    return on.isoformat()


def _sha256_hex(value: str, what: str) -> str:
    digest = value.lower()
    if not _SHA256_HEX.fullmatch(digest):
        raise ValueError(f"{what} is not a hex SHA-256 digest")
    return digest


# --- HL7 FHIR R4 ------------------------------------------------------------------------------

#: DPV consent status -> FHIR R4 consent-state-codes (http://hl7.org/fhir/consent-state-codes).
FHIR_STATUS: Final[dict[str, str]] = {
    "given": "active",
    "refused": "rejected",
    "withdrawn": "inactive",
    "expired": "inactive",
    "requested": "proposed",
    "invalidated": "entered-in-error",
}

#: Consent.scope (R4 binding: required, http://hl7.org/fhir/ValueSet/consent-scope).
#: "patient-privacy" ("Privacy Consent": agreement to collect, access, use or disclose
#: information) is the right one for both consents. The journal consent is exactly that: the
#: patient lets authorised health professionals obtain ("indhente", § 42 d) and disclose
#: ("videregive", § 43) record data for a purpose other than treatment; the wellbeing consent
#: is a GDPR art. 6(1)(a)/9(2)(a) consent to processing. "research" would be wrong: payment
#: measurement of a social-impact pilot is contractual outcome follow-up, not scientific
#: research (which in Denmark has its own legal bases, e.g. Databeskyttelsesloven § 10, that
#: these consents do not rely on). "treatment" and "adr" obviously do not apply.
SCOPE: Final[dict[str, str]] = {
    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
    "code": "patient-privacy",
    "display": "Privacy Consent",
}

#: Consent.category: the LOINC document type for a patient consent.
LOINC_PATIENT_CONSENT: Final[dict[str, str]] = {
    "system": "http://loinc.org",
    "code": "59284-0",
    "display": "Patient Consent",
}

#: Our own code system for the consent kind ("journal" | "wellbeing").
KIND_SYSTEM: Final = "https://sociale-henvisninger-norddjurs.dk/fhir/CodeSystem/consent-kind"

#: Consent.provision.purpose (R4 binding: extensible, v3 PurposeOfUse).
#: HOUTCOMS "health outcome measure" -- "to perform one or more operations on information used
#: for assessing results and comparative effectiveness achieved by health care practices and
#: interventions" -- is what the data is for: measuring the results of the social-navigator
#: intervention (fewer health-service contacts, better wellbeing) before and after referral.
#: Rejected: HPAYMT is payment *for the provision of health care* (claims, coverage,
#: remittance); the outcome payers here repay a social investment and pay nobody for care.
#: HRESCH is scientific research, which this result follow-up is not (see SCOPE), and saying
#: so would misstate the legal basis.
PURPOSE: Final[dict[str, str]] = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
    "code": "HOUTCOMS",
    "display": "health outcome measure",
}

#: Consent.policy.authority per legal source. Codes starting "GDPR" are the EU regulation;
#: every other basis in this service is a Danish act (Sundhedsloven, Databeskyttelsesloven).
GDPR_URI: Final = "https://eur-lex.europa.eu/eli/reg/2016/679/oj"
DANISH_LAW_URI: Final = "https://www.retsinformation.dk/"


def _policy(basis: LegalBasis) -> dict[str, Any]:
    """One Consent.policy entry. The uri's fragment is the basis code (ASCII, stable, e.g.
    ``#SUL-42d-1``): Danish consolidated acts change their ELI address with every
    consolidation, and percent-encoding the human text ("§ 42 d, stk. 1") gives an unreadable
    uri. The human text travels in ``policyRule.text`` instead; no extensions are needed."""
    authority = GDPR_URI if basis.code.upper().startswith("GDPR") else DANISH_LAW_URI
    if not basis.code or any(c.isspace() for c in basis.code):
        raise ValueError(f"legal basis code {basis.code!r} cannot be a URI fragment")
    return {"authority": authority, "uri": f"{authority}#{basis.code}"}


def _source_attachment(view: ConsentRecordView) -> dict[str, Any] | None:
    """The scanned, signed form. Consent.sourceAttachment.hash is base64Binary of the raw
    digest bytes. R4 (like R4B and R5) documents it as the *SHA-1* of the data; we deliberately
    send the SHA-256 we store (SHA-1 is broken for integrity, and we keep no SHA-1 of the scan).
    fhir.resources accepts it: it base64-decodes the value and does not check its length. A
    receiver that recomputes SHA-1 will not match, so the algorithm must be agreed with each
    receiver (the 32-byte length tells SHA-256 from SHA-1's 20 bytes)."""
    if view.scan_sha256 is None:
        return None
    digest = bytes.fromhex(_sha256_hex(view.scan_sha256, "scan_sha256"))
    title = "Underskrevet samtykkeerklæring"
    if view.form_id:
        title = f"{title} {view.form_id}"
    attachment: dict[str, Any] = {}
    if view.scan_content_type:
        attachment["contentType"] = view.scan_content_type
    attachment["language"] = view.language
    attachment["hash"] = base64.b64encode(digest).decode("ascii")
    attachment["title"] = title
    return attachment


def to_fhir_r4(view: ConsentRecordView) -> dict[str, Any]:
    """The consent as an HL7 FHIR R4 (4.0.1) ``Consent`` resource, as a JSON-ready dict.

    Elements appear in the order of the R4 resource definition. Raises ``ValueError`` for a
    view no valid resource can be made from (unknown state, no legal basis, an id that is not
    a FHIR id, a malformed CPR number or digest, a naive ``recorded_at``)."""
    state = _state(view)
    if not _FHIR_ID.fullmatch(view.consent_id):
        raise ValueError("consent_id is not a valid FHIR id")
    if not view.legal_bases:
        # R4 invariant ppc-1: a Consent needs policy or policyRule.
        raise ValueError("a consent without a legal basis cannot be exported")

    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": view.consent_id,
        "status": FHIR_STATUS[state],
        "scope": {"coding": [dict(SCOPE)]},
        # Two categories, not two codings of one: the local kind is not a translation of
        # LOINC's "Patient Consent" but a finer classification beside it.
        "category": [
            {"coding": [dict(LOINC_PATIENT_CONSENT)]},
            {"coding": [{"system": KIND_SYSTEM, "code": view.kind}]},
        ],
        # A logical reference: receivers resolve the patient by CPR number (invariant ppc-2
        # requires a patient for privacy consents).
        "patient": {
            "identifier": {"system": CPR_SYSTEM, "value": _cpr(view)},
            "display": view.subject_name,
        },
    }
    if view.recorded_at is not None:
        resource["dateTime"] = _instant(view.recorded_at)
    resource["organization"] = [{"display": view.controller_name}]
    attachment = _source_attachment(view)
    if attachment is not None:
        resource["sourceAttachment"] = attachment
    resource["policy"] = [_policy(basis) for basis in view.legal_bases]
    resource["policyRule"] = {"text": "; ".join(basis.text for basis in view.legal_bases)}

    provision: dict[str, Any] = {"type": "deny" if state == "refused" else "permit"}
    period: dict[str, str] = {}
    if view.valid_from is not None:
        period["start"] = _day(view.valid_from)
    if view.valid_until is not None:
        # Date precision: the period includes the whole of this day, as valid_until does.
        period["end"] = _day(view.valid_until)
    if period:
        provision["period"] = period
    provision["purpose"] = [dict(PURPOSE)]
    resource["provision"] = provision
    return resource


# --- ISO/IEC TS 27560 -------------------------------------------------------------------------

#: Our schema identifier for the record shape (a name, not a resolvable document).
ISO27560_SCHEMA: Final = (
    "https://sociale-henvisninger-norddjurs.dk/schema/consent-record/iso-iec-ts-27560-2023/v1"
)
_BASED_ON: Final = (
    "ISO/IEC TS 27560:2023",
    "https://w3id.org/dpv/guides/consent-27560",
    "Kantara Consent Receipt Specification v1.1",
)


def _event(kind: str, time: str | None) -> dict[str, Any]:
    return {
        "type": kind,
        "time": time,
        "state": DPV_STATE_TERM[kind],
        "state_iri": DPV_STATE_IRI[kind],
    }


def _events(view: ConsentRecordView, state: str) -> list[dict[str, Any]]:
    """The consent's events as far as the view implies them, oldest first."""
    recorded = _instant(view.recorded_at) if view.recorded_at is not None else None
    decided = recorded or (_day(view.signed_on) if view.signed_on is not None else None)
    if state == "requested":
        return [_event("requested", recorded)]
    if state == "refused":
        return [_event("refused", decided)]
    events: list[dict[str, Any]] = []
    if view.signed_on is not None or state == "given":
        events.append(_event("given", decided))
    if view.withdrawn_on is not None:
        events.append(_event("withdrawn", _day(view.withdrawn_on)))
    if state == "expired":
        ended = view.valid_until + timedelta(days=1) if view.valid_until is not None else None
        events.append(_event("expired", _day(ended) if ended is not None else None))
    if state == "invalidated":
        events.append(_event("invalidated", None))  # the view carries no invalidation date
    return events


def _current_event(events: list[dict[str, Any]], state: str) -> dict[str, Any]:
    """The event that set the current state: the latest of its type (time None if the view
    does not say when, e.g. a withdrawn consent without ``withdrawn_on``)."""
    for event in reversed(events):
        if event["type"] == state:
            return dict(event)
    return _event(state, None)


def to_iso27560(view: ConsentRecordView) -> dict[str, Any]:
    """The consent as a record shaped after ISO/IEC TS 27560:2023 (see the module docstring
    for the mapping), as a JSON-ready dict with a fixed key order."""
    state = _state(view)
    events = _events(view, state)
    return {
        "schema_version": ISO27560_SCHEMA,
        "based_on": list(_BASED_ON),
        "record_id": view.consent_id,
        "record_timestamp": (_instant(view.recorded_at) if view.recorded_at is not None else None),
        "jurisdiction": "DK",
        "subject": {
            "id": view.subject_id,
            "identifier": {"scheme": "CPR", "system": CPR_SYSTEM, "value": _cpr(view)},
        },
        "controller": {"name": view.controller_name, "contact": view.controller_contact},
        "dpo": {"contact": view.dpo_contact},
        "kind": view.kind,
        "purposes": [
            {
                "purpose": view.purpose,
                "legal_bases": [
                    {"code": basis.code, "text": basis.text} for basis in view.legal_bases
                ],
                "personal_data_categories": list(view.data_categories),
            }
        ],
        "notice": {
            "version": view.template_version,
            "language": view.language,
            "text_sha256": _sha256_hex(view.text_sha256, "text_sha256"),
        },
        "event": _current_event(events, state),
        "events": events,
        "validity": {
            "from": _day(view.valid_from) if view.valid_from is not None else None,
            "until": _day(view.valid_until) if view.valid_until is not None else None,
        },
        "withdrawal_method": view.withdrawal_method,
        "state": {
            "value": state,
            "dpv_term": DPV_STATE_TERM[state],
            "iri": DPV_STATE_IRI[state],
        },
        "evidence": {
            "form_id": view.form_id,
            "scan_sha256": (
                _sha256_hex(view.scan_sha256, "scan_sha256")
                if view.scan_sha256 is not None
                else None
            ),
            "scan_content_type": view.scan_content_type,
        },
    }

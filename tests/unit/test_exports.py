"""FHIR R4 and ISO/IEC TS 27560 exports of a recorded consent: valid, mapped, deterministic.

FHIR validation uses fhir.resources' R4B models: fhir.resources 8 ships R5 (default), R4B
(4.3.0) and STU3 but no R4 (4.0.1) package, and the Consent resource did not change between R4
and R4B."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from fhir.resources.R4B.consent import Consent

from consent_service.consents.exports import (
    CPR_SYSTEM,
    DPV_STATE_IRI,
    FHIR_STATUS,
    KIND_SYSTEM,
    to_fhir_r4,
    to_iso27560,
)
from consent_service.consents.views import ConsentRecordView, LegalBasis
from tests.factories import synthetic_cpr

CPR = synthetic_cpr(date(1962, 11, 3), dash=False)
OTHER_CPR = synthetic_cpr(date(1975, 2, 28), 3, dash=False)
CONSENT_ID = "5b0f3c9e2d8a4f6b9c1e7a3d5f2b8c4e"
FORM_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
TEXT_SHA = "9c" * 32
SCAN_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
RECORDED = datetime(2026, 3, 6, 9, 41, 7, tzinfo=UTC)
SIGNED = date(2026, 3, 6)
UNTIL = date(2027, 3, 5)

JOURNAL_BASES = (
    LegalBasis("SUL-42d-1", "Sundhedsloven § 42 d, stk. 1"),
    LegalBasis("SUL-43-1", "Sundhedsloven § 43, stk. 1"),
)
WELLBEING_BASES = (
    LegalBasis("GDPR-6-1-a", "Databeskyttelsesforordningen art. 6, stk. 1, litra a"),
    LegalBasis("GDPR-9-2-a", "Databeskyttelsesforordningen art. 9, stk. 2, litra a"),
    LegalBasis("DBL-11-2-2", "Databeskyttelsesloven § 11, stk. 2, nr. 2"),
)


def _view(**changes: Any) -> ConsentRecordView:
    view = ConsentRecordView(
        consent_id=CONSENT_ID,
        kind="journal",
        state="given",
        subject_id="a1b2c3d4e5f60718293a4b5c6d7e8f90",
        subject_cpr=CPR,
        subject_name="Ayşe Yılmaz",
        controller_name="Region Midtjylland",
        controller_contact="dataansvar@example.invalid",
        dpo_contact="dpo@example.invalid",
        purpose="Opfølgning på resultater (betalingsmåling)",
        data_categories=("kontakter til sundhedsvæsenet", "kommunale ydelser"),
        legal_bases=JOURNAL_BASES,
        template_version="v1",
        language="da",
        text_sha256=TEXT_SHA,
        form_id=FORM_ID,
        signed_on=SIGNED,
        recorded_at=RECORDED,
        valid_from=SIGNED,
        valid_until=UNTIL,
        withdrawn_on=None,
        withdrawal_method="Kontakt din sociale navigatør på Grenaa Sundhedshus.",
        scan_sha256=SCAN_SHA,
        scan_content_type="application/pdf",
    )
    return replace(view, **changes)


#: One realistic view per DPV state, as the service would build it.
STATE_VIEWS: dict[str, dict[str, Any]] = {
    "requested": {
        "state": "requested",
        "signed_on": None,
        "recorded_at": None,
        "valid_from": None,
        "valid_until": None,
        "scan_sha256": None,
        "scan_content_type": None,
    },
    "given": {},
    "refused": {
        "state": "refused",
        "signed_on": None,
        "valid_from": None,
        "valid_until": None,
        "scan_sha256": None,
        "scan_content_type": None,
    },
    "withdrawn": {"state": "withdrawn", "withdrawn_on": date(2026, 7, 1)},
    "expired": {"state": "expired"},
    "invalidated": {"state": "invalidated"},
}


def _state_view(state: str) -> ConsentRecordView:
    return _view(**STATE_VIEWS[state])


def _validate(resource: dict[str, Any]) -> Consent:
    return Consent.model_validate(resource)


# --- FHIR R4 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("state", sorted(STATE_VIEWS))
@pytest.mark.parametrize("kind", ["journal", "wellbeing"])
def test_fhir_export_is_a_valid_consent_resource(state: str, kind: str) -> None:
    bases = JOURNAL_BASES if kind == "journal" else WELLBEING_BASES
    resource = to_fhir_r4(replace(_state_view(state), kind=kind, legal_bases=bases))
    consent = _validate(resource)
    assert consent.id == CONSENT_ID
    assert consent.status == FHIR_STATUS[state]
    assert consent.scope.coding[0].code == "patient-privacy"
    assert [c.coding[0].code for c in consent.category] == ["59284-0", kind]
    assert consent.category[1].coding[0].system == KIND_SYSTEM
    assert consent.provision.purpose[0].code == "HOUTCOMS"
    assert consent.provision.purpose[0].system == (
        "http://terminology.hl7.org/CodeSystem/v3-ActReason"
    )


def test_fhir_validation_is_not_vacuous() -> None:
    """The R4B model does reject a broken Consent, so the validations above mean something."""
    resource = to_fhir_r4(_view())
    without_scope = {k: v for k, v in resource.items() if k != "scope"}
    with pytest.raises(ValueError, match="scope"):
        _validate(without_scope)
    with pytest.raises(ValueError, match="bogus"):
        _validate({**resource, "patient": {**resource["patient"], "bogus": 1}})


def test_status_mapping_table() -> None:
    assert FHIR_STATUS == {
        "given": "active",
        "refused": "rejected",
        "withdrawn": "inactive",
        "expired": "inactive",
        "requested": "proposed",
        "invalidated": "entered-in-error",
    }
    for state, status in FHIR_STATUS.items():
        assert to_fhir_r4(_state_view(state))["status"] == status


def test_unknown_state_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown consent state"):
        to_fhir_r4(_view(state="active"))
    with pytest.raises(ValueError, match="unknown consent state"):
        to_iso27560(_view(state="active"))


def test_patient_is_identified_by_cpr_number() -> None:
    resource = to_fhir_r4(_view())
    assert resource["patient"] == {
        "identifier": {"system": "urn:oid:1.2.208.176.1.2", "value": CPR},
        "display": "Ayşe Yılmaz",
    }
    assert CPR_SYSTEM == "urn:oid:1.2.208.176.1.2"
    patient = _validate(resource).patient
    assert patient.identifier.system == CPR_SYSTEM
    assert patient.identifier.value == CPR


def test_cpr_with_a_dash_is_sent_as_ten_digits() -> None:
    dashed = f"{OTHER_CPR[:6]}-{OTHER_CPR[6:]}"
    assert to_fhir_r4(_view(subject_cpr=dashed))["patient"]["identifier"]["value"] == OTHER_CPR


@pytest.mark.parametrize("bad", ["12345", "12345678901", "abcdefghij"])
def test_malformed_cpr_is_refused_without_echoing_it(bad: str) -> None:
    for export in (to_fhir_r4, to_iso27560):
        with pytest.raises(ValueError, match="CPR") as caught:
            export(_view(subject_cpr=bad))
        assert bad not in str(caught.value)


def test_recorded_at_is_iso_8601_with_offset() -> None:
    assert to_fhir_r4(_view())["dateTime"] == "2026-03-06T09:41:07+00:00"
    cet = timezone(timedelta(hours=1))
    local = to_fhir_r4(_view(recorded_at=RECORDED.astimezone(cet)))["dateTime"]
    assert local == "2026-03-06T10:41:07+01:00"
    assert "dateTime" not in to_fhir_r4(_view(recorded_at=None))


def test_naive_recorded_at_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        to_fhir_r4(_view(recorded_at=datetime(2026, 3, 6, 9, 41)))


def test_controller_is_the_organization() -> None:
    assert to_fhir_r4(_view())["organization"] == [{"display": "Region Midtjylland"}]


def test_period_runs_from_signing_to_last_covered_day() -> None:
    provision = to_fhir_r4(_view())["provision"]
    assert provision["type"] == "permit"
    assert provision["period"] == {"start": "2026-03-06", "end": "2027-03-05"}


def test_period_end_is_omitted_without_valid_until() -> None:
    resource = to_fhir_r4(_view(valid_until=None))
    assert resource["provision"]["period"] == {"start": "2026-03-06"}
    assert _validate(resource).provision.period.end is None


def test_period_is_omitted_without_any_date() -> None:
    resource = to_fhir_r4(_state_view("requested"))
    assert "period" not in resource["provision"]
    _validate(resource)


def test_refused_consent_is_a_deny_provision() -> None:
    assert to_fhir_r4(_state_view("refused"))["provision"]["type"] == "deny"
    for state in ("given", "withdrawn", "expired", "requested", "invalidated"):
        assert to_fhir_r4(_state_view(state))["provision"]["type"] == "permit"


def test_policy_per_legal_basis_and_policy_rule_text() -> None:
    resource = to_fhir_r4(_view(kind="wellbeing", legal_bases=WELLBEING_BASES))
    eu = "https://eur-lex.europa.eu/eli/reg/2016/679/oj"
    dk = "https://www.retsinformation.dk/"
    assert resource["policy"] == [
        {"authority": eu, "uri": f"{eu}#GDPR-6-1-a"},
        {"authority": eu, "uri": f"{eu}#GDPR-9-2-a"},
        {"authority": dk, "uri": f"{dk}#DBL-11-2-2"},
    ]
    assert resource["policyRule"] == {
        "text": "Databeskyttelsesforordningen art. 6, stk. 1, litra a; "
        "Databeskyttelsesforordningen art. 9, stk. 2, litra a; "
        "Databeskyttelsesloven § 11, stk. 2, nr. 2"
    }
    journal = to_fhir_r4(_view())
    assert [p["authority"] for p in journal["policy"]] == [dk, dk]
    assert journal["policyRule"]["text"] == (
        "Sundhedsloven § 42 d, stk. 1; Sundhedsloven § 43, stk. 1"
    )


def test_consent_without_legal_basis_is_refused() -> None:
    with pytest.raises(ValueError, match="legal basis"):
        to_fhir_r4(_view(legal_bases=()))


def test_source_attachment_carries_the_raw_sha256_digest_in_base64() -> None:
    resource = to_fhir_r4(_view())
    attachment = resource["sourceAttachment"]
    assert attachment == {
        "contentType": "application/pdf",
        "language": "da",
        "hash": base64.b64encode(bytes.fromhex(SCAN_SHA)).decode("ascii"),
        "title": f"Underskrevet samtykkeerklæring {FORM_ID}",
    }
    # 32 raw bytes, not the 64 hex characters; fhir.resources decodes base64Binary to bytes.
    assert base64.b64decode(attachment["hash"]) == bytes.fromhex(SCAN_SHA)
    assert _validate(resource).sourceAttachment.hash == bytes.fromhex(SCAN_SHA)


def test_upper_case_scan_digest_is_accepted() -> None:
    resource = to_fhir_r4(_view(scan_sha256=SCAN_SHA.upper()))
    assert base64.b64decode(resource["sourceAttachment"]["hash"]) == bytes.fromhex(SCAN_SHA)


def test_source_attachment_is_omitted_without_a_scan() -> None:
    resource = to_fhir_r4(_view(scan_sha256=None, scan_content_type=None))
    assert "sourceAttachment" not in resource
    assert _validate(resource).sourceAttachment is None


def test_malformed_scan_digest_is_refused() -> None:
    with pytest.raises(ValueError, match="scan_sha256"):
        to_fhir_r4(_view(scan_sha256="e7" * 20))


def test_consent_id_must_be_a_fhir_id() -> None:
    with pytest.raises(ValueError, match="FHIR id"):
        to_fhir_r4(_view(consent_id="cns 4kq8ZP"))
    with pytest.raises(ValueError, match="FHIR id"):
        to_fhir_r4(_view(consent_id="x" * 65))


def test_fhir_keys_follow_the_r4_element_order() -> None:
    assert list(to_fhir_r4(_view())) == [
        "resourceType",
        "id",
        "status",
        "scope",
        "category",
        "patient",
        "dateTime",
        "organization",
        "sourceAttachment",
        "policy",
        "policyRule",
        "provision",
    ]


def test_fhir_export_is_deterministic_and_not_shared() -> None:
    first = to_fhir_r4(_view())
    text = json.dumps(first, ensure_ascii=False)
    first["scope"]["coding"][0]["code"] = "mutated"
    first["provision"]["purpose"][0]["code"] = "mutated"
    assert json.dumps(to_fhir_r4(_view()), ensure_ascii=False) == text


# --- ISO/IEC TS 27560 -------------------------------------------------------------------------

ISO_KEYS = {
    "schema_version",
    "based_on",
    "record_id",
    "record_timestamp",
    "jurisdiction",
    "subject",
    "controller",
    "dpo",
    "kind",
    "purposes",
    "notice",
    "event",
    "events",
    "validity",
    "withdrawal_method",
    "state",
    "evidence",
}


@pytest.mark.parametrize("state", sorted(STATE_VIEWS))
def test_iso_record_has_every_element(state: str) -> None:
    record = to_iso27560(_state_view(state))
    assert set(record) == ISO_KEYS
    assert record["schema_version"]
    assert record["record_id"] == CONSENT_ID
    assert record["subject"] == {
        "id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "identifier": {"scheme": "CPR", "system": CPR_SYSTEM, "value": CPR},
    }
    assert record["controller"] == {
        "name": "Region Midtjylland",
        "contact": "dataansvar@example.invalid",
    }
    assert record["dpo"] == {"contact": "dpo@example.invalid"}
    assert record["purposes"] == [
        {
            "purpose": "Opfølgning på resultater (betalingsmåling)",
            "legal_bases": [
                {"code": "SUL-42d-1", "text": "Sundhedsloven § 42 d, stk. 1"},
                {"code": "SUL-43-1", "text": "Sundhedsloven § 43, stk. 1"},
            ],
            "personal_data_categories": ["kontakter til sundhedsvæsenet", "kommunale ydelser"],
        }
    ]
    assert record["notice"] == {"version": "v1", "language": "da", "text_sha256": TEXT_SHA}
    assert record["withdrawal_method"].startswith("Kontakt din sociale navigatør")
    assert set(record["event"]) == {"type", "time", "state", "state_iri"}
    assert set(record["evidence"]) == {"form_id", "scan_sha256", "scan_content_type"}


@pytest.mark.parametrize(
    ("state", "term"),
    [
        ("given", "ConsentGiven"),
        ("refused", "ConsentRefused"),
        ("withdrawn", "ConsentWithdrawn"),
        ("expired", "ConsentExpired"),
        ("requested", "ConsentRequested"),
        ("invalidated", "ConsentInvalidated"),
    ],
)
def test_iso_state_carries_the_dpv_iri(state: str, term: str) -> None:
    record = to_iso27560(_state_view(state))
    iri = f"https://w3id.org/dpv#{term}"
    assert record["state"] == {"value": state, "dpv_term": term, "iri": iri}
    assert DPV_STATE_IRI[state] == iri
    assert record["event"]["type"] == state
    assert record["event"]["state_iri"] == iri


def test_iso_events_of_a_given_consent() -> None:
    record = to_iso27560(_view())
    assert record["record_timestamp"] == "2026-03-06T09:41:07+00:00"
    assert record["event"] == {
        "type": "given",
        "time": "2026-03-06T09:41:07+00:00",
        "state": "ConsentGiven",
        "state_iri": "https://w3id.org/dpv#ConsentGiven",
    }
    assert record["events"] == [record["event"]]
    assert record["validity"] == {"from": "2026-03-06", "until": "2027-03-05"}
    assert record["evidence"] == {
        "form_id": FORM_ID,
        "scan_sha256": SCAN_SHA,
        "scan_content_type": "application/pdf",
    }


def test_iso_withdrawn_consent_keeps_the_given_event() -> None:
    record = to_iso27560(_state_view("withdrawn"))
    assert [(e["type"], e["time"]) for e in record["events"]] == [
        ("given", "2026-03-06T09:41:07+00:00"),
        ("withdrawn", "2026-07-01"),
    ]
    assert record["event"]["time"] == "2026-07-01"


def test_iso_expired_consent_expires_the_day_after_the_last_covered_day() -> None:
    record = to_iso27560(_state_view("expired"))
    assert [(e["type"], e["time"]) for e in record["events"]] == [
        ("given", "2026-03-06T09:41:07+00:00"),
        ("expired", "2027-03-06"),
    ]


def test_iso_refused_and_requested_have_no_validity() -> None:
    refused = to_iso27560(_state_view("refused"))
    assert refused["events"] == [refused["event"]]
    assert refused["event"]["time"] == "2026-03-06T09:41:07+00:00"
    assert refused["validity"] == {"from": None, "until": None}
    requested = to_iso27560(_state_view("requested"))
    assert requested["event"]["time"] is None
    assert requested["record_timestamp"] is None
    assert requested["evidence"]["scan_sha256"] is None


def test_iso_validity_until_is_null_without_fixed_end() -> None:
    assert to_iso27560(_view(valid_until=None))["validity"] == {
        "from": "2026-03-06",
        "until": None,
    }


def test_iso_withdrawn_without_date_has_an_event_without_time() -> None:
    record = to_iso27560(_view(state="withdrawn", withdrawn_on=None))
    assert record["event"]["type"] == "withdrawn"
    assert record["event"]["time"] is None


@pytest.mark.parametrize("state", sorted(STATE_VIEWS))
def test_iso_record_is_deterministic_json(state: str) -> None:
    first = json.dumps(to_iso27560(_state_view(state)), sort_keys=True, ensure_ascii=False)
    second = json.dumps(to_iso27560(_state_view(state)), sort_keys=True, ensure_ascii=False)
    assert first == second
    assert json.loads(first) == to_iso27560(_state_view(state))
    # the unsorted dump is stable too: the key order is fixed by the code, not by chance
    assert json.dumps(to_iso27560(_state_view(state))) == json.dumps(
        to_iso27560(_state_view(state))
    )


def test_iso_record_differs_per_subject() -> None:
    assert json.dumps(to_iso27560(_view()), sort_keys=True) != json.dumps(
        to_iso27560(_view(subject_cpr=OTHER_CPR)), sort_keys=True
    )


def test_fhir_resource_is_json_serialisable() -> None:
    for state in STATE_VIEWS:
        resource = to_fhir_r4(_state_view(state))
        assert json.loads(json.dumps(resource, sort_keys=True)) == resource

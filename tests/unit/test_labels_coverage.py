"""Every code the service can store and show has a Danish label (issue 15: "no English code
on any page"). Each test takes the codes from where the service defines or accepts them (an
enum, a ``Literal``, a rule file, the literals the code writes) and looks each one up in
``policies/labels.yaml`` through ``consent_service.labels`` (or in the rule file that names
it: roles in ``access.yaml``, cohorts, extract sources and fields in ``extracts.yaml``).

A new code without a label fails here, before a page shows it raw.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

from consent_service import labels
from consent_service.access.policy import AccessPolicy
from consent_service.access.roles import Role
from consent_service.audit.catalogue import default_event_catalogue
from consent_service.audit.checkpoints import MADE_FOR
from consent_service.citizens import service as citizens
from consent_service.citizens.schemas import ReferralSubmission
from consent_service.consents import service as consents
from consent_service.consents.catalogue import catalogue
from consent_service.consents.kinds import DataCategory
from consent_service.consents.rules import ConsentStatus

SOURCE = Path(consents.__file__).resolve().parents[1]


def _code_literals(pattern: str, *paths: str) -> set[str]:
    """Every string the given modules' source matches ``pattern`` with (any group)."""
    found: set[str] = set()
    for path in paths:
        text = (SOURCE / path).read_text(encoding="utf-8")
        for match in re.finditer(pattern, text, re.MULTILINE):
            found |= {group for group in match.groups() if group}
    return found


def _unlabelled(group: str, codes: set[str]) -> set[str]:
    return codes - set(labels.group(group))


def test_every_consent_state_has_a_label() -> None:
    assert _unlabelled("consent_states", {s.value for s in ConsentStatus}) == set()


def test_every_consent_event_type_the_service_writes_has_a_label() -> None:
    written = _code_literals(
        r'_append\(\s*session,\s*deps,\s*actor,\s*consent,\s*"([a-z_]+)"', "consents/service.py"
    ) | _code_literals(
        r'"event_type":\s*"([a-z_]+)"|literal\("([a-z_]+)"\)', "extracts/repository.py"
    )
    assert {"journal_entry_confirmed", "withdrawn", "invalidated", "data_obtained"} <= written
    assert _unlabelled("consent_events", written) == set()


def test_withdrawal_channels_and_correction_reasons_accepted_are_the_labelled_ones() -> None:
    # The service accepts exactly the labelled codes (consents/labels.py reads the groups),
    # so a code it stores always has a label.
    assert consents.CHANNELS == labels.group("withdrawal_channels")
    assert consents.CORRECTION_REASONS == labels.group("correction_reasons")


def test_every_referrer_kind_the_service_accepts_has_a_label() -> None:
    api_kinds = set(get_args(ReferralSubmission.model_fields["referrer_kind"].annotation))
    assert api_kinds
    assert _unlabelled("referrer_kinds", api_kinds) == set()
    assert set(citizens.REFERRER_KINDS) == set(labels.group("referrer_kinds"))


def test_every_information_category_has_a_label() -> None:
    codes = set(get_args(DataCategory))
    for kind in catalogue().kinds.values():
        codes |= set(kind.data_categories)
    assert _unlabelled("information_categories", codes) == set()


def test_every_role_has_a_danish_name() -> None:
    roles = AccessPolicy.load(SOURCE.parent / "policies" / "access.yaml").spec.roles
    for role in Role:
        assert role.value in roles, role
        assert roles[role.value].da.strip(), role


def test_every_audit_action_outcome_and_resource_has_a_label() -> None:
    assert _unlabelled("audit_actions", set(default_event_catalogue().actions)) == set()
    outcomes = _code_literals(r'outcome="([a-z_]+)"', *_python_files())
    assert _unlabelled("audit_outcomes", outcomes) == set()
    resources = _code_literals(r'resource_type="([a-z_]+)"', *_python_files())
    resources |= _code_literals(r'_RESOURCE = "([a-z_]+)"', "audit/cosignature_query.py")
    assert _unlabelled("audit_resources", resources) == set()


def test_extract_statuses_deletion_rows_checkpoints_and_api_scopes_have_labels() -> None:
    statuses = _code_literals(
        r'status="([a-z_]+)"|\.status = "([a-z_]+)"(?: if approve else "([a-z_]+)")?',
        "extracts/requests.py",
        "extracts/execution.py",
    )
    assert {"draft", "approved", "rejected", "executed"} <= statuses
    assert _unlabelled("extract_statuses", statuses) == set()
    rows = _code_literals(r'^\s+"([a-z_]+)": ', "deletion/repository.py")
    rows |= _code_literals(r'^\s+"([a-z_]+)": _count\(', "deletion/evidence_query.py")
    rows |= _code_literals(r'kept\["([a-z_]+)"\]', "deletion/service.py")
    assert {"citizen_identity", "consent_records", "citizen_tombstones", "deletion_records"} <= rows
    assert _unlabelled("deletion_rows", rows) == set()
    assert _unlabelled("checkpoint_reasons", set(MADE_FOR)) == set()
    scopes = _code_literals(r'scopes=\["([a-z_:]+)"\]', "identity/token_endpoints.py")
    assert scopes
    assert _unlabelled("api_scopes", scopes) == set()


def _python_files() -> list[str]:
    return [str(p.relative_to(SOURCE)) for p in SOURCE.rglob("*.py")]


@pytest.mark.parametrize("group", sorted(labels.load_labels().groups))
def test_labels_are_danish_words_not_codes(group: str) -> None:
    for code, text in labels.group(group).items():
        assert text != code, (group, code)
        assert not re.fullmatch(r"[a-z_.:]+", text), (group, code, text)

"""policies/extracts.yaml loads, carries the hash of its bytes, and a broken file is refused
with one line naming the file and the field."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from consent_service.extracts.policy import (
    DEFAULT_EXTRACTS_FILE,
    ExtractPolicyError,
    load_extract_policy,
)


def test_the_deployed_policy_loads_with_its_hash() -> None:
    policy = load_extract_policy()
    assert policy.sha256 == hashlib.sha256(DEFAULT_EXTRACTS_FILE.read_bytes()).hexdigest()
    assert policy.purposes["payment_goal_2_wellbeing"].consent_kind == "wellbeing"


def test_a_broken_policy_names_file_and_field(tmp_path: Path) -> None:
    broken = tmp_path / "extracts.yaml"
    text = DEFAULT_EXTRACTS_FILE.read_text(encoding="utf-8")
    broken.write_text(text.replace("consent_kind: wellbeing", "consent_kind: anything"), "utf-8")
    with pytest.raises(ExtractPolicyError, match=r"extracts\.yaml: invalid extract policy: "
                       r"purposes\.payment_goal_2_wellbeing\.consent_kind"):  # fmt: skip
        load_extract_policy(broken)
    with pytest.raises(ExtractPolicyError, match="cannot read the extract policy"):
        load_extract_policy(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("purpose", "sources", "fields", "measurement"),
    [
        ("no_such_purpose", ["sygesikring"], ["gp_contacts"], 1),
        ("payment_goal_1_regional", ["no_such_source"], ["gp_contacts"], 1),
        ("payment_goal_1_regional", ["municipal"], ["gp_contacts"], 1),
        ("payment_goal_1_regional", ["sygesikring"], ["home_nursing"], 1),
        ("payment_goal_1_regional", ["sygesikring"], ["no_such_field"], 1),
        ("payment_goal_1_regional", ["sygesikring"], ["gp_contacts"], 3),
        ("payment_goal_2_wellbeing", ["wellbeing"], ["who5"], 2),
        ("payment_goal_1_regional", [], [], 1),
    ],
)
def test_a_refusal_names_no_rule_file_and_no_code(
    purpose: str, sources: list[str], fields: list[str], measurement: int
) -> None:
    """What a person reads: Danish names and what to choose instead, no path or key."""
    message = load_extract_policy().refusal(purpose, sources, fields, measurement)
    assert message is not None
    assert ".yaml" not in message
    assert "purposes." not in message
    for code in (purpose, *sources, *fields):
        assert f"'{code}'" not in message

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

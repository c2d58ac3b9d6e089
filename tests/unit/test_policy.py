"""The access policy: validated at start-up, deny by default, conditions enforced."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from consent_service.access.policy import AccessPolicy, AccessRequest, PolicyError
from consent_service.config import REPO_ROOT

POLICY = REPO_ROOT / "policies" / "access.yaml"


@pytest.fixture
def policy() -> AccessPolicy:
    return AccessPolicy.load(POLICY)


def _write(tmp_path: Path, mutate: object) -> Path:
    data = yaml.safe_load(POLICY.read_text())
    mutate(data)  # type: ignore[operator]
    path = tmp_path / "access.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_the_shipped_policy_loads(policy: AccessPolicy) -> None:
    assert policy.role_may("administrator", "users:create")
    assert len(policy.sha256) == 64


def test_unknown_role_stops_start_up(tmp_path: Path) -> None:
    def add_role(d: dict) -> None:  # type: ignore[type-arg]
        d["roles"]["janitor"] = {"da": "Pedel", "description": "x"}

    with pytest.raises(PolicyError, match="unknown role 'janitor'"):
        AccessPolicy.load(_write(tmp_path, add_role))


def test_unknown_permission_in_a_grant_stops_start_up(tmp_path: Path) -> None:
    def grant(d: dict) -> None:  # type: ignore[type-arg]
        d["grants"]["navigator"].append({"permission": "citizen:teleport"})

    with pytest.raises(PolicyError, match="unknown permission 'citizen:teleport'"):
        AccessPolicy.load(_write(tmp_path, grant))


def test_unknown_condition_stops_start_up(tmp_path: Path) -> None:
    def cond(d: dict) -> None:  # type: ignore[type-arg]
        d["grants"]["administrator"][2]["when"] = ["full_moon"]

    with pytest.raises(PolicyError, match="unknown condition 'full_moon'"):
        AccessPolicy.load(_write(tmp_path, cond))


def test_unknown_key_stops_start_up(tmp_path: Path) -> None:
    def extra(d: dict) -> None:  # type: ignore[type-arg]
        d["default"] = "allow"

    with pytest.raises(PolicyError, match="default"):
        AccessPolicy.load(_write(tmp_path, extra))


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot be read"):
        AccessPolicy.load(tmp_path / "nope.yaml")


def _req(role: str, permission: str, **kw: int | None) -> AccessRequest:
    return AccessRequest(user_id=1, role=role, organisation_id=10, permission=permission, **kw)


def test_deny_by_default(policy: AccessPolicy) -> None:
    assert not policy.decide(_req("navigator", "users:create")).allowed
    assert not policy.decide(_req("administrator", "no:such:permission")).allowed


def test_same_organisation_condition(policy: AccessPolicy) -> None:
    assert policy.decide(_req("administrator", "users:read", resource_organisation_id=10)).allowed
    denied = policy.decide(_req("administrator", "users:read", resource_organisation_id=11))
    assert not denied.allowed
    assert "same_organisation" in denied.reason
    assert not policy.decide(_req("administrator", "users:read")).allowed


def test_not_self_condition(policy: AccessPolicy) -> None:
    ok = _req("administrator", "users:unlock", resource_organisation_id=10, resource_user_id=2)
    assert policy.decide(ok).allowed
    own = _req("administrator", "users:unlock", resource_organisation_id=10, resource_user_id=1)
    assert not policy.decide(own).allowed


def test_administrator_holds_no_personal_data_permission(policy: AccessPolicy) -> None:
    for grant in policy.spec.grants["administrator"]:
        assert not policy.is_personal_data(grant.permission), grant.permission


def test_system_wide_review_is_the_dpos_of_the_organisation_given(policy: AccessPolicy) -> None:
    """Alerts of no organisation are checked against the organisation that runs the service:
    only a DPO of that organisation holds system-wide review, and no other role at all."""
    holders = [role for role in policy.spec.roles if policy.role_may(role, "audit:system_review")]
    assert holders == ["dpo"]
    assert policy.conditions_of("dpo", "audit:system_review") == ("same_organisation",)
    running = _req("dpo", "audit:system_review", resource_organisation_id=10)
    assert policy.decide(running).allowed
    elsewhere = _req("dpo", "audit:system_review", resource_organisation_id=11)
    assert not policy.decide(elsewhere).allowed
    assert not policy.decide(_req("dpo", "audit:system_review")).allowed  # no operator known

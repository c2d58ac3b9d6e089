"""Load, validate and evaluate the access policy.

The policy file names roles, permissions and conditions; the code names the conditions
it can evaluate (``CONDITIONS``). A file naming anything the code does not know, or a
role the code does not know, is refused at start-up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from consent_service.access.roles import Role
from consent_service.rulefile import safe_yaml


class PolicyError(Exception):
    """The policy file is invalid; the message says where."""


@dataclass(frozen=True)
class AccessRequest:
    """Who asks for what: the facts a decision is made on."""

    user_id: int
    role: str
    organisation_id: int
    permission: str
    resource_organisation_id: int | None = None
    resource_user_id: int | None = None


def _same_organisation(req: AccessRequest) -> bool:
    return req.resource_organisation_id is not None and (
        req.resource_organisation_id == req.organisation_id
    )


def _not_self(req: AccessRequest) -> bool:
    return req.resource_user_id is not None and req.resource_user_id != req.user_id


CONDITIONS: dict[str, Callable[[AccessRequest], bool]] = {
    "same_organisation": _same_organisation,
    "not_self": _not_self,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleSpec(_Strict):
    da: str
    description: str


class PermissionSpec(_Strict):
    description: str
    personal_data: bool


class Grant(_Strict):
    permission: str
    when: tuple[str, ...] = ()


class PolicyFile(_Strict):
    version: int = Field(ge=1)
    roles: dict[str, RoleSpec]
    conditions: dict[str, str]
    permissions: dict[str, PermissionSpec]
    grants: dict[str, list[Grant]]

    @model_validator(mode="after")
    def _check_names(self) -> PolicyFile:
        known_roles = {r.value for r in Role}
        for role in self.roles:
            if role not in known_roles:
                raise ValueError(f"unknown role {role!r} (the service knows {sorted(known_roles)})")
        for role in known_roles - set(self.roles):
            raise ValueError(f"role {role!r} is not described under roles")
        for cond in self.conditions:
            if cond not in CONDITIONS:
                raise ValueError(
                    f"unknown condition {cond!r} (the service can evaluate {sorted(CONDITIONS)})"
                )
        for role, grants in self.grants.items():
            if role not in self.roles:
                raise ValueError(f"grants name unknown role {role!r}")
            for grant in grants:
                if grant.permission not in self.permissions:
                    raise ValueError(
                        f"role {role!r} is granted unknown permission {grant.permission!r}"
                    )
                for cond in grant.when:
                    if cond not in self.conditions:
                        raise ValueError(
                            f"grant {role}/{grant.permission} uses unknown condition {cond!r}"
                        )
        return self


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


class AccessPolicy:
    def __init__(self, spec: PolicyFile, sha256: str) -> None:
        self.spec = spec
        self.sha256 = sha256
        self._grants: dict[tuple[str, str], tuple[str, ...]] = {
            (role, g.permission): g.when for role, grants in spec.grants.items() for g in grants
        }

    @classmethod
    def load(cls, path: Path) -> AccessPolicy:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise PolicyError(f"{path}: cannot be read ({exc.strerror})") from None
        try:
            data = safe_yaml(raw)
            spec = PolicyFile.model_validate(data)
        except yaml.YAMLError as exc:
            raise PolicyError(f"{path}: not valid YAML ({exc})") from None
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "top level"
            raise PolicyError(f"{path}: {where}: {err['msg']}") from None
        return cls(spec, hashlib.sha256(raw).hexdigest())

    def knows(self, permission: str) -> bool:
        return permission in self.spec.permissions

    def is_personal_data(self, permission: str) -> bool:
        return self.spec.permissions[permission].personal_data

    def reads_personal_data(self, role: str) -> bool:
        """Whether the role holds any permission marked ``personal_data``: giving it to
        someone (a new user, a role change) needs two people (identity.proposals)."""
        return any(
            self.spec.permissions[g.permission].personal_data
            for g in self.spec.grants.get(role, ())
        )

    def role_may(self, role: str, permission: str) -> bool:
        """Whether the role holds the permission at all (before conditions)."""
        return (role, permission) in self._grants

    def conditions_of(self, role: str, permission: str) -> tuple[str, ...]:
        return self._grants.get((role, permission), ())

    def decide(self, req: AccessRequest) -> Decision:
        """Deny unless a grant of the user's role allows the permission and all its
        conditions hold."""
        if not self.knows(req.permission):
            return Decision(False, f"unknown permission {req.permission}")
        if (req.role, req.permission) not in self._grants:
            return Decision(False, f"role {req.role} lacks {req.permission}")
        for cond in self._grants[(req.role, req.permission)]:
            if not CONDITIONS[cond](req):
                return Decision(False, f"condition {cond} not met")
        return Decision(True, "granted")

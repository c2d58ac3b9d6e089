"""The Danish words for an audit event's reason, for the DPO's log and its CSV.

The services record a reason as one of a fixed set of short English phrases ("wrong
code", "condition not_self not met", "login per address"): the phrase is the stable code
(it is hashed into the chain, so the stored text stays as it is). ``reason_code`` derives
the code and its parameters from the phrase by the few shapes the services write (never
by guessing at free text); ``reason_da`` renders it with the labels of
``policies/labels.yaml`` (groups ``audit_reasons``, ``access_conditions``,
``rate_limit_scopes``, ``rate_limit_keys``). A reason a person typed (a user change, a
correction) has no code and is shown as typed; a witness's technical message is shown
as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from consent_service import labels

LOCKED_SUFFIX = " (account locked)"

# The phrases the services write, each its code.
FIXED: dict[str, str] = {
    "granted": "granted",
    "not authenticated": "not_authenticated",
    "absolute timeout": "absolute_timeout",
    "idle timeout": "idle_timeout",
    "user deactivated": "user_deactivated",
    "locked": "locked",
    "unknown user": "unknown_user",
    "inactive user": "inactive_user",
    "account locked": "account_locked",
    "wrong password": "wrong_password",
    "wrong current password": "wrong_current_password",
    "wrong code": "wrong_code",
    "wrong recovery code": "wrong_recovery_code",
    "wrong enrolment code": "wrong_enrolment_code",
    "no authenticator enrolled": "no_authenticator",
    "replayed code": "replayed_code",
    "code for an already used time step": "replayed_code",
    "password failures": "password_failures",
    "code failures": "code_failures",
    "step-up code failures": "step_up_code_failures",
    "logout": "logout",
    "rotated": "rotated",
    "ok": "ok",
    "API token outside the API": "token_outside_api",
    "token scope lacks the permission": "token_scope",
    "malformed token": "malformed_token",
    "unknown token": "unknown_token",
    "revoked token": "revoked_token",
    "expired token": "expired_token",
    "token user inactive": "token_user_inactive",
    "CPR search from another organisation": "cross_organisation_search",
    "citizen id of another organisation": "cross_organisation_open",
}
_CONDITION = re.compile(r"^condition ([a-z_]+) not met$")
_ROLE_LACKS = re.compile(r"^role ([a-z_]+) lacks ([a-z_:]+)$")
_UNKNOWN_PERMISSION = re.compile(r"^unknown permission ([a-z_:]+)$")
_RATE_LIMIT = re.compile(r"^([a-z_]+) per ([a-z_]+)$")
# Actions whose reason is a technical message (a witness's or mail server's answer).
TECHNICAL_ACTIONS = ("audit.witness_failed", "audit.witness_disagreed")


@dataclass(frozen=True)
class ReasonCode:
    code: str
    parameter: str | None = None
    locked_now: bool = False


def reason_code(reason: str | None) -> ReasonCode | None:
    """The code of a reason the services write, or None for a typed or unknown one."""
    if not reason:
        return None
    locked_now = reason.endswith(LOCKED_SUFFIX)
    phrase = reason.removesuffix(LOCKED_SUFFIX) if locked_now else reason
    if phrase in FIXED:
        return ReasonCode(FIXED[phrase], locked_now=locked_now)
    if match := _CONDITION.match(phrase):
        return ReasonCode("condition_not_met", match.group(1), locked_now)
    if match := _ROLE_LACKS.match(phrase):
        return ReasonCode("role_lacks_permission", match.group(1), locked_now)
    if match := _UNKNOWN_PERMISSION.match(phrase):
        return ReasonCode("unknown_permission", None, locked_now)
    if (match := _RATE_LIMIT.match(phrase)) and match.group(1) in labels.group("rate_limit_scopes"):
        return ReasonCode("rate_limit", f"{match.group(1)}:{match.group(2)}", locked_now)
    return None


def reason_da(
    reason: str | None, action: str = "", role_names: dict[str, str] | None = None
) -> str:
    """The reason in Danish: a known code by its label, a typed reason as typed."""
    if not reason:
        return ""
    found = reason_code(reason)
    if found is None:
        if action in TECHNICAL_ACTIONS:
            return f"Teknisk fejlbesked: {reason}"
        return reason
    text = labels.group("audit_reasons").get(found.code)
    if text is None:
        return reason
    if found.code == "condition_not_met" and found.parameter:
        condition = labels.group("access_conditions").get(found.parameter, found.parameter)
        text = f"{text}: {condition}"
    elif found.code == "role_lacks_permission" and found.parameter:
        role = (role_names or {}).get(found.parameter, found.parameter)
        text = f"{text} ({role})"
    elif found.code == "rate_limit" and found.parameter:
        scope, _, key = found.parameter.partition(":")
        scope_da = labels.group("rate_limit_scopes").get(scope, scope)
        key_da = labels.group("rate_limit_keys").get(key, key)
        text = f"{text}: {scope_da}, pr. {key_da.lower()}"
    if found.locked_now:
        text = f"{text}; {labels.label('audit_reasons', 'now_locked')}"
    return text

"""Every reason phrase the services record has a Danish rendering (issue 16: "condition
not_self not met" and "wrong code" are no words for the DPO). The phrases are taken from
the code that writes them; ``oversight.reasons`` derives each one's code, and the code has
its label in ``policies/labels.yaml``. A new phrase without a label fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from consent_service import labels
from consent_service.access.policy import AccessPolicy
from consent_service.config import REPO_ROOT
from consent_service.oversight.reasons import reason_code, reason_da
from consent_service.web.ratelimit import KEYS_OF_SCOPE

SOURCE = REPO_ROOT / "consent_service"
WRITERS = (
    "identity/login.py", "identity/stepup.py", "identity/sessions.py", "identity/tokens.py",
    "identity/account.py", "identity/lockout.py", "citizens/probes.py", "web/deps.py",
)  # fmt: skip
PATTERNS = (
    r'reason="([^"{]+)"',
    r'reason = "([^"]+)"',
    r'reason="[^"]+" if [^\n]+ else "([^"]+)"',
    r'TokenLookup\([^()]*"([^"]+)"\)',
    r'code_failure\(\s*[^()]*?"([a-z ]+)",\s*action=',
    r'AccessDenied\([^()]*?"([A-Za-z ]+)"',
    r'cause="([^"]+)"',
)
TYPED = {"Ny bruger"}  # a default a person would have typed: shown as it is


def _phrases() -> set[str]:
    found: set[str] = set()
    for name in WRITERS:
        text = (SOURCE / name).read_text(encoding="utf-8")
        for pattern in PATTERNS:
            found |= set(re.findall(pattern, text, re.S))
    return found - TYPED


def test_the_phrases_are_found() -> None:
    phrases = _phrases()
    assert {"wrong code", "account locked", "unknown user", "expired token"} <= phrases
    assert {"CPR search from another organisation", "idle timeout"} <= phrases


@pytest.mark.parametrize("phrase", sorted(_phrases()))
def test_every_recorded_phrase_has_a_danish_label(phrase: str) -> None:
    code = reason_code(phrase)
    assert code is not None, phrase
    assert code.code in labels.group("audit_reasons"), phrase
    assert reason_da(phrase) != phrase
    assert reason_code(phrase + " (account locked)") is not None


def test_every_condition_role_and_rate_limit_is_named() -> None:
    policy = AccessPolicy.load(Path(REPO_ROOT / "policies" / "access.yaml"))
    roles = {role: spec.da for role, spec in policy.spec.roles.items()}
    for condition in policy.spec.conditions:
        text = reason_da(f"condition {condition} not met")
        assert condition not in text
        assert text.startswith("Betingelse ikke opfyldt: ")
    for role in roles:
        assert reason_da(f"role {role} lacks citizens:read", role_names=roles).endswith(
            f"({roles[role]})"
        )
    for scope, keys in KEYS_OF_SCOPE.items():
        for key in keys:
            text = reason_da(f"{scope} per {key}")
            assert text.startswith("For mange forsøg: "), text
            assert " per " not in text


def test_a_typed_reason_is_shown_as_typed_and_a_witness_message_as_technical() -> None:
    assert reason_da("Borgeren bad selv om det") == "Borgeren bad selv om det"
    assert reason_da("HTTP 503", "audit.witness_failed") == "Teknisk fejlbesked: HTTP 503"
    assert reason_da(None) == ""

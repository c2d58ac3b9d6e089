"""TOTP (RFC 6238) with replay protection.

pyotp computes the codes; this module decides acceptance. The look-around window is
one time step either side, and a step at or before the last accepted step is
refused, so each code works once (RFC 6238 section 5.2: "the verifier MUST NOT accept
the second attempt of the OTP after the successful validation").
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyotp

PERIOD = 30
DIGITS = 6
WINDOW = 1


@dataclass(frozen=True)
class TotpCheck:
    accepted: bool
    step: int | None = None
    replay: bool = False


def new_secret() -> str:
    return pyotp.random_base32(length=32)


def time_step(at: datetime, period: int = PERIOD) -> int:
    return int(at.timestamp()) // period


def code_for_step(
    secret: str,
    step: int,
    *,
    digits: int = DIGITS,
    digest: Callable[..., Any] = hashlib.sha1,
    period: int = PERIOD,
) -> str:
    return str(pyotp.TOTP(secret, digits=digits, digest=digest, interval=period).at(step * period))


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def check_code(secret: str, code: str, *, at: datetime, last_step: int | None) -> TotpCheck:
    """Accept ``code`` if it matches a step within one step of ``at`` that is later than
    ``last_step``; a match at or before ``last_step`` is a replay."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return TotpCheck(False)
    now_step = time_step(at)
    matched: int | None = None
    for step in range(now_step - WINDOW, now_step + WINDOW + 1):
        if hmac.compare_digest(code_for_step(secret, step), code):
            matched = step
    if matched is None:
        return TotpCheck(False)
    if last_step is not None and matched <= last_step:
        return TotpCheck(False, matched, replay=True)
    return TotpCheck(True, matched)

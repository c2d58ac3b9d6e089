"""What every service function is given besides its session: settings, keys, clock, audit."""

from __future__ import annotations

from dataclasses import dataclass

from consent_service.audit.recorder import AuditRecorder
from consent_service.clock import Clock
from consent_service.config import Settings
from consent_service.crypto import Crypto


@dataclass(frozen=True)
class ServiceDeps:
    settings: Settings
    crypto: Crypto
    clock: Clock
    audit: AuditRecorder

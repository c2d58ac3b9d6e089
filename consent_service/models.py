"""Every model, imported in one place so metadata is complete (migrations, tests)."""

from consent_service.audit.models import AuditAlert, AuditCheckpoint, AuditEvent, AuditPurge
from consent_service.citizens.models import Citizen, Referral
from consent_service.consents.models import Consent, ConsentEvent, ConsentForm, ConsentScan
from consent_service.db import Base
from consent_service.identity.models import (
    ApiToken,
    KeyCheck,
    Organisation,
    RecoveryCode,
    User,
    UserSession,
)

__all__ = [
    "ApiToken",
    "AuditAlert",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditPurge",
    "Base",
    "Citizen",
    "Consent",
    "ConsentEvent",
    "ConsentForm",
    "ConsentScan",
    "KeyCheck",
    "Organisation",
    "RecoveryCode",
    "Referral",
    "User",
    "UserSession",
]

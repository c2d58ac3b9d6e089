"""Every model, imported in one place so metadata is complete (migrations, tests)."""

from consent_service.audit.models import AuditEvent
from consent_service.db import Base
from consent_service.identity.models import KeyCheck, Organisation, RecoveryCode, User, UserSession

__all__ = ["AuditEvent", "Base", "KeyCheck", "Organisation", "RecoveryCode", "User", "UserSession"]

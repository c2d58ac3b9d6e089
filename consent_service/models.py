"""Every model, imported in one place so metadata is complete (migrations, tests)."""

from consent_service.audit.models import (
    AuditAlert,
    AuditCheckpoint,
    AuditEvent,
    AuditPending,
    AuditPurge,
    AuditRetention,
)
from consent_service.citizens.models import Citizen, CitizenKey, Referral
from consent_service.consents.models import Consent, ConsentEvent, ConsentForm, ConsentScan
from consent_service.consents.paper_models import PaperCustody, PaperLocation
from consent_service.db import Base
from consent_service.deletion.erasure_models import ErasureProposal
from consent_service.extracts.models import ExtractChunk, ExtractFile, ExtractRequest
from consent_service.identity.models import (
    AccessProposal,
    ApiToken,
    KeyCheck,
    Organisation,
    RecoveryCode,
    User,
    UserSession,
)
from consent_service.jobs.models import Job, Task
from consent_service.retention.models import EvidenceRetention
from consent_service.rulebook.models import (
    RulebookApproval,
    RulebookApprovedFile,
    RulebookVerification,
)
from consent_service.subject_requests.models import SubjectRequest
from consent_service.web.limits_storage import RateLimitCounter
from consent_service.wellbeing.models import WellbeingResponse

__all__ = [
    "AccessProposal",
    "ApiToken",
    "AuditAlert",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditPending",
    "AuditPurge",
    "AuditRetention",
    "Base",
    "Citizen",
    "CitizenKey",
    "Consent",
    "ConsentEvent",
    "ConsentForm",
    "ConsentScan",
    "ErasureProposal",
    "EvidenceRetention",
    "ExtractChunk",
    "ExtractFile",
    "ExtractRequest",
    "Job",
    "KeyCheck",
    "Organisation",
    "PaperCustody",
    "PaperLocation",
    "RateLimitCounter",
    "RecoveryCode",
    "Referral",
    "RulebookApproval",
    "RulebookApprovedFile",
    "RulebookVerification",
    "SubjectRequest",
    "Task",
    "User",
    "UserSession",
    "WellbeingResponse",
]

"""The service's wiring: settings, database, keys, policy, clock and audit, built once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from consent_service.access.policy import AccessPolicy, PolicyError
from consent_service.audit.catalogue import default_event_catalogue
from consent_service.audit.recorder import AuditRecorder
from consent_service.citizens.cohorts import default_cohorts
from consent_service.clock import Clock, SystemClock
from consent_service.config import Settings
from consent_service.consents.catalogue import catalogue
from consent_service.crypto import Crypto
from consent_service.db import make_engine, make_sessionmaker
from consent_service.deletion.erasure_policy import erasure_rules
from consent_service.extracts.policy import default_extract_policy
from consent_service.handlers import handler_for
from consent_service.oversight.alerts import default_alert_rules
from consent_service.retention.schedule import default_schedule
from consent_service.rulebook.book import load_rulebook
from consent_service.services import ServiceDeps
from consent_service.subject_requests.policy import request_rules
from consent_service.unit_of_work import HANDLER


def load_rule_files() -> None:
    """Validate every other reviewed rule file now, so a broken one stops the start with
    one line naming file and field, instead of failing a request later."""
    try:
        default_cohorts()
        cat = catalogue()
        for kind in cat.kinds:
            cat.current_template(kind)
        default_schedule()
        default_event_catalogue()
        default_alert_rules()
        default_extract_policy()
        request_rules()
        erasure_rules()
    except ValueError as exc:  # each loader's error names the file and the field
        raise PolicyError(str(exc)) from None


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    crypto: Crypto
    clock: Clock
    policy: AccessPolicy
    audit: AuditRecorder

    @property
    def deps(self) -> ServiceDeps:
        return ServiceDeps(self.settings, self.crypto, self.clock, self.audit)

    @property
    def identity(self) -> ServiceDeps:
        return self.deps

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> AppContext:
        """Build from settings; raises ConfigError/PolicyError on bad keys or policy."""
        clock = clock or SystemClock()
        crypto = Crypto(settings.keys)
        policy = AccessPolicy.load(settings.policy_dir / "access.yaml")
        load_rule_files()
        try:  # the rulebook's mapping, against the features and rule files it names
            load_rulebook(settings.rules_root)
        except ValueError as exc:
            raise PolicyError(str(exc)) from None
        engine = make_engine(
            settings.database_url,
            busy_timeout_seconds=settings.sqlite_busy_timeout_seconds,
            concurrency=settings.db_concurrency,
        )
        sessions = make_sessionmaker(engine)
        ctx = cls(settings, engine, sessions, crypto, clock, policy, AuditRecorder(clock))
        # Facts the use cases record are handled before each commit (unit_of_work).
        sessions.configure(info={HANDLER: handler_for(lambda: ctx.deps)})
        return ctx

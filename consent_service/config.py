"""Configuration: one Settings class, read from CONSENT_* environment variables.

Keys never live in the repository. They come from the environment or from an env
file outside version control (``CONSENT_ENV_FILE``, default ``var/consent.env``,
written once by ``consent-service generate-keys``).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from limits import parse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from consent_service.witness.note import ALG_COSIGNATURE_V1, NoteError, parse_vkey

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENV_FILE = Path("var/consent.env")
KEY_NAMES = ("master_key", "index_key", "signing_key")

# Rate limits per scope and key ("<scope>.<key>": "<amount>/<period>", the `limits`
# library's notation). Login and code are per account and per source address; step-up
# wherever a fresh code is submitted; password reset for the reset pages; the referral
# API per token and per address. Generous for people, tight for guessing: the account
# lockouts stay the main control, these cap the rate (and the argon2 work) before them.
DEFAULT_RATE_LIMITS: dict[str, str] = {
    "login.account": "10/minute",
    "login.address": "30/minute",
    "code.account": "10/minute",
    "code.address": "30/minute",
    "step_up.account": "20/minute",
    "step_up.address": "30/minute",
    "password_reset.account": "5/hour",
    "password_reset.address": "30/hour",
    "referral.token": "120/minute",
    "referral.address": "300/minute",
}


class ConfigError(Exception):
    """A configuration problem, stated as one line saying what to fix."""


def _decode_key(name: str, value: SecretStr | None) -> bytes:
    env = f"CONSENT_{name.upper()}"
    if value is None or not value.get_secret_value():
        raise ConfigError(
            f"{env} is not set: generate keys with `consent-service generate-keys` "
            "or set it to 32 random bytes in base64"
        )
    try:
        raw = base64.b64decode(value.get_secret_value(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(
            f"{env} is not valid base64: it must be 32 random bytes in base64"
        ) from None
    if len(raw) != 32:
        raise ConfigError(f"{env} must decode to 32 bytes, not {len(raw)}")
    return raw


class WitnessTarget(BaseModel):
    """One witness of the audit checkpoints (``CONSENT_WITNESSES``): the URL of a
    ``consent-service witness serve`` run by someone else, and its verifier key (the line
    ``consent-service witness log-key`` prints there), whose name names the witness."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    key: str

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("a witness URL must be http:// or https:// with a host")
        return v

    @field_validator("key")
    @classmethod
    def _vkey(cls, v: str) -> str:
        try:
            verifier = parse_vkey(v)
        except NoteError as exc:
            raise ValueError(f"not a witness verifier key: {exc}") from None
        if verifier.alg != ALG_COSIGNATURE_V1:
            raise ValueError("not a witness key: a witness countersigns with a cosignature/v1 key")
        if len(verifier.name) > 64:
            raise ValueError("a witness key's name is at most 64 characters")
        return v.strip()

    @property
    def name(self) -> str:
        return self.key.split("+", 1)[0]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONSENT_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///var/consent.db",
        description="SQLAlchemy URL: sqlite:///path for the embedded default, "
        "postgresql+psycopg://user@host/db for production. On PostgreSQL this is the "
        "application login, used by serve, worker and every command but migrate: it owns "
        "nothing and gets only the grants migrate gives it",
    )
    migration_database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL `consent-service migrate` (and `restore`) uses: on "
        "PostgreSQL the owner login, which owns every table and function and grants the "
        "application login of CONSENT_DATABASE_URL what it needs; unset (SQLite: one file, "
        "no roles) = CONSENT_DATABASE_URL",
    )
    sqlite_busy_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=300,
        description="SQLite only: how long a writer waits for another's write lock before "
        "the request answers 503 with Retry-After",
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="Base64 of 32 bytes: wraps per-citizen data keys and TOTP secrets (AES-GCM)",
    )
    index_key: SecretStr | None = Field(
        default=None,
        description="Base64 of 32 bytes: HMAC key of the CPR blind index and recovery-code hashes",
    )
    signing_key: SecretStr | None = Field(
        default=None,
        description="Base64 of 32 bytes: Ed25519 seed signing audit checkpoints and manifests",
    )
    host: str = Field(default="127.0.0.1", description="Address `serve` binds to")
    port: int = Field(default=8000, description="Port `serve` listens on")
    workers: int = Field(default=1, ge=1, description="Number of app processes `serve` starts")
    db_concurrency: int = Field(
        default=8,
        ge=1,
        le=32,
        description="Requests per app process that use the database at once; more wait "
        "their turn without holding a thread or a connection (web/admission.py). The "
        "connection pool is sized from it: twice this plus 4 connections per process",
    )
    secure_cookies: bool | None = Field(
        default=None,
        description="Mark cookies Secure; default: on unless the service binds to localhost",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose X-Forwarded-For is believed",
    )
    session_idle_minutes: int = Field(default=15, ge=1, description="Idle session timeout")
    session_absolute_hours: int = Field(default=8, ge=1, description="Absolute session lifetime")
    pending_login_minutes: int = Field(
        default=10, ge=1, description="Lifetime of a half-finished login (password given, no code)"
    )
    password_failure_limit: int = Field(
        default=5, ge=1, description="Password failures within the window that lock the account"
    )
    password_failure_window_minutes: int = Field(
        default=15, ge=1, description="Window in which password failures are counted"
    )
    password_lockout_minutes: list[int] = Field(
        default_factory=lambda: [5, 15, 60, 240],
        description="Growing lockout waits after each successive password lockout",
    )
    code_failure_limit: int = Field(
        default=10,
        ge=1,
        description="Code failures after a correct password that lock the account until an "
        "administrator unlocks it",
    )
    access_proposal_hours: int = Field(
        default=72,
        ge=1,
        le=24 * 30,
        description="How long an administrator's proposal (a user or role that can read "
        "citizens' data, a password or second-factor reset) waits for a data controller's "
        "approval before it expires",
    )
    account_mail_domains: list[str] = Field(
        default_factory=list,
        description="Domains a one-time password may be mailed to when an approver gives the "
        "user's work address (via CONSENT_SMTP_HOST); empty = any domain. Without SMTP the "
        "one-time password is shown once to the approver to hand over",
    )
    password_min_length: int = Field(
        default=12, ge=8, description="Minimum password length (NIST SP 800-63B: at least 8)"
    )
    totp_issuer: str = Field(default="Sociale henvisninger Norddjurs", description="TOTP issuer")
    bootstrap_organisation: str = Field(
        default="Region Midtjylland",
        description="Organisation of the first administrator: the one that runs the service, "
        "whose DPO reviews alerts of no organisation (audit:system_review)",
    )
    log_level: str = Field(default="INFO", description="Log level of the JSON log")
    policy_dir: Path = Field(
        default=REPO_ROOT / "policies", description="Folder of the policy files (access.yaml, ...)"
    )
    rules_root: Path = Field(
        default=REPO_ROOT,
        description="Folder holding features/, policies/, retention/ and templates/consent/: "
        "what the legal adviser's rulebook shows and signs off",
    )
    rules_verify_hour: int | None = Field(
        default=None,
        ge=0,
        le=23,
        description="Local hour (Europe/Copenhagen) from which the worker runs the Danish "
        "scenarios against the installed service once a day (`rules verify`); unset = never",
    )
    rules_verify_timeout_seconds: float = Field(
        default=3600.0, gt=0, description="How long a run of the scenarios may take"
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server for alert e-mails to the DPO; unset = no e-mail"
    )
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP server port")
    smtp_from: str = Field(
        default="samtykkeservice@localhost", description="Sender address of alert e-mails"
    )
    alert_email_to: str | None = Field(
        default=None, description="The DPO's address for alert e-mails; unset = no e-mail"
    )
    follow_up_due_months: int = Field(
        default=6, ge=1, description="Wellbeing follow-up is due this many months after baseline"
    )
    follow_up_overdue_months: int = Field(
        default=8,
        ge=1,
        description="Wellbeing follow-up is overdue this many months after baseline",
    )
    reconsent_reminder_days: list[int] = Field(
        default_factory=lambda: [60, 30, 14],
        description="Days before a journal consent expires that a needed re-consent is put on "
        "the worklist (then raised again)",
    )
    job_max_attempts: int = Field(
        default=5, ge=1, description="Attempts before a failing job is marked failed"
    )
    job_retry_seconds: int = Field(
        default=60, ge=1, description="First retry delay of a failed job; doubles each attempt"
    )
    worker_poll_seconds: float = Field(
        default=30.0, gt=0, description="How often `worker` looks for due jobs"
    )
    audit_checkpoint_minutes: int = Field(
        default=60,
        ge=1,
        description="The worker signs the audit chain head when the newest checkpoint is "
        "older than this",
    )
    audit_origin: str = Field(
        default="consent-service.local/audit",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x2a\x2c-\x7e]+$",
        description="The audit log's name in its signed checkpoints (the C2SP checkpoint "
        "origin and the name of its signing key, which witnesses know it by): one per "
        "deployment, never changed, e.g. 'samtykke.rm.dk/audit'; printable ASCII without "
        "spaces or '+'",
    )

    rate_limits: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS),
        description='Rate limits, as JSON: {"login.account": "10/minute", ...}; the '
        "entries given replace those defaults, the others keep theirs. Keys: login, code, "
        "step_up and password_reset per .account and .address; referral per .token and "
        ".address. Counted in the database, so shared by every process and host",
    )
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest request body (forms, JSON) a route takes unless it sets its "
        "own (the scan upload: its maximum scan size); larger ones get 413 unread",
    )

    witnesses: list[WitnessTarget] = Field(
        default_factory=list,
        description="Witnesses the worker hands every signed audit checkpoint to, as JSON: "
        '[{"url": "https://witness.example/", "key": "<name>+<key id>+<key>"}, ...], '
        "each a `consent-service witness serve` run by someone else, `key` its verifier key "
        "(`consent-service witness log-key` prints it there); names must differ; empty = none",
    )
    witness_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="How long the worker waits for a witness"
    )
    witness_stale_hours: int = Field(
        default=24,
        ge=1,
        description="An alert fires when a configured witness has not countersigned a "
        "checkpoint for this many hours",
    )
    checkpoint_email_to: str | None = Field(
        default=None,
        description="Where the worker mails each new interval checkpoint (the DPO's mailbox "
        "as a witness, via CONSENT_SMTP_HOST); unset = CONSENT_ALERT_EMAIL_TO",
    )

    @field_validator("witnesses")
    @classmethod
    def _distinct_witnesses(cls, v: list[WitnessTarget]) -> list[WitnessTarget]:
        names = [w.name for w in v]
        if len(set(names)) != len(names):
            raise ValueError("two witnesses have the same key name")
        return v

    @field_validator("rate_limits")
    @classmethod
    def _rate_limits(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(DEFAULT_RATE_LIMITS))
        if unknown:
            raise ValueError(
                f"unknown rate limit {unknown[0]}; known: {', '.join(DEFAULT_RATE_LIMITS)}"
            )
        merged = {**DEFAULT_RATE_LIMITS, **v}
        for name, value in merged.items():
            try:
                parse(value)
            except ValueError:
                raise ValueError(
                    f"rate limit {name} is not like '10/minute' or '5 per hour'"
                ) from None
        return merged

    @field_validator("log_level")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.upper()

    @field_validator("reconsent_reminder_days")
    @classmethod
    def _reminders(cls, v: list[int]) -> list[int]:
        if not v or any(d < 1 for d in v) or len(set(v)) != len(v):
            raise ValueError("give distinct positive day counts, e.g. [60, 30, 14]")
        return sorted(v, reverse=True)

    @model_validator(mode="after")
    def _follow_up_order(self) -> Settings:
        if self.follow_up_overdue_months <= self.follow_up_due_months:
            raise ValueError("follow_up_overdue_months must be after follow_up_due_months")
        return self

    @cached_property
    def keys(self) -> Keys:
        return Keys(
            master=_decode_key("master_key", self.master_key),
            index=_decode_key("index_key", self.index_key),
            signing=_decode_key("signing_key", self.signing_key),
        )

    @property
    def migration_url(self) -> str:
        """The owner's URL, for migrate: CONSENT_MIGRATION_DATABASE_URL, else the database URL."""
        return self.migration_database_url or self.database_url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def cookies_secure(self) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.host not in {"127.0.0.1", "localhost", "::1"}


class Keys:
    """The decoded key material; repr never shows it."""

    __slots__ = ("index", "master", "signing")

    def __init__(self, master: bytes, index: bytes, signing: bytes) -> None:
        self.master = master
        self.index = index
        self.signing = signing

    def __repr__(self) -> str:
        return "Keys(<redacted>)"


def env_file() -> Path:
    return Path(os.environ.get("CONSENT_ENV_FILE", str(DEFAULT_ENV_FILE)))


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and the env file; raise ConfigError on any problem."""
    path = env_file()
    try:
        settings = Settings(_env_file=path if path.exists() else None, **overrides)
    except SettingsError as exc:  # a list or object setting that is not JSON
        match = re.search(r'field "([a-z_]+)"', str(exc))
        name = f"CONSENT_{match.group(1).upper()}" if match else "a CONSENT_* setting"
        raise ConfigError(f"{name} is not valid JSON") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"]
        field = f"CONSENT_{str(loc[0]).upper()}" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:]
        )
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{field}: {message}") from None
    return settings

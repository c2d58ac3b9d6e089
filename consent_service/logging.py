"""Structured JSON logs with a request id on every line, and a redaction step.

The redaction processor runs last before rendering, over every string in the event,
so no CPR number, password, TOTP or recovery code, session token or key reaches a
log line, whoever wrote the call.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# CPR: DDMMYY-SSSS or 10 digits in a row (not part of a longer digit run).
_CPR = re.compile(r"(?<!\d)[0-9]{6}[- ]?[0-9]{4}(?!\d)")
# One-time codes: 6-8 digits standing alone.
_CODE = re.compile(r"(?<![\d.:/-])\d{6,8}(?![\d.:/-])")
# Long random tokens (session ids, API tokens, base64 keys).
_TOKEN = re.compile(r"[A-Za-z0-9_\-+/=]{32,}")
SENSITIVE_KEYS = frozenset(
    {
        "password",
        "new_password",
        "code",
        "totp",
        "otp",
        "recovery_code",
        "secret",
        "token",
        "session",
        "session_id",
        "cookie",
        "authorization",
        "cpr",
        "name",
        "csrf_token",
        "key",
    }
)
REDACTED = "[redacted]"


def redact_text(text: str) -> str:
    text = _CPR.sub(REDACTED, text)
    text = _TOKEN.sub(REDACTED, text)
    return _CODE.sub(REDACTED, text)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            k: (REDACTED if str(k).lower() in SENSITIVE_KEYS else _redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def redaction_processor(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in SENSITIVE_KEYS:
            event_dict[key] = REDACTED
        elif key not in {"timestamp", "level", "request_id", "logger"}:
            event_dict[key] = _redact(event_dict[key])
    return event_dict


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    """JSON to stderr (or the given stream); standard-library loggers go the same way."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redaction_processor,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access",):
        # Access lines carry URLs and client addresses; our middleware logs requests itself.
        logging.getLogger(noisy).handlers[:] = []
        logging.getLogger(noisy).propagate = False
        logging.getLogger(noisy).disabled = True
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )

"""Structured JSON logs with a request id on every line, and a redaction step.

The redaction processor runs last before rendering, over every string in the event,
so no CPR number, password, TOTP or recovery code, session token or key reaches a
log line, whoever wrote the call.

Exceptions are logged as their chain of types and traceback frames, never their messages
(``format_exc_safely``): a database error's message can hold the statement's parameters,
the failing value ("invalid input syntax for type integer: ...") or a key that already
exists ("Key (name)=(...)"), i.e. a person's name or whatever they typed. What is kept:
the exception's type, for database errors the SQLSTATE, constraint, table and column and
the statement (its parameters are bound, never in the text), and the messages of this
service's own exceptions, which promise never to hold the refused value.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
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


def _exception_header(exc: BaseException) -> str:
    kind = type(exc)
    header = f"{kind.__module__}.{kind.__qualname__}"
    facts: list[str] = []
    if kind.__module__.startswith("consent_service"):
        facts.append(str(exc)[:300])
    orig = getattr(exc, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's error
    if orig is not None:
        facts.append(f"driver={type(orig).__module__}.{type(orig).__qualname__}")
    for source in (exc, orig):
        diag = getattr(source, "diag", None)  # psycopg: the server's structured report
        for field in ("sqlstate", "constraint_name", "table_name", "column_name"):
            value = getattr(diag, field, None) if diag is not None else None
            if value:
                facts.append(f"{field}={value}")
        code = getattr(source, "sqlite_errorname", None)
        if code:
            facts.append(f"sqlite={code}")
    statement = getattr(exc, "statement", None)
    if isinstance(statement, str):
        facts.append("statement=" + " ".join(statement.split())[:300])
    return header + (": " + "; ".join(facts) if facts else "")


def safe_exception_text(exc: BaseException) -> str:
    """The exception chain as a traceback without any exception's message (and without
    source lines, which may hold a literal)."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    parts: list[str] = []
    for item in reversed(chain):
        if parts:
            parts.append("\nwhich led to:\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(
            f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}\n'
            for frame in traceback.extract_tb(item.__traceback__)
        )
        parts.append(_exception_header(item) + "\n")
    return "".join(parts)


def format_exc_safely(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Like structlog's ``format_exc_info``, but without exception messages (see above)."""
    exc_info = event_dict.pop("exc_info", None)
    if not exc_info:
        return event_dict
    if isinstance(exc_info, BaseException):
        exc: BaseException | None = exc_info
    elif isinstance(exc_info, tuple):
        exc = exc_info[1]
    else:
        exc = sys.exc_info()[1]
    if exc is not None:
        event_dict["exception"] = safe_exception_text(exc)
    return event_dict


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    """JSON to stderr (or the given stream); standard-library loggers go the same way."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        format_exc_safely,
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

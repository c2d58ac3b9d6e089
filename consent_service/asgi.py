"""ASGI entry point for `serve` (and any ASGI server): builds the app from the environment
after the start-up checks pass."""

from __future__ import annotations

from fastapi import FastAPI

from consent_service.app import create_app
from consent_service.audit.system import record_start
from consent_service.config import load_settings
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.logging import configure_logging
from consent_service.startup import check_database


def app_factory() -> FastAPI:
    settings = load_settings()
    configure_logging(settings.log_level)
    ctx = AppContext.build(settings)
    check_database(ctx.engine, ctx.crypto)
    with session_scope(ctx.sessions) as session:
        record_start(session, settings, ctx.audit)
    return create_app(ctx)

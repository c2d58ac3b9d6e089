"""``consent-service serve``: the web app and API under uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from consent_service.cli.common import add_command, service_context
from consent_service.cli.workers import serve_workers
from consent_service.config import load_settings
from consent_service.logging import configure_logging
from consent_service.startup import check_database

APP = "consent_service.asgi:app_factory"


def cmd_serve(args: argparse.Namespace) -> int:
    """Check the start-up, then serve the web app and API under uvicorn."""
    settings = load_settings()
    ctx = service_context(settings)
    check_database(ctx.engine, ctx.crypto)  # fail here, in one line, not in a worker
    ctx.engine.dispose()
    configure_logging(settings.log_level)
    options: dict[str, Any] = {
        "factory": True,
        "host": args.host or settings.host,
        "port": args.port or settings.port,
        "workers": args.workers or settings.workers,
        "proxy_headers": False,
        "server_header": False,
        "log_config": None,
    }
    if options["workers"] > 1:  # each worker on a socket of its own: cli/workers.py
        serve_workers(uvicorn.Config(APP, **options))
    else:
        uvicorn.run(APP, **options)
    return 0


def add_server_arguments(p: argparse.ArgumentParser) -> None:
    """The options of a command that serves (``serve``, ``run``)."""
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int)


def add_serve_command(sub: Any) -> None:
    """Register ``serve`` on the top-level subparsers."""
    add_server_arguments(add_command(sub, "serve", cmd_serve, "serve the web app and API"))

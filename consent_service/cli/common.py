"""What every sub-command of ``consent-service`` shares: its actor in the audit log, the
service's context and the registration of a sub-command."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from typing import Any

from consent_service.audit.recorder import Actor
from consent_service.config import Settings, load_settings
from consent_service.context import AppContext
from consent_service.startup import check_database


def cli_actor() -> Actor:
    """The operator running the command, as the audit log names them (``cli:<login>``)."""
    try:
        who = getpass.getuser()
    except Exception:
        who = "unknown"
    return Actor(username=f"cli:{who}"[:64], source_ip="local")


def service_context(settings: Settings) -> AppContext:
    """The service's context for these settings (engine, keys, policy, clock, audit)."""
    return AppContext.build(settings)


def checked_context() -> AppContext:
    """The context from the environment's settings, after the start-up checks."""
    ctx = service_context(load_settings())
    check_database(ctx.engine, ctx.crypto)
    return ctx


def add_command(
    sub: Any, name: str, func: Callable[[argparse.Namespace], int], help_: str
) -> argparse.ArgumentParser:
    """Register sub-command ``name`` on ``sub`` (argparse subparsers), run by ``func``."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_)
    p.set_defaults(func=func)
    return p

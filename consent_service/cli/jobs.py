"""``consent-service worker`` and ``run-due``: the scheduler, continuously or one pass."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from consent_service.cli.common import add_command, checked_context
from consent_service.logging import configure_logging
from consent_service.worker.runner import run_due, worker_name


def cmd_run_due(args: argparse.Namespace) -> int:
    """One pass of the worker, for cron: re-plan, then run every due job once."""
    ctx = checked_context()
    summary = run_due(ctx.sessions, ctx.deps)
    print(f"jobs: {summary}")
    return 0 if summary.failed == 0 else 1


def cmd_worker(args: argparse.Namespace) -> int:
    """The scheduler: a pass every ``worker_poll_seconds`` until stopped (SIGTERM/Ctrl-C).
    Several workers on one PostgreSQL share the due jobs; none runs twice."""
    ctx = checked_context()
    configure_logging(ctx.settings.log_level)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    name = worker_name()
    print(f"worker {name}: polling every {ctx.settings.worker_poll_seconds:g} s")
    while not stop.is_set():
        summary = run_due(ctx.sessions, ctx.deps, worker=name)
        if summary.done or summary.dropped or summary.failed or summary.retried:
            print(f"worker {name}: {summary}", flush=True)
        if args.once:
            break
        stop.wait(ctx.settings.worker_poll_seconds)
    return 0


def add_job_commands(sub: Any) -> None:
    """Register ``worker`` and ``run-due`` on the top-level subparsers."""
    p = add_command(sub, "worker", cmd_worker, "run scheduled jobs until stopped")
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    add_command(sub, "run-due", cmd_run_due, "run the due jobs once (for cron) and exit")

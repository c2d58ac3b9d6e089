"""``consent-service run``: the web app and the worker together, in one command.

For a laptop and the README's Quick start (``make run``): the worker runs in a child
process next to the server, so the worklist fills (follow-ups and re-consents open when
their time comes) without a second terminal. Ctrl-C (SIGINT) or SIGTERM stops the server,
then the worker; the command ends when both have. In production run them separately
(``consent-service serve`` and one or more ``consent-service worker`` under a process
manager), so each can be restarted and scaled on its own.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from typing import Any

from consent_service.cli.common import add_command, checked_context
from consent_service.cli.serve import add_server_arguments, cmd_serve

WORKER_STOP_SECONDS = 30.0


def start_worker() -> subprocess.Popen[bytes]:
    """``consent-service worker`` as a child process of this one (same environment)."""
    return subprocess.Popen([sys.executable, "-m", "consent_service.cli", "worker"])


def stop_worker(worker: subprocess.Popen[bytes]) -> int:
    """Ask the worker to stop (it finishes the job it is running), wait, and kill it only
    if it does not stop in ``WORKER_STOP_SECONDS``; its exit code."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    return worker.returncode


def _report_early_exit(worker: subprocess.Popen[bytes], stopping: threading.Event) -> None:
    code = worker.wait()
    if not stopping.is_set():
        print(
            f"consent-service run: the worker stopped (exit {code}); the server runs on, "
            "but scheduled jobs wait until a worker runs",
            file=sys.stderr,
            flush=True,
        )


class _Stopped(Exception):
    """SIGTERM arrived: uvicorn shuts down on it and then raises it again once it has
    restored the handlers it found; this one turns it into a clean end."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Stopped


def cmd_run(args: argparse.Namespace) -> int:
    """Start the worker, then serve until stopped; stop the worker when the server ends."""
    checked_context().engine.dispose()  # a bad configuration stops here, before any child
    worker = start_worker()
    stopping = threading.Event()
    threading.Thread(target=_report_early_exit, args=(worker, stopping), daemon=True).start()
    print(f"consent-service run: worker started (process {worker.pid})", flush=True)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = cmd_serve(args)
    except (_Stopped, KeyboardInterrupt):
        code = 0
    finally:
        stopping.set()
        stop_worker(worker)
        print("consent-service run: server and worker stopped", flush=True)
    return code


def add_run_command(sub: Any) -> None:
    """Register ``run`` on the top-level subparsers."""
    p = add_command(sub, "run", cmd_run, "serve the web app and run the worker next to it")
    add_server_arguments(p)

"""``consent-service run`` (what ``make run`` starts): the server and the worker in one
command; Ctrl-C, or SIGTERM to the command, stops both. SQLite only: the command is the
same on either engine, and the worker's engine handling is tested elsewhere."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

DEADLINE_SECONDS = 90  # a generous bound so a hung command fails instead of hanging


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that has exited but was not yet reaped is a zombie: not running.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[1].startswith("Z"))


def _wait_for(check: object, what: str) -> None:
    end = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < end:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


class Running:
    def __init__(self, proc: subprocess.Popen[str], out: Path, port: int) -> None:
        self.proc, self.out, self.port = proc, out, port

    def output(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")

    def worker_pid(self) -> int:
        marker = "worker started (process "
        text = self.output()
        return int(text.split(marker, 1)[1].split(")", 1)[0])


def command_environment(
    sqlite_template: Path, keys: dict[str, str], tmp_path: Path, db_name: str
) -> dict[str, str]:
    """The environment of a ``consent-service`` command run as a subprocess: this
    process's, without its CONSENT_ settings, plus the test keys, a copy of the migrated
    SQLite template in ``tmp_path`` and no env file."""
    db = tmp_path / db_name
    shutil.copyfile(sqlite_template, db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    env.update({f"CONSENT_{k.upper()}": v for k, v in keys.items()})
    env.update(
        CONSENT_DATABASE_URL=f"sqlite:///{db}",
        CONSENT_ENV_FILE=str(tmp_path / "absent.env"),
        CONSENT_AUDIT_ORIGIN="samtykke.test/audit",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def running(sqlite_template: Path, test_keys: dict[str, str], tmp_path: Path) -> Iterator[Running]:
    env = command_environment(sqlite_template, test_keys, tmp_path, "run.db")
    port = _free_port()
    out = tmp_path / "run.out"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "consent_service.cli", "run", "--host", "127.0.0.1",
             "--port", str(port), "--workers", "1"],
            env=env, cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,  # its own process group, as a terminal gives it
        )  # fmt: skip
    run = Running(proc, out, port)
    try:
        _wait_for(lambda: "worker started" in run.output(), "the worker to start")
        _wait_for(lambda: "polling every" in run.output(), "the worker's first pass")
        _wait_for(lambda: _healthy(port), "the server to answer")
        yield run
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _stopped(run: Running) -> int:
    try:
        return run.proc.wait(timeout=DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"run did not stop:\n{run.output()}")


def test_ctrl_c_stops_the_server_and_the_worker(running: Running) -> None:
    worker = running.worker_pid()
    assert _alive(worker)
    os.killpg(running.proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    assert _stopped(running) == 0, running.output()
    _wait_for(lambda: not _alive(worker), "the worker to end")
    assert "server and worker stopped" in running.output()
    assert "Traceback" not in running.output()
    assert not _healthy(running.port)


def test_sigterm_to_the_command_stops_the_worker_too(running: Running) -> None:
    worker = running.worker_pid()
    running.proc.send_signal(signal.SIGTERM)  # a process manager stopping the command only
    assert _stopped(running) == 0, running.output()
    _wait_for(lambda: not _alive(worker), "the worker to end")
    assert "Traceback" not in running.output()

"""``consent-service serve --workers 2``: each worker accepts on a listening socket of its
own (``SO_REUSEPORT``), so keep-alive connections opened together are spread over the
workers instead of all landing on the first to wake (``cli/workers.py``).

What the kernel shows is read from ``/proc`` (Linux only): which sockets listen on the
port, and which process holds each socket, listening or connected. SQLite: the command
is the same on either engine, and what is tested here is where connections go."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.integration.test_run_command import (
    DEADLINE_SECONDS,
    _alive,
    _free_port,
    _wait_for,
    command_environment,
)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads sockets from /proc"
)

CONNECTIONS = 40
SLOW = 60.0  # seconds a request may take on a loaded machine before it counts as unanswered
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp


def _tcp_table() -> list[tuple[int, int, str, int]]:
    """(local port, remote port, state, inode) of every TCP socket on this host."""
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                local, remote, state, inode = cols[1], cols[2], cols[3], int(cols[9])
                rows.append(
                    (
                        int(local.rsplit(":", 1)[1], 16),
                        int(remote.rsplit(":", 1)[1], 16),
                        state,
                        inode,
                    )
                )
    return rows


def _listening(port: int) -> set[int]:
    return {inode for lp, _, state, inode in _tcp_table() if lp == port and state == LISTEN}


def _sockets_of(pid: int) -> set[int]:
    """Inodes of the sockets process ``pid`` holds open."""
    held = set()
    with os.scandir(f"/proc/{pid}/fd") as fds:
        for fd in fds:
            try:
                target = os.readlink(fd.path)
            except OSError:
                continue  # closed meanwhile
            if target.startswith("socket:["):
                held.add(int(target[8:-1]))
    return held


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


class Serving:
    def __init__(self, proc: subprocess.Popen[str], out: Path, port: int) -> None:
        self.proc, self.out, self.port = proc, out, port

    def output(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")

    def workers(self) -> dict[int, set[int]]:
        """Each worker process and the listening sockets it holds."""
        listening = _listening(self.port)
        found = {}
        for child in _children(self.proc.pid):
            try:
                held = _sockets_of(child) & listening
            except FileNotFoundError:
                continue  # ended meanwhile
            if held:
                found[child] = held
        return found

    def ready(self, n: int) -> bool:
        workers = self.workers()
        return (
            len(workers) == n
            and len(_listening(self.port)) == n
            and all(_answers(self.port) for _ in range(2 * n))
        )


def _answers(port: int, timeout: float = 5.0) -> bool:
    """GET /healthz on a new connection; True on 200."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@pytest.fixture
def serving(sqlite_template: Path, test_keys: dict[str, str], tmp_path: Path) -> Iterator[Serving]:
    env = command_environment(sqlite_template, test_keys, tmp_path, "serve.db")
    port = _free_port()
    out = tmp_path / "serve.out"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "consent_service.cli", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--workers", "2"],
            env=env, cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
    serving = Serving(proc, out, port)
    try:
        _wait_for(lambda: serving.ready(2), "two workers to answer")
        yield serving
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_each_worker_listens_on_a_socket_of_its_own_and_the_supervisor_on_none(
    serving: Serving,
) -> None:
    workers = serving.workers()
    listening = _listening(serving.port)
    assert len(listening) == 2, "one listening socket per worker"
    assert sorted(len(held) for held in workers.values()) == [1, 1]
    assert set().union(*workers.values()) == listening, "each worker its own socket"
    # A copy the supervisor kept would outlive its worker (next test).
    assert not _sockets_of(serving.proc.pid) & listening

    serving.proc.send_signal(signal.SIGTERM)
    assert serving.proc.wait(timeout=DEADLINE_SECONDS) == 0, serving.output()
    assert "Traceback" not in serving.output()
    assert not _listening(serving.port)


def test_connections_opened_together_are_spread_over_the_workers(serving: Serving) -> None:
    """Forty keep-alive connections opened at once, as a proxy's pool opens them: each
    worker holds a fair share (the kernel hashes each connection to one socket; under a
    shared socket the first worker to wake accepts the whole burst)."""
    clients = [socket.socket() for _ in range(CONNECTIONS)]
    try:
        with ThreadPoolExecutor(CONNECTIONS) as pool:
            list(pool.map(lambda c: c.connect(("127.0.0.1", serving.port)), clients))
        for c in clients:
            c.settimeout(10)
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert all(c.recv(64).startswith(b"HTTP/1.1 200") for c in clients)

        client_ports = {c.getsockname()[1] for c in clients}
        accepted = {
            inode
            for lp, rp, state, inode in _tcp_table()
            if lp == serving.port and rp in client_ports and state != LISTEN
        }
        assert len(accepted) == CONNECTIONS
        share = {pid: len(_sockets_of(pid) & accepted) for pid in serving.workers()}
        assert sum(share.values()) == CONNECTIONS, share
        # Binomial(40, 1/2): a worker with fewer than 8 has odds of about 1 in 50,000.
        assert min(share.values()) >= 8, share
    finally:
        for c in clients:
            c.close()


def test_a_killed_worker_takes_its_socket_with_it_and_is_replaced(serving: Serving) -> None:
    workers = serving.workers()
    victim, survivor = sorted(workers)
    (victims_socket,) = workers[victim]
    os.kill(victim, signal.SIGKILL)
    _wait_for(lambda: not _alive(victim), "the worker to die")
    # Had the supervisor kept a copy of the dead worker's socket, it would stay listening
    # and the kernel would go on routing about half of the new connections to it, where
    # nobody ever accepts them. (While the socket is being closed, the kernel resets what
    # reaches it unless net.ipv4.tcp_migrate_req is 1: README, "Several processes".)
    _wait_for(lambda: victims_socket not in _listening(serving.port), "its socket to close")
    with ThreadPoolExecutor(30) as pool:
        answered = list(pool.map(lambda _: _answers(serving.port, SLOW), range(30)))
    assert answered.count(True) == 30
    _wait_for(lambda: serving.ready(2), "the supervisor to start a new worker")
    assert survivor in serving.workers()
    assert victim not in serving.workers()
    assert "Traceback" not in serving.output()


def test_a_port_already_taken_stops_serve_with_an_error(
    sqlite_template: Path, test_keys: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))  # no SO_REUSEPORT: nobody may join it
        taken.listen()
        port = taken.getsockname()[1]
        env = command_environment(sqlite_template, test_keys, tmp_path, "serve.db")
        done = subprocess.run(
            [sys.executable, "-m", "consent_service.cli", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--workers", "2"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=DEADLINE_SECONDS,
            check=False,
        )  # fmt: skip
    assert done.returncode != 0
    assert "cannot listen on 127.0.0.1" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_a_second_serve_on_the_same_port_is_refused_not_let_in(
    serving: Serving, sqlite_template: Path, test_keys: dict[str, str], tmp_path: Path
) -> None:
    """``SO_REUSEPORT`` lets any socket of the same user join the port: a second ``serve``
    started by mistake (an old version left running) would silently take a share of the
    connections. It is refused instead, and the first one serves on alone."""
    second = tmp_path / "second"
    second.mkdir()
    env = command_environment(sqlite_template, test_keys, second, "serve.db")
    proc = subprocess.Popen(
        [sys.executable, "-m", "consent_service.cli", "serve", "--host", "127.0.0.1",
         "--port", str(serving.port), "--workers", "2"],
        env=env, cwd=second, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # let in, its workers are stopped with it below
    )  # fmt: skip
    try:
        output, _ = proc.communicate(timeout=DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("a second serve on the same port was let in and served")
    assert proc.returncode != 0
    assert f"cannot listen on 127.0.0.1:{serving.port}" in output
    listening = _listening(serving.port)
    assert len(listening) == 2
    assert set().union(*serving.workers().values()) == listening  # all the first serve's
    assert all(_answers(serving.port, SLOW) for _ in range(10))

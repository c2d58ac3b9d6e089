"""Several app processes, each accepting connections on a listening socket of its own.

uvicorn's ``--workers`` hands every worker the same listening socket, and each worker's
event loop accepts every connection waiting on it at once (asyncio accepts up to its
backlog per wake-up). Clients that open their connections together and keep them alive,
as a reverse proxy's pool or a burst of browsers does, all land on whichever worker woke
first, and stay there: with 20 keep-alive clients on two workers (``bench/http_load.py``)
one worker ran at about 90% of a core while the other was nearly idle.

Here each worker gets its own socket, bound to the same address with ``SO_REUSEPORT``,
so the kernel spreads new connections over the listening workers' sockets by a hash of
the connection's addresses. A worker listens only once its app has started (uvicorn
listens on a given socket after the app's start-up), so while a worker starts or is
replaced, the others take every new connection. The supervisor is uvicorn's own
(restarts of dead or hung workers, graceful stop on SIGTERM and SIGINT, rolling restart
on SIGHUP, a worker more or fewer on SIGTTIN and SIGTTOU); only where the sockets come
from differs. The supervisor closes its copy of each worker's socket as soon as the
worker has started: a copy it kept would stay in the port's group after its worker died,
and the kernel would go on routing connections to a socket nobody accepts on. Where
``SO_REUSEPORT`` does not exist, uvicorn's shared socket is used.

The price: when a worker dies or stops, the connections waiting on its socket (and those
reaching it while it closes) are reset, not taken by another worker, unless the host sets
``net.ipv4.tcp_migrate_req = 1`` (Linux 5.14 and later), which hands them over.
"""

from __future__ import annotations

import logging
import socket
import sys

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess

log = logging.getLogger("uvicorn.error")


def own_sockets_supported() -> bool:
    """Whether this platform lets several sockets listen on one port (Linux, BSDs)."""
    return hasattr(socket, "SO_REUSEPORT")


def bound_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` with ``SO_REUSEPORT``, not yet listening: the
    worker given it listens once its app has started, so the kernel sends no connection
    to a worker that cannot answer yet (a worker started late, or one replacing a dead
    one, while the others serve)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def refuse_if_taken(host: str, port: int) -> None:
    """Exit with uvicorn's start-up failure if something already listens on the port.
    ``SO_REUSEPORT`` would let a second ``serve`` of the same user (an old version left
    running, a copy started twice) join the port's group and take a share of the
    connections instead of being refused; a socket bound without it is refused by any
    socket there, listening or bound."""
    if port == 0:
        return  # a port of the kernel's choosing is free
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT only
        try:
            probe.bind((host, port))
        except OSError as exc:
            log.error("cannot listen on %s:%d: %s", host, port, exc)
            sys.exit(STARTUP_FAILURE)


class OwnSocketWorkers(Multiprocess):
    """uvicorn's supervisor of ``config.workers`` processes, each given a listening socket
    of its own (see the module's docstring)."""

    def __init__(self, config: Config) -> None:
        self._handed: list[socket.socket] = []
        self._port = config.port
        super().__init__(config, sockets=[])

    @property
    def sockets(self) -> list[socket.socket]:
        """A new socket for the worker about to be made: uvicorn reads this attribute
        once for each worker it starts, restarts or replaces."""
        try:
            sock = bound_socket(self.config.host, self._port)
        except OSError as exc:
            log.error("cannot listen on %s:%d: %s", self.config.host, self._port, exc)
            sys.exit(STARTUP_FAILURE)
        self._port = sock.getsockname()[1]  # port 0: every later worker joins the first's
        self._handed.append(sock)
        return [sock]

    @sockets.setter
    def sockets(self, _: list[socket.socket]) -> None:
        """``Multiprocess.__init__`` assigns the shared sockets: there are none."""

    def _close_handed(self) -> None:
        # A spawned worker received its socket when it was started (the file descriptor is
        # passed at exec), so the supervisor's copy can go now.
        while self._handed:
            self._handed.pop().close()

    def run(self) -> None:
        try:
            super().run()
        except SystemExit:  # a socket could not be made: stop the workers already started
            self.terminate_all()
            self.join_all()
            raise

    def init_processes(self) -> None:
        super().init_processes()
        self._close_handed()
        log.info(
            "Uvicorn running on http://%s:%d, %d workers with a socket each",
            self.config.host,
            self._port,
            self.processes_num,
        )

    def handle_signals(self) -> None:  # SIGHUP restarts every worker, SIGTTIN adds one
        super().handle_signals()
        self._close_handed()

    def keep_subprocess_alive(self) -> None:
        super().keep_subprocess_alive()
        self._close_handed()


def serve_workers(config: Config) -> None:
    """Run ``config.workers`` processes of ``config.app`` (an import string) until stopped:
    each on its own socket where the platform allows, else on uvicorn's shared one."""
    if own_sockets_supported():
        refuse_if_taken(config.host, config.port)
        OwnSocketWorkers(config).run()
    else:
        Multiprocess(config, sockets=[config.bind_socket()]).run()

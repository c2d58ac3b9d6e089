"""A witness service (``consent-service witness serve``) in a thread on a loopback port,
for the tests that need a real one over HTTP."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

from consent_service.witness.server import server
from consent_service.witness.service import Witness


def serve_in_thread(witness: Witness, sock: socket.socket, **options: Any) -> Callable[[], None]:
    """Serve ``witness`` on the bound ``sock`` until the returned ``stop`` is called;
    returns once the server accepts connections. ``stop`` also closes the store."""
    host, port = sock.getsockname()[:2]
    srv = server(witness, host=host, port=port, **options)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if srv.started:
            break
        threading.Event().wait(0.01)
    assert srv.started

    def stop() -> None:
        srv.should_exit = True
        thread.join(timeout=10)
        witness.store.close()
        sock.close()

    return stop

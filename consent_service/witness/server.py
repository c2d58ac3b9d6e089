"""The witness's HTTP interface (c2sp.org/tlog-witness): a small ASGI app served by uvicorn.

Why a bare ASGI app under uvicorn, and not FastAPI or ``http.server``: uvicorn is already
the project's server and parses HTTP robustly (header size limits, keep-alive timeouts,
a concurrency limit), where the standard library's ``http.server`` is documented as not
meant for production. FastAPI would add nothing for two routes with bodies that are not
JSON, and its automatic 422 validation answers would blur the protocol's own 422 ("not a
consistent extension"). The bare app reads the body itself, counting bytes, so an
oversized body is refused with 413 before it is held in memory, and every refusal is a
plain-text 4xx; only a fault of the witness itself can give a 500.

Routes: ``POST /add-checkpoint`` and ``GET /<hex SHA-256 of the origin>/checkpoint`` (the
latest cosigned checkpoint of that log, as the specification's monitoring interface).
Bind to loopback unless the witness is meant to be reached from elsewhere; it has no
authentication beyond the log signature on what it is sent, as the specification intends.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog
import uvicorn

from consent_service.witness.protocol import MAX_BODY_BYTES
from consent_service.witness.service import Refusal, Witness

log = structlog.get_logger()

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TEXT = "text/plain; charset=utf-8"


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


class WitnessApp:
    """ASGI application around one ``Witness``."""

    def __init__(self, witness: Witness, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.witness = witness
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope.get("path", "")
        method: str = scope.get("method", "")
        if path == "/add-checkpoint":
            if method != "POST":
                await _answer(send, 405, "use POST\n", extra=[(b"allow", b"POST")])
                return
            await self._add_checkpoint(scope, receive, send)
            return
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == "" and parts[2] == "checkpoint":
            if method not in ("GET", "HEAD"):
                await _answer(send, 405, "use GET\n", extra=[(b"allow", b"GET")])
                return
            await self._checkpoint(parts[1], send)
            return
        await _answer(send, 404, "not found\n")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise _TooLarge from None
                if declared > self.max_body_bytes:
                    raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _add_checkpoint(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await self._read_body(scope, receive)
        except _TooLarge:
            await _answer(send, 413, "request body too large\n")
            return
        except _Disconnected:
            return
        try:
            # Checks and the store's fsync block; a thread keeps the loop answering.
            cosignature = await asyncio.to_thread(self.witness.add_checkpoint, body)
        except Refusal as refusal:
            await _answer(send, refusal.status, refusal.body, refusal.content_type)
            return
        await _answer(send, 200, cosignature.line)

    async def _checkpoint(self, origin_hash: str, send: Send) -> None:
        note = await asyncio.to_thread(self.witness.latest_note, origin_hash)
        if note is None:
            await _answer(send, 404, "no cosigned checkpoint for this log\n")
            return
        await _answer(send, 200, note)


async def _answer(
    send: Send,
    status: int,
    body: str,
    content_type: str = TEXT,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    data = body.encode("utf-8")
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(data)).encode()),
        (b"cache-control", b"no-store"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def server(
    witness: Witness,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    host: str = "127.0.0.1",
    port: int = 0,
) -> uvicorn.Server:
    """A uvicorn server for ``witness`` (not started)."""
    config = uvicorn.Config(
        WitnessApp(witness, max_body_bytes),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
        limit_concurrency=64,
        timeout_keep_alive=5,
        lifespan="on",
    )
    return uvicorn.Server(config)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free port; read it with ``getsockname()``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock

"""The witness's decision on one add-checkpoint request (c2sp.org/tlog-witness), no HTTP.

Order of checks and answers, as the specification lays them down:

- malformed body or note: 400;
- unknown origin: 404;
- no valid signature from a log key the witness holds for that origin, or a known key's
  signature that fails: 403;
- old size larger than the checkpoint's size: 400 (so a cut, a checkpoint smaller than
  the witness's latest, is refused: either its old size is the witness's size, and then
  larger than the checkpoint, or it is not, and then 409);
- old size other than the size of the witness's latest checkpoint for the origin: 409,
  the body being that size and a newline, content type ``text/x.tlog.size``;
- size 0 with a head other than the empty chain's (32 zero bytes), a proof with old size 0,
  the same size with another head, or a proof that does not link the witness's head to the
  new head: 422.

Only then is the checkpoint cosigned and stored, in the same transaction as the check, and
the cosignature line returned. A checkpoint that is validly signed by the log but refused
for consistency is kept (up to ``MAX_REFUSED_KEPT`` per log) as evidence of a fork or cut.
A fork is never cosigned.

Old size 0 with an empty proof is accepted only while the witness holds nothing for the
origin (else 409): the first checkpoint a witness sees is trusted on first use, as in the
specification. Once it holds a checkpoint, even one of size 0 (the empty chain), every
later one needs the digests from that size on.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from consent_service.witness.consistency import EMPTY_HEAD, extends
from consent_service.witness.note import (
    Checkpoint,
    Cosignature,
    InvalidNoteSignature,
    NoteError,
    NoteSigner,
    UnverifiedNote,
    checkpoint_origin,
    cosign,
    open_checkpoint,
)
from consent_service.witness.protocol import (
    SIZE_CONTENT_TYPE,
    BadRequest,
    parse_add_checkpoint,
)
from consent_service.witness.store import Accepted, WitnessStore, load_key

log = structlog.get_logger()

MAX_REFUSED_KEPT = 1000


class Refusal(Exception):
    """The witness does not cosign; ``status`` and ``body`` are the HTTP answer."""

    def __init__(
        self, status: int, body: str, content_type: str = "text/plain; charset=utf-8"
    ) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.content_type = content_type

    def __str__(self) -> str:
        return f"{self.status}: {self.body.strip()}"


class Witness:
    """One witness: its key, its store, a lock serialising submissions in this process
    (the store's ``BEGIN IMMEDIATE`` serialises across processes)."""

    def __init__(
        self,
        key: NoteSigner,
        store: WitnessStore,
        now: Callable[[], int] = lambda: int(time.time()),
    ) -> None:
        self.key = key
        self.store = store
        self.now = now
        self._lock = threading.Lock()

    @classmethod
    def open(cls, state: Path, now: Callable[[], int] | None = None) -> Witness:
        key = load_key(state)
        store = WitnessStore(state)
        return cls(key, store) if now is None else cls(key, store, now)

    @property
    def vkey(self) -> str:
        return self.key.verifier.vkey

    def add_checkpoint(self, body: bytes) -> Cosignature:
        """Check and, if consistent, cosign and store; raises ``Refusal`` otherwise."""
        try:
            request = parse_add_checkpoint(body)
            origin = checkpoint_origin(request.note)
        except (BadRequest, NoteError) as exc:
            raise Refusal(400, f"{exc}\n") from None
        with self._lock:
            keys = self.store.log_keys(origin)
            if not keys:
                raise Refusal(404, "unknown origin\n")
            try:
                checkpoint, _ = open_checkpoint(request.note, keys)
            except (InvalidNoteSignature, UnverifiedNote):
                raise Refusal(403, "no valid signature from a key of this log\n") from None
            except NoteError as exc:
                raise Refusal(400, f"{exc}\n") from None
            if request.old_size > checkpoint.size:
                raise Refusal(400, "old size is larger than the checkpoint size\n")
            refusal: Refusal | None = None
            with self.store.transaction():
                latest = self.store.latest(origin)
                try:
                    self._check(request.old_size, request.proof, checkpoint, latest)
                except Refusal as exc:
                    refusal = exc
                    if exc.status == 422:
                        self._keep_evidence(checkpoint, request.note, exc)
                else:
                    cosignature = cosign(checkpoint, self.key, self.now())
                    self.store.append_accepted(
                        Accepted(
                            origin=origin,
                            size=checkpoint.size,
                            root_hash=checkpoint.root_hash,
                            note=request.note.decode("utf-8"),
                            cosignature=cosignature.line,
                            accepted_at=cosignature.timestamp,
                        )
                    )
            if refusal is not None:
                raise refusal
        log.info("witness.cosigned", origin=origin, size=checkpoint.size)
        return cosignature

    def _check(
        self,
        old_size: int,
        proof: tuple[bytes, ...],
        checkpoint: Checkpoint,
        latest: Accepted | None,
    ) -> None:
        current = 0 if latest is None else latest.size
        if old_size != current:
            raise Refusal(409, f"{current}\n", SIZE_CONTENT_TYPE)
        if checkpoint.size == 0 and checkpoint.root_hash != EMPTY_HEAD:
            raise Refusal(422, "a checkpoint of size 0 must have the empty chain's head\n")
        if latest is None:
            if proof:
                raise Refusal(422, "the proof must be empty when the old size is 0\n")
            return
        if checkpoint.size == latest.size and checkpoint.root_hash != latest.root_hash:
            raise Refusal(422, "same size, different head: this contradicts history\n")
        if not extends(latest.size, latest.root_hash, proof, checkpoint.size, checkpoint.root_hash):
            raise Refusal(422, "the proof does not extend the last checkpoint\n")

    def _keep_evidence(self, checkpoint: Checkpoint, note: bytes, refusal: Refusal) -> None:
        origin = checkpoint.origin
        log.warning("witness.refused_inconsistent", origin=origin, size=checkpoint.size)
        if self.store.refused_count(origin) < MAX_REFUSED_KEPT:
            self.store.append_refused(
                origin,
                checkpoint.size,
                checkpoint.root_hash,
                note.decode("utf-8"),
                refusal.status,
                refusal.body.strip(),
                self.now(),
            )

    def latest_note(self, origin_hash: str) -> str | None:
        """The latest accepted checkpoint of the log whose origin has this hex SHA-256,
        with the log's signature and this witness's cosignature (the tlog-witness
        monitoring answer), or None."""
        with self._lock:
            for origin in self.store.origins():
                if hashlib.sha256(origin.encode()).hexdigest() == origin_hash:
                    latest = self.store.latest(origin)
                    if latest is not None:
                        return latest.note + latest.cosignature
        return None

"""Submitting a signed checkpoint to a witness (the log's side of c2sp.org/tlog-witness).

``submit`` sends ``old <size>``, the digests of the events since that size and the signed
checkpoint note to ``<witness_url>/add-checkpoint``, checks the returned cosignature with
the witness's configured key and returns it. Each refusal is its own exception, so the
caller can act on it: ``WitnessConflict`` carries the witness's current size (resend from
there with the digests after it; ``submit_resyncing`` does that once), ``WitnessAhead``
says the witness holds more than the log now claims (an alarm), ``WitnessRefused`` is a
refusal that resending will not cure (400, 403, 404, 413, 422: a malformed request,
another history, an unknown log or key), ``WitnessUnavailable`` a network failure,
timeout or server error (try later), ``WitnessBadResponse`` an answer without a valid
cosignature from the configured witness key.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence

from consent_service.witness.consistency import MAX_PROOF_DIGESTS
from consent_service.witness.note import (
    Cosignature,
    NoteError,
    Verifier,
    parse_checkpoint,
    parse_cosignature_lines,
    verify_cosignature,
)
from consent_service.witness.protocol import MAX_BODY_BYTES, format_add_checkpoint

MAX_RESPONSE_BYTES = 64 * 1024
_SIZE_BODY = re.compile(rb"(0|[1-9][0-9]{0,18})\n")


class WitnessError(Exception):
    """A witness did not cosign; the message is safe to log (no secret, no content)."""


class WitnessConflict(WitnessError):
    """409: the old size is not the witness's latest; ``witness_size`` is that size."""

    def __init__(self, witness_size: int) -> None:
        super().__init__(f"the witness's latest checkpoint has size {witness_size}")
        self.witness_size = witness_size


class WitnessRefused(WitnessError):
    """The witness refused the checkpoint (400, 403, 404, 413, 422)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"witness refused with {status}: {reason}")
        self.status = status
        self.reason = reason


class WitnessAhead(WitnessError):
    """The witness has cosigned a larger size than the checkpoint being sent: the log
    lost events the witness saw (a cut or a rollback), or the log sent a stale checkpoint.
    An alarm, never retried."""

    def __init__(self, witness_size: int, checkpoint_size: int) -> None:
        super().__init__(
            f"the witness has cosigned size {witness_size}, beyond this checkpoint's"
            f" {checkpoint_size}"
        )
        self.witness_size = witness_size
        self.checkpoint_size = checkpoint_size


class WitnessUnavailable(WitnessError):
    """No answer, a timeout, or a server error: nothing was decided; try again later."""


class WitnessBadResponse(WitnessError):
    """The witness answered 200 without a valid cosignature from its configured key."""


def _endpoint(witness_url: str) -> str:
    parts = urllib.parse.urlsplit(witness_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("witness URL must be http:// or https:// with a host")
    return witness_url.rstrip("/") + "/add-checkpoint"


def submit(
    witness_url: str,
    note: bytes | str,
    old_size: int,
    digests: Sequence[bytes],
    timeout: float,
    *,
    witness_key: Verifier,
) -> Cosignature:
    """Ask the witness at ``witness_url`` to cosign ``note`` (a checkpoint signed by the
    log), given its latest size ``old_size`` and the digests of events
    ``old_size+1 .. size``. Returns the cosignature, verified with ``witness_key``
    (its ``line`` is what to append to the note). Raises a ``WitnessError`` subclass."""
    if len(digests) > MAX_PROOF_DIGESTS:
        raise ValueError(
            f"at most {MAX_PROOF_DIGESTS} digests per submission: submit an intermediate"
            " checkpoint first"
        )
    note_bytes = note.encode("utf-8") if isinstance(note, str) else note
    body = format_add_checkpoint(old_size, digests, note_bytes)
    if len(body) > MAX_BODY_BYTES:
        raise ValueError("request body larger than a witness accepts")
    text = note_bytes.decode("utf-8", errors="strict")
    checkpoint = parse_checkpoint(text[: text.rfind("\n\n") + 1])
    request = urllib.request.Request(  # noqa: S310 - scheme checked in _endpoint
        _endpoint(witness_url),
        data=body,
        method="POST",
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            answer = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise _refusal(exc) from None
    except (urllib.error.URLError, OSError) as exc:
        raise WitnessUnavailable(f"witness unreachable: {exc.__class__.__name__}") from None
    if len(answer) > MAX_RESPONSE_BYTES:
        raise WitnessBadResponse("witness answer too large")
    try:
        lines = parse_cosignature_lines(answer)
    except NoteError as exc:
        raise WitnessBadResponse(f"witness answer is not signature lines: {exc}") from None
    for cosignature in lines:
        if verify_cosignature(checkpoint, cosignature, witness_key):
            return cosignature
    raise WitnessBadResponse("no valid cosignature from the configured witness key")


def submit_resyncing(
    witness_url: str,
    note: bytes | str,
    old_size: int,
    digests_after: Callable[[int], Sequence[bytes]],
    timeout: float,
    *,
    witness_key: Verifier,
) -> Cosignature:
    """``submit`` from ``old_size`` (the size the log believes the witness holds; 0 if it
    does not know); on a 409, once more from the witness's own size, with
    ``digests_after(size)``, the digests of the events after ``size`` up to the
    checkpoint's size. Raises ``WitnessAhead`` if the witness holds a larger size than the
    checkpoint, and the other ``WitnessError``s as ``submit``."""
    try:
        return submit(
            witness_url, note, old_size, digests_after(old_size), timeout, witness_key=witness_key
        )
    except WitnessConflict as conflict:
        text = note.decode("utf-8") if isinstance(note, bytes) else note
        size = parse_checkpoint(text[: text.rfind("\n\n") + 1]).size
        if conflict.witness_size > size:
            raise WitnessAhead(conflict.witness_size, size) from None
        since = conflict.witness_size
    return submit(witness_url, note, since, digests_after(since), timeout, witness_key=witness_key)


def _refusal(exc: urllib.error.HTTPError) -> WitnessError:
    try:
        body = exc.read(1024)
    except OSError:
        body = b""
    finally:
        exc.close()
    if exc.code == 409:
        match = _SIZE_BODY.fullmatch(body)
        if match is None:
            return WitnessBadResponse("409 without a size")
        return WitnessConflict(int(match.group(1)))
    if exc.code >= 500:
        return WitnessUnavailable(f"witness error {exc.code}")
    reason = body.decode("utf-8", errors="replace").strip().splitlines()
    return WitnessRefused(exc.code, reason[0][:200] if reason else "")

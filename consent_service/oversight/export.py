"""Export of the audit log as JSON Lines that an outsider can verify with
``audit/verify.py`` and the published public key.

Format ``consent-service-audit-export/2`` (chain v2, ``consent_service.audit.chain``),
one JSON object per line. What is where:

1. a header, signed by the service: format, the Ed25519 public key (raw, base64) and its
   key id, the requested period (``requested_from``, ``requested_to``), the period's
   sequence range and count (``first_seq``, ``last_seq``, ``events``: the anchor-to-period
   part below, as before the tail existed), the organisation the export is for (null:
   system-wide), when it was made (``exported_at``), and the state of the whole log at
   export time: its head (``log_head_seq``), its newest signed checkpoint
   (``newest_checkpoint``, the head's checkpoint unless the log was cut below a signed
   checkpoint) and the number of tail events (``tail_events``, ``log_head_seq -
   last_seq``). So a file cut short is caught, and so is a log whose tail was cut across
   a signed checkpoint (the newest checkpoint lies beyond the head);
2. an anchor checkpoint, if the export does not start at the first event: the newest
   checkpoint before the requested period; the export then starts right after it, so its
   first event links to a signed hash;
3. the period's events in order (``first_seq`` .. ``last_seq``), each as
   ``{"hash":"<64 hex>","event":<canonical content>}`` where the canonical content is
   exactly the bytes digested (``chain.content_bytes``), so verification hashes a slice
   of the line instead of re-serialising it; in an export for one organisation, an event
   it may not see (``scope.concerns_organisation``) is only
   ``{"type":"redacted","digest":"<64 hex>","seq":N}``, which links the chain without
   showing anything; after an event that has a checkpoint, the checkpoint line
   ``{"type":"checkpoint",...}``; the period's last event always has a checkpoint (one is
   signed for the export if needed);
4. the tail: every event after the period up to the log's head at export time, each
   only as ``{"type":"tail","digest":"<64 hex>","seq":N}`` (whoever the reader is: it
   shows nothing but the number of events), each followed by its checkpoint line if it
   has one; the head always has a checkpoint (signed for the export if needed), which
   is the last line. The tail lets ``verify.py --witness`` check a checkpoint a witness
   cosigned after the period (its size and hash are then within the exported chain).
   It costs about 100 bytes per event after the period.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy.orm import Session

from consent_service.audit import repository as repo
from consent_service.audit.chain import canonical_time, content_bytes, event_digest
from consent_service.audit.checkpoints import (
    checkpoint_before,
    key_id,
    raw_public_key,
    sign_event,
)
from consent_service.audit.models import AuditCheckpoint
from consent_service.audit.recorder import Actor, AuditRecorder, as_record
from consent_service.audit.service import chain_start
from consent_service.clock import Clock
from consent_service.crypto import Crypto
from consent_service.oversight import repository

FORMAT = "consent-service-audit-export/2"
HEADER_PREFIX = b"consent-service audit export header v2\n"
BATCH = 5000


@dataclass(frozen=True)
class ExportSummary:
    events: int  # every exported position of the chain, redacted ones included
    first_seq: int | None
    last_seq: int | None
    checkpoints: int  # every checkpoint line, the anchor's and the tail's included
    redacted: int = 0
    tail: int = 0  # events after the period up to the log's head, as digests


def header_message(header: dict[str, Any]) -> bytes:
    """What the header's signature covers: every header field but the signature."""
    body = {k: v for k, v in header.items() if k != "signature"}
    return HEADER_PREFIX + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def checkpoint_fields(cp: AuditCheckpoint) -> dict[str, Any]:
    return {
        "origin": cp.origin,
        "seq": cp.seq,
        "hash": cp.hash,
        "signed_at": canonical_time(cp.signed_at),
        "signature": cp.signature,
    }


def checkpoint_line(cp: AuditCheckpoint) -> str:
    return json.dumps({"type": "checkpoint", **checkpoint_fields(cp)}, separators=(",", ":"))


def event_line(record: dict[str, Any]) -> str:
    event_hash: str = record["hash"]
    return '{"hash":"' + event_hash + '","event":' + content_bytes(record).decode() + "}"


def redacted_line(seq: int, digest: str) -> str:
    """An event the export's reader may not see: its digest links the chain."""
    return '{"type":"redacted","digest":"' + digest + '","seq":' + str(seq) + "}"


def tail_line(seq: int, digest: str) -> str:
    """An event after the exported period, up to the log's head: its digest only."""
    return '{"type":"tail","digest":"' + digest + '","seq":' + str(seq) + "}"


def export_range(
    session: Session,
    crypto: Crypto,
    clock: Clock,
    audit: AuditRecorder,
    actor: Actor,
    occurred_from: datetime,
    occurred_to: datetime,
    out: TextIO,
    *,
    organisation_id: int | None = None,
    origin: str,
) -> ExportSummary:
    """Write the events of [occurred_from, occurred_to) and what proves them to ``out``.

    With ``organisation_id``, every event of the range that does not concern that
    organisation (``scope.concerns_organisation``) is written as its digest only; None
    exports every event in full (system-wide). The caller decides who may ask for which.
    """
    low, high = repo.seq_range(session, occurred_from, occurred_to)
    kept_from, _ = chain_start(session)
    # The whole log as it stands now, newest checkpoint first: each statement may see
    # more committed events than the one before, so the head read second is never behind
    # the checkpoint read first. A checkpoint beyond the head then shows a cut tail.
    newest = repo.newest_checkpoint(session)
    head = repo.head_seq(session)
    first = last = None
    anchor = None
    if low is not None and high is not None and head is not None:
        anchor = checkpoint_before(session, low)
        first = anchor.seq + 1 if anchor is not None else kept_from
        last = high
        # The period's end and the log's head are signed if they are not yet (the signing
        # events come after the head read above, so they are not in this export).
        for seq in sorted({last, head}):
            made = sign_event(session, crypto, clock, audit, actor, seq, "export", origin=origin)
            if seq == head and (newest is None or newest.seq < head):
                newest = made
    count = (last - first + 1) if first is not None and last is not None else 0
    tail = (head - last) if last is not None and head is not None else 0
    header: dict[str, Any] = {
        "type": "header",
        "format": FORMAT,
        "public_key": base64.b64encode(raw_public_key(crypto.public_key)).decode(),
        "key_id": key_id(crypto.public_key),
        "organisation_id": organisation_id,
        "requested_from": canonical_time(occurred_from),
        "requested_to": canonical_time(occurred_to),
        "exported_at": canonical_time(clock.now()),
        "first_seq": first,
        "last_seq": last,
        "events": count,
        "log_head_seq": head,
        "newest_checkpoint": checkpoint_fields(newest) if newest is not None else None,
        "tail_events": tail,
    }
    header["signature"] = base64.b64encode(crypto.sign(header_message(header))).decode()
    out.write(json.dumps(header, separators=(",", ":")) + "\n")
    checkpoints = redacted = 0
    if first is not None and last is not None and head is not None:
        if anchor is not None:
            out.write(checkpoint_line(anchor) + "\n")
            checkpoints += 1
        signed = {cp.seq: cp for cp in repo.checkpoints_between(session, first, head)}
        for event, shown in repository.events_between_shown_to(
            session, first, head, organisation_id, batch=BATCH
        ):
            record = as_record(event)
            if event.seq > last:
                out.write(tail_line(event.seq, event_digest(record)) + "\n")
            elif shown:
                out.write(event_line(record) + "\n")
            else:
                out.write(redacted_line(event.seq, event_digest(record)) + "\n")
                redacted += 1
            cp = signed.get(event.seq)
            if cp is not None:
                out.write(checkpoint_line(cp) + "\n")
                checkpoints += 1
    audit.record(
        session,
        actor,
        action="audit.exported",
        outcome="success",
        organisation_id=organisation_id,  # the organisation's DPO sees who exported its log
        details={
            "from": canonical_time(occurred_from),
            "to": canonical_time(occurred_to),
            "events": count,
            "first_seq": first,
            "last_seq": last,
            "organisation": organisation_id,
            "redacted": redacted,
        },
    )
    return ExportSummary(count, first, last, checkpoints, redacted, tail)

"""Handing signed checkpoints to witnesses outside the database's trust domain.

On every pass, after signing the interval checkpoint, the worker (``worker.runner``) calls
``hand_off``:

- For each witness of ``CONSENT_WITNESSES`` (a ``consent-service witness serve`` run by
  someone else): every signed checkpoint of the log beyond the largest one the witness has
  cosigned (per ``audit_cosignature``; 0 at first), oldest first, is sent with
  ``witness.client.submit_resyncing``: the old size and, as the proof, the chain v2 digests
  of the events in between. The returned cosignature is verified with the configured key
  and kept (``audit_cosignature``, append-only) and ``audit.witnessed`` recorded. When
  nothing is new and the last cosignature is older than half of
  ``CONSENT_WITNESS_STALE_HOURS``, the newest checkpoint is sent again, so a quiet log's
  witness still countersigns (and the stale alert means the witness, not the quiet).
- A proof holds at most ``MAX_PROOF_DIGESTS`` digests: when a checkpoint is further than
  that beyond the witness's size, an intermediate checkpoint (``made_for`` "witness") is
  signed at the witness's size plus that many and handed over first.
- A witness that is unreachable, answers badly or refuses is recorded as
  ``audit.witness_failed`` (once per distinct reason in a row) and tried again next pass.
  A witness that holds more than the log (``WitnessAhead``), one that says the checkpoint
  contradicts what it saw (422), and a log shorter than a cosigned checkpoint are
  ``audit.witness_disagreed``, which the alert rule ``witness_disagreed`` raises at once.
- The DPO's mailbox (``CONSENT_SMTP_HOST`` and ``CONSENT_CHECKPOINT_EMAIL_TO``, default
  ``CONSENT_ALERT_EMAIL_TO``): each new interval checkpoint's signed note is mailed once,
  attached as ``checkpoint-<seq>.txt`` (the exact note, which ``audit/verify.py --witness``
  reads), and ``audit.checkpoint_mailed`` recorded. When mailing starts, only the newest
  interval checkpoint is sent.

For the DPO, ``newest_cosigned_note`` and ``cosigned_note_at`` rebuild a cosigned note from
the kept cosignatures: the log-signed note with the witnesses' lines appended, the file
``audit/verify.py --witness`` reads with ``--witness-key`` (the DPO page's download and
``consent-service audit witnessed``).

No network call happens inside a database transaction (on SQLite a transaction holds the
write lock). A failure never stops the worker's other work.
"""

from __future__ import annotations

import re
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session, sessionmaker

from consent_service.audit import cosignature_query as repo
from consent_service.audit.checkpoints import checkpoint_note, sign_event
from consent_service.audit.models import AuditCheckpoint, AuditCosignature
from consent_service.audit.recorder import SYSTEM, AuditRecorder
from consent_service.clock import Clock
from consent_service.config import Settings, WitnessTarget
from consent_service.crypto import Crypto
from consent_service.db import session_scope
from consent_service.witness import client
from consent_service.witness.consistency import MAX_PROOF_DIGESTS
from consent_service.witness.note import Cosignature, Verifier, parse_vkey

log = structlog.get_logger()

MAX_PER_PASS = 50  # checkpoints handed to one witness per pass; the rest next pass
MAX_MAILS_PER_PASS = 24


@dataclass
class HandOffSummary:
    cosigned: int = 0
    failed: int = 0
    disagreed: int = 0
    mailed: int = 0


class WitnessDeps(Protocol):
    """What the hand-off uses of the service's dependencies. ``services.ServiceDeps`` is
    one; the chain sits below the services, so it names what it uses instead of importing
    them."""

    @property
    def settings(self) -> Settings: ...
    @property
    def crypto(self) -> Crypto: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def audit(self) -> AuditRecorder: ...


class _Disagreement(Exception):
    """The witness's view contradicts the log: an alarm, not a retry."""


def key_id_hex(verifier: Verifier) -> str:
    return f"{verifier.key_id:08x}"


def hand_off(sessions: sessionmaker[Session], deps: WitnessDeps) -> HandOffSummary:
    """Hand the log's checkpoints to every configured witness and mail new interval
    checkpoints to the DPO. A witness's or the mail server's failure is recorded and not
    raised; only a failure to record it (the database itself) escapes."""
    summary = HandOffSummary()
    for target in deps.settings.witnesses:
        try:
            summary.cosigned += _hand_off_to(sessions, deps, target)
        except _Disagreement as exc:
            summary.disagreed += 1
            _record_outcome(sessions, deps, target.name, str(exc), disagreed=True)
        except (client.WitnessError, repo.MissingEvents, ValueError) as exc:
            summary.failed += 1
            _record_outcome(sessions, deps, target.name, str(exc))
        except Exception as exc:  # never stop the worker: recorded, tried next pass
            log.warning("witness hand-off failed", witness=target.name, error=type(exc).__name__)
            summary.failed += 1
            _record_outcome(sessions, deps, target.name, type(exc).__name__)
    try:
        summary.mailed = mail_checkpoints(sessions, deps)
    except Exception as exc:  # the mail server: recorded, tried next pass
        log.warning("checkpoint mail failed", error=type(exc).__name__)
        _record_mail_failure(sessions, deps, type(exc).__name__)
    return summary


def _hand_off_to(sessions: sessionmaker[Session], deps: WitnessDeps, target: WitnessTarget) -> int:
    verifier = parse_vkey(target.key)
    origin = deps.settings.audit_origin
    with sessions() as session:
        newest = repo.newest_cosignature(session, target.name, key_id_hex(verifier))
        held = newest.seq if newest is not None else 0
        head = repo.log_head(session)
        pending = repo.checkpoints_after(session, origin, held, MAX_PER_PASS)
        if not pending and newest is not None and _due_for_refresh(deps, newest):
            refresh = repo.checkpoint_at(session, held)
            pending = [refresh] if refresh is not None else []
        session.expunge_all()
    if head < held:
        raise _Disagreement(
            f"the log holds {head} events, fewer than the {held} the witness cosigned"
        )
    done = 0
    for checkpoint in pending:
        # A proof holds at most MAX_PROOF_DIGESTS digests (none is needed from nothing).
        while held > 0 and checkpoint.seq - held > MAX_PROOF_DIGESTS:
            step = _intermediate(sessions, deps, held + MAX_PROOF_DIGESTS)
            _submit(sessions, deps, target, verifier, step, held)
            held, done = step.seq, done + 1
        _submit(sessions, deps, target, verifier, checkpoint, held)
        held, done = checkpoint.seq, done + 1
    return done


def _due_for_refresh(deps: WitnessDeps, newest: AuditCosignature) -> bool:
    half = timedelta(hours=deps.settings.witness_stale_hours) / 2
    return deps.clock.now() - newest.cosigned_at >= half


def _intermediate(sessions: sessionmaker[Session], deps: WitnessDeps, seq: int) -> AuditCheckpoint:
    with session_scope(sessions) as session:
        checkpoint = sign_event(
            session, deps.crypto, deps.clock, deps.audit, SYSTEM, seq, "witness",
            origin=deps.settings.audit_origin,
        )  # fmt: skip
        session.flush()
        session.expunge(checkpoint)
    return checkpoint


def _submit(
    sessions: sessionmaker[Session],
    deps: WitnessDeps,
    target: WitnessTarget,
    verifier: Verifier,
    checkpoint: AuditCheckpoint,
    held: int,
) -> None:
    note = checkpoint_note(checkpoint, deps.crypto.public_key)

    def digests_after(size: int) -> list[bytes]:
        if size == 0:  # a witness holding nothing trusts the first checkpoint: no proof
            return []
        with sessions() as session:
            return repo.digests(session, size, checkpoint.seq)

    try:
        cosignature = client.submit_resyncing(
            target.url, note, held, digests_after, deps.settings.witness_timeout_seconds,
            witness_key=verifier,
        )  # fmt: skip
    except client.WitnessAhead as exc:
        raise _Disagreement(str(exc)) from None
    except client.WitnessRefused as exc:
        if exc.status == 422:  # the checkpoint contradicts what the witness cosigned
            raise _Disagreement(str(exc)) from None
        raise
    _keep(sessions, deps, target, verifier, checkpoint, cosignature)


def _keep(
    sessions: sessionmaker[Session],
    deps: WitnessDeps,
    target: WitnessTarget,
    verifier: Verifier,
    checkpoint: AuditCheckpoint,
    cosignature: Cosignature,
) -> None:
    with session_scope(sessions) as session:
        kept = repo.add_cosignature(
            session,
            AuditCosignature(
                witness=target.name,
                witness_key_id=key_id_hex(verifier),
                origin=checkpoint.origin,
                seq=checkpoint.seq,
                cosigned_at=datetime.fromtimestamp(cosignature.timestamp, UTC),
                received_at=deps.clock.now(),
                line=cosignature.line,
            ),
        )
        if kept:
            deps.audit.record(
                session,
                SYSTEM,
                action="audit.witnessed",
                outcome="success",
                resource_type=repo.WITNESS_RESOURCE,
                resource_id=target.name,
                details={"witness": target.name, "seq": checkpoint.seq},
            )


def _record_outcome(
    sessions: sessionmaker[Session],
    deps: WitnessDeps,
    witness: str,
    reason: str,
    *,
    disagreed: bool = False,
) -> None:
    """Record a failure or disagreement, unless the witness's last outcome was the same
    one (a witness down for a day is one event, not one per pass). The reason is the
    client's message: status, size or exception type, never a secret."""
    reason = reason[:200]
    action = repo.WITNESS_DISAGREED if disagreed else repo.WITNESS_FAILED
    log.warning("witness did not cosign", witness=witness, disagreed=disagreed, reason=reason)
    with session_scope(sessions) as session:
        last = repo.newest_witness_event(session, witness)
        if last is not None and last.action == action and last.reason == reason:
            return
        deps.audit.record(
            session,
            SYSTEM,
            action="audit.witness_disagreed" if disagreed else "audit.witness_failed",
            outcome="failure",
            resource_type=repo.WITNESS_RESOURCE,
            resource_id=witness,
            reason=reason,
            details={"witness": witness, "reason": reason},
        )


def _record_mail_failure(sessions: sessionmaker[Session], deps: WitnessDeps, reason: str) -> None:
    with session_scope(sessions) as session:
        last = repo.newest_mailbox_failure(session)
        mailed = repo.newest_mailed(session)
        if last is not None and last.reason == reason and (mailed is None or mailed.seq < last.seq):
            return
        deps.audit.record(
            session,
            SYSTEM,
            action="audit.witness_failed",
            outcome="failure",
            resource_type=repo.MAILBOX_RESOURCE,
            resource_id="mailbox",
            reason=reason,
            details={"witness": "mailbox", "reason": reason},
        )


def mailbox_address(deps: WitnessDeps) -> str | None:
    """Where checkpoints are mailed, or None when mailing is off."""
    if not deps.settings.smtp_host:
        return None
    return deps.settings.checkpoint_email_to or deps.settings.alert_email_to


def checkpoint_mail(note: str, seq: int, sender: str, recipient: str) -> EmailMessage:
    """A short Danish text and the signed note as the attachment ``checkpoint-<seq>.txt``,
    byte for byte (base64 in transit, so no mail system rewraps or re-encodes it)."""
    message = EmailMessage()
    message["Subject"] = f"Checkpoint {seq} af samtykkeservicens log"
    message["From"] = sender
    message["To"] = recipient
    message.set_content(
        f"Vedhæftet er det signerede checkpoint for hændelse {seq} i samtykkeservicens "
        "log.\nGem mailen uden for systemet. Filen kan bruges som vidne ved kontrol af en "
        f"eksport: python audit/verify.py eksport.jsonl --witness checkpoint-{seq}.txt ...\n"
    )
    message.add_attachment(
        note.encode("utf-8"),
        maintype="text",
        subtype="plain",
        filename=f"checkpoint-{seq}.txt",
    )
    return message


def mail_checkpoints(sessions: sessionmaker[Session], deps: WitnessDeps) -> int:
    """Mail each interval checkpoint not yet mailed, oldest first; returns how many."""
    recipient = mailbox_address(deps)
    host = deps.settings.smtp_host
    if recipient is None or host is None:
        return 0
    with sessions() as session:
        mailed = repo.newest_mailed(session)
        after = int(mailed.resource_id) if mailed is not None and mailed.resource_id else None
        pending = repo.interval_checkpoints_after(
            session, deps.settings.audit_origin, after, MAX_MAILS_PER_PASS
        )
        notes = [(c.seq, checkpoint_note(c, deps.crypto.public_key)) for c in pending]
    if not notes:
        return 0
    timeout = deps.settings.witness_timeout_seconds
    with smtplib.SMTP(host, deps.settings.smtp_port, timeout=timeout) as smtp:
        for seq, note in notes:
            smtp.send_message(checkpoint_mail(note, seq, deps.settings.smtp_from, recipient))
            with session_scope(sessions) as session:
                deps.audit.record(
                    session,
                    SYSTEM,
                    action="audit.checkpoint_mailed",
                    outcome="success",
                    resource_type="checkpoint",
                    resource_id=str(seq),
                    details={"seq": seq},
                )
    return len(notes)


@dataclass(frozen=True)
class WitnessStatus:
    """One witness as the DPO's page shows it."""

    name: str
    last_cosigned_at: datetime | None  # the newest cosignature's own time
    holds_seq: int | None  # the largest checkpoint it cosigned
    stale: bool  # no cosignature within CONSENT_WITNESS_STALE_HOURS
    problem: str | None  # the last failure or disagreement since its last cosignature
    disagreed: bool
    key: str = ""  # its verifier key, for audit/verify.py --witness-key


@dataclass(frozen=True)
class MailboxStatus:
    address: str | None  # None: mailing is off
    last_mailed_at: datetime | None
    last_mailed_seq: int | None
    problem: str | None


def witness_status(session: Session, deps: WitnessDeps) -> list[WitnessStatus]:
    """Each configured witness: when it last countersigned, what it holds, and whether
    the DPO should worry (stale, or a refusal since)."""
    out = []
    stale_after = timedelta(hours=deps.settings.witness_stale_hours)
    now = deps.clock.now()
    for target in deps.settings.witnesses:
        newest = repo.newest_cosignature(session, target.name)
        last = repo.newest_witness_event(session, target.name)
        problem = last if last is not None and last.action != repo.WITNESSED else None
        out.append(
            WitnessStatus(
                name=target.name,
                last_cosigned_at=newest.cosigned_at if newest else None,
                holds_seq=newest.seq if newest else None,
                stale=newest is None or now - newest.cosigned_at > stale_after,
                problem=problem.reason if problem is not None else None,
                disagreed=problem is not None and problem.action == repo.WITNESS_DISAGREED,
                key=target.key,
            )
        )
    return out


def mailbox_status(session: Session, deps: WitnessDeps) -> MailboxStatus:
    mailed = repo.newest_mailed(session)
    failure = repo.newest_mailbox_failure(session)
    if failure is not None and mailed is not None and failure.seq < mailed.seq:
        failure = None
    return MailboxStatus(
        address=mailbox_address(deps),
        last_mailed_at=mailed.occurred_at if mailed else None,
        last_mailed_seq=int(mailed.resource_id) if mailed and mailed.resource_id else None,
        problem=failure.reason if failure is not None else None,
    )


@dataclass(frozen=True)
class CosignedNote:
    """A checkpoint's log-signed note with witnesses' cosignature lines appended."""

    seq: int
    witnesses: tuple[str, ...]  # whose lines it carries
    text: str

    def filename(self, label: str) -> str:
        """``checkpoint-<seq>-<label>.txt``, the label (a witness's name) made file-safe."""
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.") or "vidne"
        return f"checkpoint-{self.seq}-{safe}.txt"


def _note(
    session: Session, public_key: Ed25519PublicKey, rows: list[AuditCosignature]
) -> CosignedNote | None:
    if not rows:
        return None
    checkpoint = repo.checkpoint_at(session, rows[0].seq)
    if checkpoint is None or checkpoint.origin != rows[0].origin:
        return None  # purged, or signed under another origin: nothing to vouch for
    text = checkpoint_note(checkpoint, public_key) + "".join(r.line for r in rows)
    return CosignedNote(checkpoint.seq, tuple(r.witness for r in rows), text)


def newest_cosigned_note(
    session: Session, public_key: Ed25519PublicKey, target: WitnessTarget
) -> CosignedNote | None:
    """The newest checkpoint the witness cosigned by its configured key, as a cosigned
    note carrying that witness's line; None if it has cosigned nothing yet."""
    key = key_id_hex(parse_vkey(target.key))
    newest = repo.newest_cosignature(session, target.name, key)
    if newest is None:
        return None
    return _note(session, public_key, repo.cosignatures_of(session, newest.seq, target.name, key))


def cosigned_note_at(
    session: Session, public_key: Ed25519PublicKey, seq: int
) -> CosignedNote | None:
    """Every kept witness's cosignature of the checkpoint at ``seq`` on one note."""
    return _note(session, public_key, repo.cosignatures_of(session, seq))

"""Use cases over the audit log: where the kept chain starts, and its verification."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from consent_service.audit import repository as repo
from consent_service.audit.chain import GENESIS, first_problem
from consent_service.audit.checkpoints import signature_problem
from consent_service.audit.models import AuditCheckpoint, AuditPurge
from consent_service.audit.recorder import iter_records

# The kinds of problem verify_chain reports, in the order a reader should meet them.
PROBLEM_KINDS = (
    "start",  # the chain starts where no signed, confirmed purge says it may
    "purge",  # a purge record without a signed checkpoint or its audit.purged event
    "signature",  # a checkpoint whose signature or key id does not verify
    "chain",  # a broken link, gap, reordering or edit (chain.first_problem)
    "checkpoint",  # a signed checkpoint's event is missing or differs from what was signed
    "truncated",  # the newest signed checkpoint lies beyond the end of the log
)
# At most this many problems of one kind are listed; the rest are counted.
MAX_PER_KIND = 10


def chain_start(session: Session) -> tuple[int, str]:
    """Where the kept chain starts: after the last purge, at its signed checkpoint's hash;
    at GENESIS if nothing was ever purged. Trusts the database; ``verify_chain`` does not."""
    up_to = repo.last_purged_seq(session)
    if up_to is None:
        return 1, GENESIS
    anchor = repo.checkpoint_hash_at(session, up_to)
    if anchor is None:  # the foreign key makes this impossible; say so if it happens
        raise RuntimeError(f"purge up to {up_to} has no checkpoint")
    return up_to + 1, anchor


@dataclass(frozen=True)
class VerificationProblem:
    """One thing wrong with the log, named by its place: ``seq`` is the event (for a
    checkpoint, the event it signs; for a purge, its last removed event), ``purge_id``
    the purge record, ``head`` the last event present (for a cut tail). ``reason`` is the
    finer kind (a chain problem's kind, why a signature or purge fails)."""

    kind: str
    message: str
    seq: int | None = None
    purge_id: int | None = None
    head: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Verification:
    """What ``verify_chain`` found: ``events`` walked, ``checkpoints`` whose signature was
    checked, the ``problems`` (at most MAX_PER_KIND of each kind; ``omitted`` counts the
    rest). No problem means every check held."""

    events: int
    checkpoints: int
    problems: tuple[VerificationProblem, ...]
    omitted: int = 0

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def summary(self) -> str:
        if self.intact:
            return (
                f"audit log intact: {self.events} events, "
                f"{self.checkpoints} signed checkpoints verified"
            )
        found = len(self.problems) + self.omitted
        return (
            f"audit log BROKEN: {found} problem(s) found in {self.events} events "
            f"and {self.checkpoints} checkpoints"
        )


@dataclass
class _Findings:
    problems: list[VerificationProblem] = field(default_factory=list)
    per_kind: Counter[str] = field(default_factory=Counter)

    def add(self, problem: VerificationProblem) -> None:
        self.per_kind[problem.kind] += 1
        if self.per_kind[problem.kind] <= MAX_PER_KIND:
            self.problems.append(problem)

    def result(self, events: int, checkpoints: int) -> Verification:
        ordered = sorted(self.problems, key=lambda p: PROBLEM_KINDS.index(p.kind))
        omitted = sum(self.per_kind.values()) - len(self.problems)
        return Verification(events, checkpoints, tuple(ordered), omitted)


@dataclass
class _Walk:
    """What one pass over the events saw besides the links."""

    signed: Mapping[int, str]  # seq -> hash of every validly signed checkpoint
    findings: _Findings
    events: int = 0
    head: int | None = None
    signed_seen: set[int] = field(default_factory=set)
    purged_events: dict[int, list[tuple[int, str | None]]] = field(default_factory=dict)

    def observe(self, records: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
        """Pass the records on, noting what they hold for the checks after the walk (the
        per-event work is kept to two lookups: this runs for every event)."""
        signed = self.signed
        events, head = 0, None
        try:
            for record in records:
                events += 1
                head = seq = record["seq"]
                if seq in signed:
                    self._at_checkpoint(int(seq), str(record["hash"]))
                if record["action"] == "audit.purged":
                    self._purge_event(int(seq), record["details"])
                yield record
        finally:
            self.events, self.head = events, None if head is None else int(head)

    def _at_checkpoint(self, seq: int, stored_hash: str) -> None:
        self.signed_seen.add(seq)
        if stored_hash != self.signed[seq]:
            self.findings.add(
                VerificationProblem(
                    "checkpoint",
                    f"event {seq} differs from its signed checkpoint",
                    seq=seq,
                    reason="differs",
                )
            )

    def _purge_event(self, seq: int, details: str | None) -> None:
        up_to, removed = _purged_details(details)
        if up_to is not None:
            self.purged_events.setdefault(up_to, []).append((seq, removed))


def _purged_details(details: str | None) -> tuple[int | None, str | None]:
    try:
        body = json.loads(details or "{}")
    except ValueError:
        return None, None
    if not isinstance(body, dict) or not isinstance(body.get("up_to_seq"), int):
        return None, None
    removed = body.get("removed_sha256")
    return body["up_to_seq"], removed if isinstance(removed, str) else None


def verify_chain(session: Session, public_key: Ed25519PublicKey) -> Verification:
    """Verify the audit log in the database, trusting nothing in it that is not checked:

    - every link (``chain.first_problem``: the first broken link, gap, reordering or edit);
    - every checkpoint's Ed25519 signature and key id against ``public_key``; a checkpoint
      that fails is reported and never trusted;
    - every validly signed checkpoint's event is present with the signed hash, unless a
      proven purge removed it; the newest one is not beyond the last event (a cut tail);
    - the chain starts at the first event ever (seq 1 after GENESIS) or right after the
      newest purge record, which must rest on a validly signed checkpoint (whose hash is
      the start's prev_hash) and be confirmed by the matching ``audit.purged`` event in
      the kept chain. Every purge record must rest on a validly signed checkpoint, and an
      ``audit.purged`` event of it that is still kept must match it (an older purge's
      event may itself have been purged since).

    One streaming pass over the events; each checkpoint's signature is checked once. A
    purge committed while the events were read (PostgreSQL reads each statement in its
    own snapshot) would look like a gap, so the check is then made again.
    """
    result, purges_seen = _verify_once(session, public_key)
    if _purge_ids(session) != purges_seen:
        result, _ = _verify_once(session, public_key)
    return result


def _purge_ids(session: Session) -> list[int]:
    return repo.purge_ids(session)


def _verify_once(session: Session, public_key: Ed25519PublicKey) -> tuple[Verification, list[int]]:
    findings = _Findings()
    checkpoints = repo.all_checkpoints(session)
    signed = _validly_signed(checkpoints, public_key, findings)
    purges = repo.all_purges(session)
    anchored: set[int] = set()  # purges resting on a validly signed checkpoint of their hash
    for purge in purges:
        if purge.up_to_seq not in signed:
            findings.add(
                _purge_problem(
                    purge, "unsigned", f"no validly signed checkpoint at event {purge.up_to_seq}"
                )
            )
        elif purge.up_to_hash is not None and purge.up_to_hash != signed[purge.up_to_seq]:
            findings.add(
                _purge_problem(
                    purge,
                    "hash",
                    f"names another hash for event {purge.up_to_seq} than its signed checkpoint",
                )
            )
        else:
            anchored.add(purge.id)
    newest = purges[-1] if purges else None

    walk = _Walk(signed, findings)
    records = iter_records(session)
    first = next(records, None)
    # Where the links are walked from; below ``anchor`` signed events may be gone.
    start_seq, start_hash, anchor, start_proven = 1, GENESIS, 0, True
    if first is not None and int(first["seq"]) != 1:
        if newest is not None and newest.id in anchored:
            # proven once the walk finds the purge's audit.purged event
            start_seq, start_hash = newest.up_to_seq + 1, signed[newest.up_to_seq]
            anchor = newest.up_to_seq
        else:
            start_seq, start_hash = int(first["seq"]), str(first["prev_hash"])
            start_proven = False
    stream = walk.observe(chain([first], records) if first is not None else records)
    problem = first_problem(stream, start_prev_hash=start_hash, start_seq=start_seq)
    if problem is not None:
        findings.add(
            VerificationProblem("chain", str(problem), seq=problem.seq, reason=problem.kind)
        )
    for _ in stream:  # the rest is still checked against the signed checkpoints
        pass

    if newest is not None and not _purges_confirmed(purges, newest, walk, findings):
        if anchor == newest.up_to_seq:
            start_proven, anchor = False, 0
    if not start_proven and first is not None:
        findings.add(
            VerificationProblem(
                "start",
                f"the chain starts at event {first['seq']}, but no signed purge record "
                "accounts for the events before it",
                seq=int(first["seq"]),
            )
        )
    _signed_events_kept(signed, anchor, walk, findings)
    return findings.result(walk.events, len(checkpoints)), sorted(p.id for p in purges)


def _validly_signed(
    checkpoints: Iterable[AuditCheckpoint], public_key: Ed25519PublicKey, findings: _Findings
) -> dict[int, str]:
    """seq -> signed hash of every checkpoint whose signature and key id verify; the
    others are reported."""
    signed: dict[int, str] = {}
    for checkpoint in checkpoints:
        why = signature_problem(checkpoint, public_key)
        if why is None:
            signed[checkpoint.seq] = checkpoint.hash
            continue
        findings.add(
            VerificationProblem(
                "signature",
                f"checkpoint at event {checkpoint.seq}: {why}",
                seq=checkpoint.seq,
                reason="key" if why.startswith("key") else "signature",
            )
        )
    return signed


def _purge_problem(purge: AuditPurge, reason: str, what: str) -> VerificationProblem:
    return VerificationProblem(
        "purge",
        f"purge {purge.id} (up to event {purge.up_to_seq}): {what}",
        seq=purge.up_to_seq,
        purge_id=purge.id,
        reason=reason,
    )


def _purges_confirmed(
    purges: Iterable[AuditPurge], newest: AuditPurge, walk: _Walk, findings: _Findings
) -> bool:
    """Report a purge whose kept audit.purged event does not match it, and the newest
    purge if no such event is kept; True if the newest one is confirmed."""
    confirmed = True
    for purge in purges:
        kept = walk.purged_events.get(purge.up_to_seq, [])
        if any(removed == purge.removed_sha256 for _, removed in kept):
            continue
        if kept:
            what = f"its audit.purged event {kept[0][0]} names other removed events"
            findings.add(_purge_problem(purge, "mismatch", what))
        elif purge is newest:
            findings.add(
                _purge_problem(purge, "unconfirmed", "no audit.purged event in the log confirms it")
            )
        if purge is newest:
            confirmed = False
    return confirmed


def _signed_events_kept(
    signed: Mapping[int, str], anchor: int, walk: _Walk, findings: _Findings
) -> None:
    """Every signed event after the proven start is present (its hash was compared during
    the walk), and the newest signed checkpoint is not beyond the last event."""
    head = walk.head or 0
    for seq in signed:
        if anchor < seq <= head and seq not in walk.signed_seen:
            findings.add(
                VerificationProblem(
                    "checkpoint",
                    f"event {seq} of signed checkpoint is missing",
                    seq=seq,
                    reason="missing",
                )
            )
    newest_signed = max(signed, default=0)
    if newest_signed > head:
        ends = f"the log ends at event {head}" if walk.head else "the log holds no events"
        findings.add(
            VerificationProblem(
                "truncated",
                f"truncated after checkpoint {newest_signed} ({ends})",
                seq=newest_signed,
                head=walk.head,
            )
        )

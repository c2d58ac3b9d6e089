"""Executing an approved extract request: the consent gate, the sealed files, the signed
manifest.

Execution streams: the gate is one SQL statement (``gate_query``), its included rows are
read in batches, decrypted one citizen at a time and written as sealed chunks, so memory
stays flat however large the cohort. For journal purposes every included consent gets a
``data_obtained`` event for the day (set-based), which closes its withdrawal window for
that data (Sundhedsloven § 42 d, § 43; see consents/rules.py ``can_withdraw``); every
citizen whose data is in a file gets a disclosure (recipient, purpose, legal basis,
consent used), set-based too, in the same transaction (``repository.record_disclosures``);
withdrawals of the organisation's consents wait while an execution runs, so none falls
between the gate's snapshot and those events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy.orm import Session

from consent_service.audit.checkpoints import key_id
from consent_service.audit.recorder import Actor
from consent_service.citizens.cohorts import default_cohorts
from consent_service.citizens.vault import CitizenVault
from consent_service.clock import legal_today
from consent_service.consents import repository as consents_repo
from consent_service.consents.rules import anniversary
from consent_service.crypto import seal
from consent_service.errors import RuleRefusal
from consent_service.extracts import gate, gate_query, repository, rules
from consent_service.extracts.models import ExtractFile, ExtractRequest
from consent_service.extracts.policy import default_extract_policy
from consent_service.extracts.requests import lock, record_event
from consent_service.services import ServiceDeps
from consent_service.wellbeing.questionnaire import Answers

MANIFEST_PREFIX = b"consent-service extract manifest v1\n"
MANIFEST_FORMAT = "consent-service-extract-manifest/1"
CHUNK_BYTES = 1 << 20
OBTAINED_BATCH = 50_000


class _SealedWriter:
    """Writes one file as sealed chunks; the last chunk's associated data says so, so a
    file cut short does not decrypt."""

    def __init__(self, session: Session, key: bytes, req: ExtractRequest, name: str) -> None:
        self._session, self._key, self._req = session, key, req
        self.file = ExtractFile(request_id=req.id, name=name, rows=0, size=0, sha256="")
        session.add(self.file)
        session.flush()
        self._buffer = bytearray()
        self._digest = hashlib.sha256()
        self._seq = 0
        self._size = self._lines = 0  # plain counters: the ORM attributes are set on close

    def write(self, data: bytes) -> None:
        """Append whole lines (a batch of them at a time: one call per batch of rows)."""
        self._buffer += data
        self._digest.update(data)
        self._size += len(data)
        self._lines += data.count(b"\n")
        if len(self._buffer) >= CHUNK_BYTES:
            self._flush(last=False)

    def _flush(self, *, last: bool) -> None:
        aad = chunk_aad(self._req.public_id, self.file.name, self._seq, last)
        repository.add_chunk(
            self._session, self.file.id, self._seq, seal(self._key, bytes(self._buffer), aad)
        )
        self._seq += 1
        self._buffer = bytearray()

    def close(self) -> None:
        self._flush(last=True)
        self.file.size = self._size
        self.file.rows = self._lines - 1  # the header line is not a row
        self.file.sha256 = self._digest.hexdigest()


def chunk_aad(public_id: str, name: str, seq: int, last: bool) -> bytes:
    """The associated data of a file's chunk: which extract, file and place, and whether
    it is the last."""
    return f"extract:{public_id}:{name}:{seq}:{'last' if last else 'more'}".encode()


def extract_keys(deps: ServiceDeps, req: ExtractRequest) -> tuple[bytes, bytes]:
    """(file key, pseudonym key), both from the extract's own key."""
    if req.key_wrapped is None:
        raise RuleRefusal("Udtrækkets filer er slettet efter sletteproceduren.")
    root = deps.crypto.unwrap_data_key(req.key_wrapped, f"extract:{req.public_id}".encode())
    files = hmac.new(root, b"files", hashlib.sha256).digest()
    pseudonyms = hmac.new(root, b"pseudonyms", hashlib.sha256).digest()
    return files, pseudonyms


def _period(referred_on: date, before: int, after: int, on: date) -> tuple[date, date]:
    start = anniversary(referred_on, -before) if before else referred_on
    return start, min(anniversary(referred_on, after), on)


def _pseudonymiser(key: bytes) -> Callable[[str], str]:
    """The pseudonym of a citizen in this extract: an HMAC of their public id under the
    extract's own key (the keyed hash is set up once, copied per citizen)."""
    keyed = hmac.new(key, digestmod=hashlib.sha256)

    def pseudonym(public_id: str) -> str:
        h = keyed.copy()
        h.update(public_id.encode())
        return h.hexdigest()[:32]

    return pseudonym


@dataclass
class Execution:
    counts: Counter[str] = field(default_factory=Counter)
    included: int = 0
    versions: set[tuple[str, str, str]] = field(default_factory=set)


def execute_request(
    session: Session, deps: ServiceDeps, actor: Actor, req: ExtractRequest
) -> dict[str, Any]:
    """Run an approved request on or after its planned day. Returns the manifest."""
    today = legal_today(deps.clock)
    lock(session, req)  # a cancellation or a second execution waits, then sees this one
    if req.status != "approved":
        raise RuleRefusal("Kun en godkendt anmodning kan udføres.")
    if today < req.planned_on:
        raise RuleRefusal(f"Udtrækket kan først udføres fra {req.planned_on:%d-%m-%Y}.")
    if not rules.handles(req, actor.user_id):
        raise RuleRefusal("Kun den, der anmodede, eller den, der godkendte, kan udføre udtrækket.")
    policy = default_extract_policy()
    if policy.sha256 != req.policy_sha256:
        raise RuleRefusal("Udtrækspolitikken er ændret siden godkendelsen. Lav en ny anmodning.")
    purpose = policy.purposes[req.purpose]
    kind = purpose.consent_kind
    root = os.urandom(32)
    req.key_wrapped = deps.crypto.wrap_data_key(root, f"extract:{req.public_id}".encode())
    file_key, pseudo_key = extract_keys(deps, req)
    before = min(req.measurement_years, purpose.period_years_before)
    after = min(req.measurement_years, purpose.period_years_after)

    # From here until this transaction ends no consent of the organisation can be
    # withdrawn or invalidated: a withdrawal committed before is in the gate's snapshot,
    # taken after the lock; one asked for meanwhile waits for the data_obtained events
    # below and is told that data was obtained (consents/repository.py).
    consents_repo.lock_consents_for_use(session, req.organisation_id)
    # One statement, so one snapshot: the counts, the file and the data_obtained events
    # come from the same gate rows.
    result = Execution()
    sources = req.sources.split()
    fields = req.fields.split()
    vault = CitizenVault(deps.crypto)
    obtained: list[int] = []
    now = deps.clock.now()
    pseudonym = _pseudonymiser(pseudo_key)
    reason_of = itemgetter(2)

    def record_obtained(ids: list[int]) -> None:
        repository.record_obtained(
            session, ids, today, f"extract:{req.public_id}", now, actor.user_id or 0
        )
        record_disclosed(ids)
        ids.clear()

    def record_disclosed(ids: list[int] | list[str]) -> None:
        # Each included citizen's data goes to the purpose's recipient today, under the
        # consent used: recorded with the file, in this transaction.
        repository.record_disclosures(
            session, ids, req, today, purpose.outcome_payer, purpose.legal_basis, now
        )

    writers: list[_SealedWriter] = []
    if kind == "journal":
        writers = [_SealedWriter(session, file_key, req, f"{s}.csv") for s in sources]
        for w in writers:
            w.write(b"cpr;pseudonym;period_from;period_to\n")
        open_cpr = vault.field_opener("cpr")
        periods: dict[date, str] = {}  # by referral day: a cohort spans a few hundred days
        for rows in gate_query.journal_rows(session, req.organisation_id, req.cohort, today):
            result.counts.update(map(reason_of, rows))
            lines: list[str] = []
            for (pid, referred_on, reason, consent_id, version, text_sha, cpr_sealed,
                 wrapped) in rows:  # fmt: skip
                if reason != gate.COVERED:
                    continue
                period = periods.get(referred_on)
                if period is None:
                    start, end = _period(referred_on, before, after, today)
                    period = periods[referred_on] = f"{start.isoformat()};{end.isoformat()}"
                lines.append(f"{open_cpr(pid, wrapped, cpr_sealed)};{pseudonym(pid)};{period}\n")
                result.versions.add((kind, version, text_sha))
                obtained.append(consent_id)
            data = "".join(lines).encode()
            for w in writers:
                w.write(data)
            if len(obtained) >= OBTAINED_BATCH:  # flat memory however large the cohort
                record_obtained(obtained)
        # The data is obtained today under each included consent.
        record_obtained(obtained)
    else:
        w = _SealedWriter(session, file_key, req, "wellbeing.csv")
        writers = [w]
        columns = ["pseudonym", "occasion"] + [
            c for f in ("who5", "life_satisfaction") if f in fields
            for c in (("who5_raw", "who5_percent") if f == "who5" else ("life_satisfaction",))
        ]  # fmt: skip
        w.write((";".join(columns) + "\n").encode())
        last_citizen: int | None = None
        disclosed: list[str] = []  # consent public ids: one per citizen with answers sent
        last_disclosed: str | None = None
        for rows in gate_query.wellbeing_rows(
            session, req.organisation_id, req.cohort, kind, today
        ):
            lines = []
            for (citizen_id, citizen_pid, reason, version, text_sha, consent_pid, response_pid,
                 occasion, sealed, wrapped) in rows:  # fmt: skip
                if citizen_id != last_citizen:  # one row per answer: count each citizen once
                    result.counts[reason] += 1
                    if reason == gate.COVERED:
                        result.versions.add((kind, version, text_sha))
                    last_citizen = citizen_id
                if reason != gate.COVERED or sealed is None:
                    continue
                purpose_id = f"wellbeing:{consent_pid}"
                key = vault.unwrap(f"{citizen_pid}:{purpose_id}", wrapped)
                raw = vault.open(key, citizen_pid, f"wellbeing:{response_pid}", sealed)
                answers = Answers.from_json(json.loads(raw))
                values: list[str] = [pseudonym(citizen_pid), occasion]
                if "who5" in fields:
                    values += [str(answers.who5_raw), str(answers.who5_percent)]
                if "life_satisfaction" in fields:
                    values.append(str(answers.life_satisfaction))
                lines.append(";".join(values) + "\n")
                if consent_pid != last_disclosed:  # a citizen's answers are consecutive
                    disclosed.append(consent_pid)
                    last_disclosed = consent_pid
            w.write("".join(lines).encode())
            if len(disclosed) >= OBTAINED_BATCH:  # flat memory however large the cohort
                record_disclosed(disclosed)
                disclosed.clear()
        record_disclosed(disclosed)
    result.included = result.counts.pop(gate.COVERED, 0)
    for w in writers:
        w.close()

    cohort = default_cohorts().by_id(req.cohort)
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "request": req.public_id,
        "purpose": req.purpose,
        "outcome_payer": purpose.outcome_payer,
        "measurement": cohort.measurement_name(req.measurement_years),
        "cohort": req.cohort,
        "sources": sources,
        "fields": fields,
        "consent_kind": kind,
        "executed_on": today.isoformat(),
        "requested_by": req.requested_by,
        "approved_by": req.decided_by,
        "policy_sha256": req.policy_sha256,
        "consent_templates": [
            {"kind": k, "version": v, "text_sha256": h} for k, v, h in sorted(result.versions)
        ],
        "included": result.included,
        "excluded": dict(sorted(result.counts.items())),
        "files": [
            {
                "name": w.file.name,
                "rows": w.file.rows,
                "bytes": w.file.size,
                "sha256": w.file.sha256,
            }
            for w in writers
        ],
        "key_id": key_id(deps.crypto.public_key),
    }
    body = canonical(manifest)
    req.manifest = body.decode()
    req.manifest_signature = base64.b64encode(deps.crypto.sign(MANIFEST_PREFIX + body)).decode()
    req.status = "executed"
    req.executed_on, req.executed_at, req.executed_by = today, deps.clock.now(), actor.user_id
    req.download_until = deps.clock.now() + timedelta(days=policy.downloads.valid_days)
    record_event(session, deps, actor, req, action="extract.executed",
                 details={"included": result.included, "excluded": manifest["excluded"],
                          "files": [f["sha256"] for f in manifest["files"]]})  # fmt: skip
    return manifest


def canonical(value: Any) -> bytes:
    """The manifest's bytes as signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

"""The life of an extract request: draft, four-eyes approval with a fresh code, execution
gated by consent, signed manifest, limited downloads, deletion of the files.

Execution streams: the gate is one SQL statement, its included rows are read in batches,
decrypted one citizen at a time and written as sealed chunks, so memory stays flat however
large the cohort. For journal purposes every included consent gets a ``data_obtained``
event for the day (set-based), which closes its withdrawal window for that data
(Sundhedsloven § 42 d, § 43; see consents/rules.py ``can_withdraw``); withdrawals of the
organisation's consents wait while an execution runs, so none falls between the gate's
snapshot and those events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import ARRAY, Integer, Table, and_, bindparam, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from consent_service.audit.checkpoints import key_id
from consent_service.audit.recorder import Actor
from consent_service.citizens.cohorts import default_cohorts
from consent_service.citizens.models import Citizen, CitizenKey
from consent_service.citizens.vault import CitizenVault
from consent_service.clock import legal_today
from consent_service.consents import repository as consents_repo
from consent_service.consents.models import Consent, ConsentEvent
from consent_service.consents.rules import anniversary
from consent_service.crypto import open_sealed, seal
from consent_service.db import UtcDateTime
from consent_service.errors import InvalidInput, NotFound, RuleRefusal
from consent_service.extracts import gate, rules
from consent_service.extracts.models import ExtractChunk, ExtractFile, ExtractRequest
from consent_service.extracts.policy import ExtractPolicy, default_extract_policy
from consent_service.services import ServiceDeps
from consent_service.wellbeing.models import WellbeingResponse
from consent_service.wellbeing.questionnaire import Answers

MANIFEST_PREFIX = b"consent-service extract manifest v1\n"
MANIFEST_FORMAT = "consent-service-extract-manifest/1"
CHUNK_BYTES = 1 << 20
BATCH = 5000
OBTAINED_BATCH = 50_000


@dataclass(frozen=True)
class DraftInput:
    purpose: str
    sources: list[str]
    fields: list[str]
    cohort: str
    measurement_years: int
    planned_on: date


def _policy() -> ExtractPolicy:
    return default_extract_policy()


def _audit(
    session: Session, deps: ServiceDeps, actor: Actor, req: ExtractRequest, *, action: str,
    details: dict[str, Any] | None = None, outcome: str = "success",
) -> None:  # fmt: skip
    deps.audit.record(
        session, actor, action=action, outcome=outcome, resource_type="extract",
        resource_id=req.public_id, organisation_id=req.organisation_id,
        details={"purpose": req.purpose, **(details or {})},
    )  # fmt: skip


def draft(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, data: DraftInput
) -> ExtractRequest:
    """A data controller drafts a request; anything outside the policy is refused with
    the rule that refuses it."""
    policy = _policy()
    refusal = policy.refusal(data.purpose, data.sources, data.fields, data.measurement_years)
    if refusal is not None:
        raise RuleRefusal(refusal)
    if data.cohort not in {c.id for c in default_cohorts().cohorts}:
        raise InvalidInput("Vælg et hold.", field="cohort")
    if data.planned_on < legal_today(deps.clock):
        raise InvalidInput("Den planlagte dato må ikke ligge i fortiden.", field="planned_on")
    req = ExtractRequest(
        public_id=uuid.uuid4().hex,
        organisation_id=organisation_id,
        purpose=data.purpose,
        sources=" ".join(sorted(set(data.sources))),
        fields=" ".join(sorted(set(data.fields))),
        cohort=data.cohort,
        measurement_years=data.measurement_years,
        planned_on=data.planned_on,
        status="draft",
        requested_by=actor.user_id or 0,
        requested_at=deps.clock.now(),
        policy_sha256=policy.sha256,
        downloads=0,
    )
    session.add(req)
    session.flush()
    _audit(session, deps, actor, req, action="extract.requested",
           details={"cohort": req.cohort, "measurement": req.measurement_years,
                    "sources": req.sources, "fields": req.fields})  # fmt: skip
    return req


def get(session: Session, organisation_id: int, public_id: str) -> ExtractRequest:
    req = session.scalar(select(ExtractRequest).where(ExtractRequest.public_id == public_id))
    if req is None or req.organisation_id != organisation_id:
        raise NotFound("extract")
    return req


def decide(
    session: Session, deps: ServiceDeps, actor: Actor, req: ExtractRequest, *,
    approve: bool, comment: str,
) -> None:  # fmt: skip
    """The second data controller approves or rejects. The requester never decides on
    their own request (the access policy's ``not_self`` says so too; this is the rule
    restated where the decision is made)."""
    if req.status != "draft":
        raise RuleRefusal("Anmodningen er allerede afgjort.")
    if rules.is_requester(req, actor.user_id):
        raise RuleRefusal("Den, der har anmodet om udtrækket, kan ikke selv godkende det.")
    comment = comment.strip()
    if len(comment) > 1000:
        raise InvalidInput("Kommentaren er for lang (højst 1000 tegn).", field="comment")
    if _policy().sha256 != req.policy_sha256:
        raise RuleRefusal(
            "Udtrækspolitikken er ændret, siden anmodningen blev lavet. Lav en ny anmodning."
        )
    req.status = "approved" if approve else "rejected"
    req.decided_by, req.decided_at, req.decision_comment = actor.user_id, deps.clock.now(), comment
    _audit(session, deps, actor, req, action="extract.approved" if approve else "extract.rejected")


# --- execution ---------------------------------------------------------------------------------


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
        self._session.execute(
            insert(ExtractChunk),
            [{"file_id": self.file.id, "seq": self._seq,
              "content_sealed": seal(self._key, bytes(self._buffer), aad)}],
        )  # fmt: skip
        self._seq += 1
        self._buffer = bytearray()

    def close(self) -> None:
        self._flush(last=True)
        self.file.size = self._size
        self.file.rows = self._lines - 1  # the header line is not a row
        self.file.sha256 = self._digest.hexdigest()


def chunk_aad(public_id: str, name: str, seq: int, last: bool) -> bytes:
    return f"extract:{public_id}:{name}:{seq}:{'last' if last else 'more'}".encode()


def _extract_keys(deps: ServiceDeps, req: ExtractRequest) -> tuple[bytes, bytes]:
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


def execute(
    session: Session, deps: ServiceDeps, actor: Actor, req: ExtractRequest
) -> dict[str, Any]:
    """Run an approved request on or after its planned day. Returns the manifest."""
    today = legal_today(deps.clock)
    if req.status != "approved":
        raise RuleRefusal("Kun en godkendt anmodning kan udføres.")
    if today < req.planned_on:
        raise RuleRefusal(f"Udtrækket kan først udføres fra {req.planned_on:%d-%m-%Y}.")
    if not rules.handles(req, actor.user_id):
        raise RuleRefusal("Kun den, der anmodede, eller den, der godkendte, kan udføre udtrækket.")
    policy = _policy()
    if policy.sha256 != req.policy_sha256:
        raise RuleRefusal("Udtrækspolitikken er ændret siden godkendelsen. Lav en ny anmodning.")
    purpose = policy.purposes[req.purpose]
    kind = purpose.consent_kind
    root = os.urandom(32)
    req.key_wrapped = deps.crypto.wrap_data_key(root, f"extract:{req.public_id}".encode())
    file_key, pseudo_key = _extract_keys(deps, req)
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
    g = gate.gate(req.organisation_id, req.cohort, kind, today).subquery("g")
    covered = g.c.reason == gate.COVERED
    sources = req.sources.split()
    fields = req.fields.split()
    vault = CitizenVault(deps.crypto)
    obtained: list[int] = []
    now = deps.clock.now()
    pseudonym = _pseudonymiser(pseudo_key)
    reason_of = itemgetter(2)

    def record_obtained(ids: list[int]) -> None:
        _record_obtained(session, ids, today, f"extract:{req.public_id}", now, actor.user_id or 0)
        ids.clear()

    writers: list[_SealedWriter] = []
    if kind == "journal":
        writers = [_SealedWriter(session, file_key, req, f"{s}.csv") for s in sources]
        for w in writers:
            w.write(b"cpr;pseudonym;period_from;period_to\n")
        stmt = (
            select(g.c.public_id, g.c.referred_on, g.c.reason, g.c.consent_id,
                   g.c.template_version, g.c.text_sha256, Citizen.cpr_sealed,
                   CitizenKey.wrapped_key)
            .select_from(g)
            .join(Citizen, Citizen.id == g.c.citizen_id)
            .outerjoin(CitizenKey, and_(covered, CitizenKey.citizen_id == g.c.citizen_id,
                                        CitizenKey.purpose == "identity"))
            .order_by(g.c.citizen_id)
        )  # fmt: skip
        open_cpr = vault.field_opener("cpr")
        periods: dict[date, str] = {}  # by referral day: a cohort spans a few hundred days
        for rows in _partitions(session, stmt):
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
        answer = WellbeingResponse
        key_purpose_expr = literal("wellbeing:") + Consent.public_id
        stmt = (
            select(g.c.citizen_id, g.c.public_id, g.c.reason, g.c.template_version,
                   g.c.text_sha256, Consent.public_id, answer.public_id, answer.occasion,
                   answer.answers_sealed, CitizenKey.wrapped_key)
            .select_from(g)
            .outerjoin(Consent, and_(covered, Consent.id == g.c.consent_id))
            .outerjoin(answer, and_(covered, answer.consent_id == g.c.consent_id))
            .outerjoin(CitizenKey, and_(covered, CitizenKey.citizen_id == g.c.citizen_id,
                                        CitizenKey.purpose == key_purpose_expr))
            .order_by(g.c.citizen_id, answer.answered_on)
        )  # fmt: skip
        last_citizen: int | None = None
        for rows in _partitions(session, stmt):
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
            w.write("".join(lines).encode())
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
    req.download_until = deps.clock.now() + timedelta(days=_policy().downloads.valid_days)
    _audit(session, deps, actor, req, action="extract.executed",
           details={"included": result.included, "excluded": manifest["excluded"],
                    "files": [f["sha256"] for f in manifest["files"]]})  # fmt: skip
    return manifest


def _record_obtained(
    session: Session, consent_ids: list[int], day: date, note: str, now: Any, user_id: int
) -> None:
    """A ``data_obtained`` event per consent: on PostgreSQL one INSERT ... SELECT over
    ``unnest`` of the ids, elsewhere executemany in batches."""
    table = cast(Table, ConsentEvent.__table__)
    if not consent_ids:
        return
    if session.get_bind().dialect.name == "postgresql":
        ids = bindparam("ids", type_=ARRAY(Integer))
        session.execute(
            insert(table).from_select(
                ["consent_id", "event_type", "occurred_on", "note", "recorded_at", "recorded_by"],
                select(func.unnest(ids), literal("data_obtained"), literal(day), literal(note),
                       literal(now, UtcDateTime()), literal(user_id)),
            ),
            {"ids": consent_ids},
        )  # fmt: skip
        return
    for i in range(0, len(consent_ids), BATCH):
        session.execute(
            insert(table),
            [{"consent_id": cid, "event_type": "data_obtained", "occurred_on": day,
              "note": note, "recorded_at": now, "recorded_by": user_id}
             for cid in consent_ids[i : i + BATCH]],
        )  # fmt: skip


def _rows(session: Session, stmt: Any) -> Iterator[Any]:
    """Rows of a Core statement; typed loosely (the columns are known here)."""
    yield from session.execute(stmt)


def _partitions(session: Session, stmt: Any) -> Iterator[Sequence[Any]]:
    """Rows of a Core statement in batches of ``BATCH``, streamed (a server-side cursor on
    PostgreSQL) and without the ORM's work per row; typed loosely, as ``_rows``."""
    result = session.connection().execute(stmt.execution_options(yield_per=BATCH))
    yield from result.partitions()


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# --- download and deletion ---------------------------------------------------------------------


def _file_bytes(
    session: Session, key: bytes, req: ExtractRequest, f: ExtractFile
) -> Iterator[bytes]:
    chunks = session.scalars(
        select(ExtractChunk).where(ExtractChunk.file_id == f.id).order_by(ExtractChunk.seq)
    ).all()
    for chunk in chunks:
        last = chunk.seq == len(chunks) - 1
        yield open_sealed(
            key, chunk.content_sealed, chunk_aad(req.public_id, f.name, chunk.seq, last)
        )


def download(session: Session, deps: ServiceDeps, actor: Actor, req: ExtractRequest) -> bytes:
    """The extract as a ZIP: the signed manifest, the public key and the files. Only the
    requester and the approver, a limited number of times, within a limited period."""
    if req.status != "executed" or req.manifest is None:
        raise RuleRefusal("Udtrækket er ikke udført.")
    if not rules.handles(req, actor.user_id):
        raise RuleRefusal("Kun den, der anmodede, og den, der godkendte, kan hente udtrækket.")
    limits = _policy().downloads
    if req.download_until is None or deps.clock.now() > req.download_until:
        raise RuleRefusal("Perioden for at hente udtrækket er udløbet.")
    if req.downloads >= limits.max_count:
        raise RuleRefusal(f"Udtrækket er allerede hentet {limits.max_count} gange.")
    file_key, _ = _extract_keys(deps, req)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        signed = {"manifest": json.loads(req.manifest), "signature": req.manifest_signature}
        zf.writestr("manifest.json", json.dumps(signed, ensure_ascii=False, indent=2))
        zf.writestr("public_key.pem", deps.crypto.public_key_pem())
        for f in session.scalars(select(ExtractFile).where(ExtractFile.request_id == req.id)):
            with zf.open(f.name, "w") as fh:
                for part in _file_bytes(session, file_key, req, f):
                    fh.write(part)
    req.downloads += 1
    _audit(
        session, deps, actor, req, action="extract.downloaded", details={"download": req.downloads}
    )
    return out.getvalue()


def delete_files(session: Session, deps: ServiceDeps, actor: Actor, req: ExtractRequest) -> int:
    """Destroy the extract's key, then its files; the signed manifest stays."""
    files = session.scalars(select(ExtractFile.id).where(ExtractFile.request_id == req.id)).all()
    req.key_wrapped = None
    session.execute(delete(ExtractChunk).where(ExtractChunk.file_id.in_(files)))
    session.execute(delete(ExtractFile).where(ExtractFile.request_id == req.id))
    req.files_deleted_at = deps.clock.now()
    _audit(session, deps, actor, req, action="extract.files_deleted",
           details={"rule": "extract_files", "files": len(files)})  # fmt: skip
    return len(files)


def purge_expired_files(session: Session, deps: ServiceDeps, actor: Actor) -> int:
    """Delete the files of extracts executed longer ago than the schedule allows."""
    from consent_service.retention.schedule import default_schedule

    keep = default_schedule().categories["extract_files"].keep
    today = legal_today(deps.clock)
    count = 0
    for req in session.scalars(
        select(ExtractRequest).where(
            ExtractRequest.status == "executed", ExtractRequest.files_deleted_at.is_(None)
        )
    ).all():
        if req.executed_on is not None and keep.after(req.executed_on) <= today:
            delete_files(session, deps, actor, req)
            count += 1
    return count


# --- the coverage plan -----------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    cohort: str
    measurement: str
    planned_on: date
    in_cohort: int
    covered: int
    covered_now: int
    expire_before: int
    reasons: dict[str, int]
    # (pseudonymous citizen id, re-consent needed by) for those covered now but not then
    reconsent_by: list[tuple[str, date]]


def coverage(
    session: Session, organisation_id: int, cohort: str, measurement: int, planned_on: date,
    today: date, kind: str = "journal",
) -> Coverage:  # fmt: skip
    then = gate.gate(organisation_id, cohort, kind, planned_on).subquery("then_")
    now = gate.gate(organisation_id, cohort, kind, today).subquery("now_")
    rows = list(
        _rows(
            session,
            select(then.c.public_id, then.c.reason, now.c.reason, now.c.valid_until)
            .join(now, now.c.citizen_id == then.c.citizen_id)
            .order_by(now.c.valid_until, then.c.public_id),
        )
    )
    reasons: dict[str, int] = {}
    reconsent: list[tuple[str, date]] = []
    for public_id, reason_then, reason_now, valid_until in rows:
        reasons[reason_then] = reasons.get(reason_then, 0) + 1
        if reason_now == gate.COVERED and reason_then == "expired" and valid_until is not None:
            reconsent.append((public_id, valid_until))
    covered = reasons.pop(gate.COVERED, 0)
    c = default_cohorts().by_id(cohort)
    return Coverage(
        cohort=cohort,
        measurement=c.measurement_name(measurement),
        planned_on=planned_on,
        in_cohort=len(rows),
        covered=covered,
        covered_now=sum(1 for r in rows if r[2] == gate.COVERED),
        expire_before=len(reconsent),
        reasons=reasons,
        reconsent_by=reconsent,
    )

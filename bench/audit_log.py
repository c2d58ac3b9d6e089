"""Audit log benchmark: appends from concurrent writers, verification of a large export,
and the DPO's filter query on a large log, each next to a baseline measured in the same run.

    python bench/audit_log.py [--engine sqlite|postgresql|both] [--appends N] [--events N]
                              [--parts appends,filter,stale,verify] [--rounds R]

1. appends/s from 4 writer processes, one audited event per transaction (as a request
   does), then a checkpoint signed and the chain verified with the service's own
   ``verify_chain``; baseline: the same rows into a plain table.
2. verifying an N-event export with audit/verify.py; baseline: sha256sum of the same file.
3. the DPO's filter (one user, one week; and others) on N events; baseline: count(*).
4. ``stale`` (PostgreSQL): the DPO log's default page (search and the folded decisions)
   on N analysed events and 200,000 more in the week, not analysed, then analysed; the
   statements before the windowed search and now, their plans (EXPLAIN ANALYZE) printed;
   also the page of a reviewer whose organisation has no events in the week (what the
   windows cost when they find nothing); baseline: count(*). Not in the default ``--parts``.

Appends and verification run the measured case and its baseline alternately, R rounds
(default 3 each; which goes first alternates too), and report the medians and the
min/median/max of the per-round ratios; then which of issue 18's targets hold: audited
appends within 1.5x the plain insert on PostgreSQL, verification within 1.5x sha256sum
(medians of the per-round ratios). The load average is printed at the start and end.
On PostgreSQL the database is set up as in production (``scratch_db``): owned and
migrated by the owner login, and everything the service does runs as the application
login. Prints one table. Figures depend on the machine; compare the ratios.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scratch_db import (  # noqa: E402 - bench/ is the script's folder
    PG_APP,
    ScratchDatabase,
    migrate,
    scratch_database,
    sqlite_database,
)

from consent_service.audit.chain import (  # noqa: E402
    CHAIN_FIELDS,
    GENESIS,
    event_hash,
)
from consent_service.audit.checkpoints import checkpoint_message, sign_head  # noqa: E402
from consent_service.audit.models import AuditEvent  # noqa: E402
from consent_service.audit.recorder import SYSTEM, Actor, AuditRecorder  # noqa: E402
from consent_service.audit.service import verify_chain  # noqa: E402
from consent_service.clock import SystemClock  # noqa: E402
from consent_service.config import Settings  # noqa: E402
from consent_service.context import AppContext  # noqa: E402
from consent_service.db import make_engine, make_sessionmaker, session_scope  # noqa: E402
from consent_service.oversight.export import FORMAT, event_line, header_message  # noqa: E402
from consent_service.oversight.review_query import (  # noqa: E402
    PAGE_SIZE,
    _filtered,
    decisions_of_requests,
    search,
)
from consent_service.oversight.schemas import AuditFilter  # noqa: E402
from consent_service.oversight.scope_query import concerns_organisation  # noqa: E402

WRITERS = 4
ACTIONS = (
    "citizen.read",
    "access.allowed",
    "consent.recorded",
    "login.succeeded",
    "login.password_failed",
    "citizen.listed",
    "access.denied",
)
START = datetime(2025, 1, 1, tzinfo=UTC)
ORIGIN = "bench.example/audit"
rows: list[tuple[str, str, str, str]] = []
# Issue 18's targets: (what, median ratio, limit), printed after the table.
targets: list[tuple[str, float, float]] = []
TARGET_APPENDS = 1.5  # audited appends within 1.5x the plain insert (median), PostgreSQL
TARGET_VERIFY = 1.5  # verifying an export within 1.5x sha256sum of the file (median)
STALE_EVENTS = 200_000  # events added in the DPO log's week without ANALYZE (part 4)


def _report(what: str, engine: str, value: str, baseline: str, ratio: str) -> None:
    rows.append((what, engine, value, f"{baseline} ({ratio})"))


def _spread(ratios: list[float]) -> str:
    """min/median/max of the per-round ratios."""
    ordered = sorted(ratios)
    return (
        f"ratio min/median/max {ordered[0]:.2f}/{statistics.median(ordered):.2f}/"
        f"{ordered[-1]:.2f}x over {len(ordered)} rounds"
    )


# --- databases ---------------------------------------------------------------------------


def _keys() -> dict[str, str]:
    """Keys for this run only, never from the repository."""
    return {
        name: base64.b64encode(os.urandom(32)).decode()
        for name in ("master_key", "index_key", "signing_key")
    }


def _database(kind: str, tmp: Path, login: str) -> Iterator[ScratchDatabase]:
    if kind == "sqlite":
        yield sqlite_database(f"sqlite:///{tmp / 'bench.db'}")
        return
    yield from scratch_database("bench_audit", superuser=login == "superuser")


def _login_of(db: ScratchDatabase) -> str:
    """The login the service runs as; stops the run if the application login could write
    the chain itself (then the database is not set up as in production)."""
    if db.is_sqlite:
        return "one file"
    engine = make_engine(db.app_url)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT current_user AS login, rolsuper, "
                "has_table_privilege('audit_event', 'INSERT') AS writes_chain "
                "FROM pg_roles WHERE rolname = current_user"
            )
        ).one()
    engine.dispose()
    if db.app_url != db.owner_url and (row.rolsuper or row.writes_chain):
        raise SystemExit(f"the application login {row.login} may write audit_event directly")
    return str(row.login)


def _context(db: ScratchDatabase, keys: dict[str, str]) -> AppContext:
    """The service as it runs: the application login (PostgreSQL), the run's keys."""
    settings = Settings(database_url=db.app_url, audit_origin=ORIGIN, **keys)  # type: ignore[arg-type]
    return AppContext.build(settings, SystemClock())


# --- 1. appends ----------------------------------------------------------------------------


def _quiet() -> None:
    """The service logs one line per audit event; a console full of them is not measured."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def _append_worker(url: str, n: int, per_commit: int, plain: bool, start: Any) -> None:
    _quiet()
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    recorder = AuditRecorder(SystemClock())
    actor = Actor(user_id=1, username="bench", organisation_id=1, source_ip="127.0.0.1")
    start.wait()  # process start-up and imports stay out of the measured time
    for i in range(0, n, per_commit):
        with sessions() as session, session.begin():
            for j in range(i, i + per_commit):
                if plain:
                    session.execute(
                        text(
                            "INSERT INTO bench_plain (action, resource_id, details) "
                            "VALUES ('citizen.read', :r, '{}')"
                        ),
                        {"r": f"c{j}"},
                    )
                else:
                    recorder.record(
                        session,
                        actor,
                        action="citizen.read",
                        outcome="success",
                        resource_type="citizen",
                        resource_id=f"c{j}",
                    )
    engine.dispose()


def _timed_writers(url: str, total: int, per_commit: int, plain: bool) -> float:
    """Rows/s of 4 writer processes as the login of ``url``; timed from the barrier."""
    per = total // WRITERS
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(WRITERS + 1)
    procs = [
        ctx.Process(target=_append_worker, args=(url, per, per_commit, plain, start))
        for _ in range(WRITERS)
    ]
    for p in procs:
        p.start()
    start.wait(timeout=120)
    began = time.perf_counter()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a writer failed (exit {p.exitcode})")
    return per * WRITERS / (time.perf_counter() - began)


def _plain_table(kind: str, db: ScratchDatabase) -> None:
    """The baseline's table, made by the owner; the writers insert as the app login."""
    key = "INTEGER PRIMARY KEY" if kind == "sqlite" else "BIGSERIAL PRIMARY KEY"
    engine = make_engine(db.owner_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE bench_plain (id {key}, action TEXT, resource_id TEXT, details TEXT)"
            )
        )
        if kind == "postgresql" and db.app_url != db.owner_url:
            conn.execute(text(f"GRANT SELECT, INSERT ON bench_plain TO {PG_APP}"))
            conn.execute(text(f"GRANT USAGE ON SEQUENCE bench_plain_id_seq TO {PG_APP}"))
    engine.dispose()


def _sign_and_verify(ctx: AppContext, expected_events: int, expected_checkpoints: int) -> str:
    """Sign the head as the worker does, then verify the whole log with the service's own
    ``verify_chain`` (links, and the checkpoints' signatures over the C2SP body) against
    the run's public key. Stops the run if anything is wrong."""
    with session_scope(ctx.sessions) as session:
        checkpoint = sign_head(
            session, ctx.crypto, ctx.clock, ctx.audit, SYSTEM, "on_demand",
            origin=ctx.settings.audit_origin,
        )  # fmt: skip
        if checkpoint is None:
            raise SystemExit("the audit log is empty after the appends")
    with ctx.sessions() as session:
        result = verify_chain(session, ctx.crypto.public_key)
    if not result.intact:
        problems = "; ".join(str(p) for p in result.problems)
        raise SystemExit(f"the chain is not intact after the appends: {result.summary}: {problems}")
    # Each signing is an audited event after the head it signs.
    if result.events != expected_events or result.checkpoints != expected_checkpoints:
        raise SystemExit(
            f"verify_chain walked {result.events} events and {result.checkpoints} checkpoints, "
            f"expected {expected_events} and {expected_checkpoints}"
        )
    return f"chain valid: {result.events:,} events, {result.checkpoints} checkpoints"


def bench_appends(kind: str, db: ScratchDatabase, total: int, rounds: int) -> None:
    """One event per commit is a request; ten per commit is a worker's batch. The audited
    run and the plain baseline alternate (which goes first alternates too)."""
    keys = _keys()
    migrate(db, keys)
    login = _login_of(db)
    _plain_table(kind, db)
    ctx = _context(db, keys)
    written = checkpoints = 0
    for per_commit in (1, 10):
        audited: list[float] = []
        plain: list[float] = []
        for r in range(rounds):
            order = (False, True) if r % 2 == 0 else (True, False)
            for is_plain in order:
                rate = _timed_writers(db.app_url, total, per_commit, plain=is_plain)
                (plain if is_plain else audited).append(rate)
            written += total // WRITERS * WRITERS
        checkpoints += 1
        valid = _sign_and_verify(ctx, written + checkpoints, checkpoints)
        # Per round: how much longer the audited appends took than the plain ones.
        ratios = [p / a for p, a in zip(plain, audited, strict=True)]
        med_a, med_p = statistics.median(audited), statistics.median(plain)
        what = f"appends, {WRITERS} writers, {per_commit} per commit"
        _report(
            f"{what}, {rounds} rounds, as {login} ({valid})",
            kind,
            f"{med_a:,.0f}/s ({min(audited):,.0f}-{max(audited):,.0f})",
            f"plain insert {med_p:,.0f}/s ({min(plain):,.0f}-{max(plain):,.0f})",
            _spread(ratios),
        )
        if kind == "postgresql":
            targets.append(
                (f"{what}: audited / plain insert", statistics.median(ratios), TARGET_APPENDS)
            )
    ctx.engine.dispose()


# --- 2. verification of an export --------------------------------------------------------


def _synthetic_records(n: int) -> Iterator[dict[str, object]]:
    prev = GENESIS
    for seq in range(1, n + 1):
        record: dict[str, object] = {
            "seq": seq,
            "occurred_at": START + timedelta(seconds=30 * seq),
            "actor_user_id": seq % 200 + 1,
            "actor_username": f"user{seq % 200 + 1}",
            "organisation_id": seq % 5 + 1,
            "action": ACTIONS[seq % len(ACTIONS)],
            "resource_type": "citizen",
            "resource_id": f"{seq % 50_000:032x}",
            "outcome": "success",
            "reason": None,
            "request_id": f"{seq:032x}",
            "source_ip": f"10.0.{seq % 250}.{seq % 200}",
            "details": json.dumps(
                {"permission": "citizen:read", "path": "/borgere/x"},
                sort_keys=True,
                separators=(",", ":"),
            ),
            "prev_hash": prev,
        }
        record["hash"] = event_hash(record)
        prev = str(record["hash"])
        yield record


def write_export(n: int, path: Path) -> int:
    """A signed synthetic export of ``n`` events at ``path``, a checkpoint every 10,000
    events and at the end; returns how many checkpoints."""
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    body = path.with_suffix(".body")
    signed_at = (START + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    newest: dict[str, object] = {}
    checkpoints = 0
    with body.open("w", encoding="utf-8") as out:
        for record in _synthetic_records(n):
            out.write(event_line(record) + "\n")
            seq = int(str(record["seq"]))
            if seq % 10_000 == 0 or seq == n:
                # Signed as the service signs: the C2SP checkpoint body.
                sig = key.sign(checkpoint_message(ORIGIN, seq, str(record["hash"])))
                checkpoints += 1
                newest = {
                    "origin": ORIGIN,
                    "seq": seq,
                    "hash": record["hash"],
                    "signed_at": signed_at,
                    "signature": base64.b64encode(sig).decode(),
                }
                out.write(json.dumps({"type": "checkpoint", **newest}, separators=(",", ":")))
                out.write("\n")
    header: dict[str, object] = {
        "type": "header",
        "format": FORMAT,
        "public_key": base64.b64encode(raw).decode(),
        "key_id": "bench",
        "organisation_id": None,
        "requested_from": "",
        "requested_to": "",
        "exported_at": "",
        "first_seq": 1,
        "last_seq": n,
        "events": n,
        "log_head_seq": n,
        "newest_checkpoint": newest,
    }
    header["signature"] = base64.b64encode(key.sign(header_message(header))).decode()
    with path.open("w", encoding="utf-8") as out, body.open(encoding="utf-8") as events:
        out.write(json.dumps(header, separators=(",", ":")) + "\n")
        shutil.copyfileobj(events, out)
    body.unlink()
    return checkpoints


def bench_verify(n: int, tmp: Path, rounds: int) -> None:
    path = tmp / "export.jsonl"
    checkpoints = write_export(n, path)
    shas: list[tuple[float, float]] = []  # (wall, CPU) seconds
    verifies: list[tuple[float, float]] = []
    for r in range(rounds):
        order = (True, False) if r % 2 == 0 else (False, True)
        for is_sha in order:
            if is_sha:
                shas.append(_timed_child(lambda: _sha256sum(path)))
            else:
                verifies.append(_timed_child(lambda: _verify_export(path)))
    ratios = [v / s for (v, _), (s, _) in zip(verifies, shas, strict=True)]
    walls = [v for v, _ in verifies]
    sha_walls = [s for s, _ in shas]
    verify, sha = statistics.median(walls), statistics.median(sha_walls)
    size = path.stat().st_size / 1e6
    _report(
        f"verify {n:,}-event export ({size:,.0f} MB, {checkpoints} checkpoints), {rounds} rounds",
        "file",
        f"{verify:.2f} s ({min(walls):.2f}-{max(walls):.2f}), {n / verify:,.0f} events/s",
        f"sha256sum {sha:.2f} s ({min(sha_walls):.2f}-{max(sha_walls):.2f})",
        _spread(ratios),
    )
    # CPU time (user + system, the verifier's worker processes included) says what the
    # wall time cannot on a loaded machine, where a job gets a share of the cores
    # whatever its number of processes.
    cpu = [c for _, c in verifies]
    sha_cpu = [c for _, c in shas]
    _report(
        "  the same, CPU time",
        "file",
        f"{statistics.median(cpu):.2f} s ({min(cpu):.2f}-{max(cpu):.2f})",
        f"sha256sum {statistics.median(sha_cpu):.2f} s ({min(sha_cpu):.2f}-{max(sha_cpu):.2f})",
        _spread([v / s for v, s in zip(cpu, sha_cpu, strict=True)]),
    )
    targets.append((f"verify {n:,} events / sha256sum", statistics.median(ratios), TARGET_VERIFY))


def _sha256sum(path: Path) -> None:
    subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)


def _verify_export(path: Path) -> None:
    _check(
        subprocess.run(
            [sys.executable, str(ROOT / "audit" / "verify.py"), str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
    )


def _check(result: subprocess.CompletedProcess[str]) -> None:
    if result.returncode != 0 or not result.stdout.startswith("OK"):
        raise SystemExit(f"verification failed: {result.stdout}{result.stderr}")


def _timed_child(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of ``fn``, which runs a child process to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = _timed(fn)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def _timed(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def _median(fn: Callable[[], object], runs: int) -> float:
    return statistics.median(_timed(fn) for _ in range(runs))


# --- 3. the DPO's filter --------------------------------------------------------------------


_INSERT_EVENT = text(
    f"INSERT INTO audit_event ({', '.join((*CHAIN_FIELDS, 'hash'))}) "
    f"VALUES ({', '.join(':' + c for c in (*CHAIN_FIELDS, 'hash'))})"
)


def _insert_events(engine: Engine, records: Iterator[dict[str, object]]) -> str:
    """Inserts the records in batches of 20,000; returns the last one's hash."""
    batch: list[dict[str, object]] = []
    last = GENESIS
    with engine.begin() as conn:
        for record in records:
            batch.append(record)
            last = str(record["hash"])
            if len(batch) == 20_000:
                conn.execute(_INSERT_EVENT, batch)
                batch = []
        if batch:
            conn.execute(_INSERT_EVENT, batch)
    return last


def _load_events(engine: Engine, n: int) -> str:
    """``n`` synthetic events spread over two years from START, analysed; returns the
    last one's hash."""
    # Spread over two years: the one-week filter then matches a realistic share.
    spread = (2 * 365 * 86400) / n

    def spread_out() -> Iterator[dict[str, object]]:
        for record in _synthetic_records(n):
            record["occurred_at"] = START + timedelta(seconds=spread * int(str(record["seq"])))
            yield record

    last = _insert_events(engine, spread_out())
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return last


def bench_filter(kind: str, db: ScratchDatabase, n: int, rounds: int) -> None:
    migrate(db, _keys())
    # The synthetic chain is loaded by the owner (the app login cannot write audit_event);
    # the DPO's queries run as the app login.
    loader = make_engine(db.owner_url)
    _load_events(loader, n)
    loader.dispose()
    engine = make_engine(db.app_url)
    sessions = make_sessionmaker(engine)
    week = START + timedelta(days=300)
    queries = {
        "one user, one week": AuditFilter(
            occurred_from=week, occurred_to=week + timedelta(7), actor_user_id=17, organisation_id=2
        ),
        "one organisation, one day": AuditFilter(
            occurred_from=week, occurred_to=week + timedelta(1), organisation_id=3
        ),
        "one citizen": AuditFilter(resource_type="citizen", resource_id=f"{1234:032x}"),
        "one request id": AuditFilter(request_id=f"{n // 2:032x}"),
        "action + outcome, one month": AuditFilter(
            occurred_from=week,
            occurred_to=week + timedelta(30),
            action="access.denied",
            outcome="success",
        ),
        "first page, no filter": AuditFilter(),
    }
    with sessions() as session:
        base = _median(
            lambda: session.execute(text("SELECT count(*) FROM audit_event")).scalar(), 5
        )
        for name, f in queries.items():
            took = _median(lambda f=f: search(session, f), 5)  # type: ignore[misc]
            _report(
                f"DPO filter on {n:,} events: {name}",
                kind,
                f"{took * 1000:.1f} ms",
                f"count(*) {base * 1000:.1f} ms",
                f"{took / base:.2f}x",
            )
    engine.dispose()


# --- 4. the DPO log's default page on stale statistics ------------------------------------


def _week_of_requests(
    first_seq: int, prev: str, start: datetime, n: int
) -> Iterator[dict[str, object]]:
    """``n`` events in the week from ``start``, as requests make them: each request's
    permission decision (``access.allowed``) and then its action, with one request id."""
    step = 7 * 86400 / n
    for i in range(n):
        seq, k = first_seq + i, i // 2
        record: dict[str, object] = {
            "seq": seq,
            "occurred_at": start + timedelta(seconds=step * i),
            "actor_user_id": k % 200 + 1,
            "actor_username": f"user{k % 200 + 1}",
            "organisation_id": k % 5 + 1,
            "action": "access.allowed" if i % 2 == 0 else "citizen.read",
            "resource_type": "citizen",
            "resource_id": f"{k % 50_000:032x}",
            "outcome": "success",
            "reason": None,
            "request_id": f"w{k:031x}",
            "source_ip": f"10.1.{k % 250}.{k % 200}",
            "details": '{"permission":"citizen:read"}',
            "prev_hash": prev,
        }
        record["hash"] = event_hash(record)
        prev = str(record["hash"])
        yield record


def _page_before(session: Session, f: AuditFilter) -> None:
    """The DPO log's default page as it was read before the windowed search: the page
    (one statement, the planner's choice of index) and its decisions (``IN`` list)."""
    stmt = _filtered(select(AuditEvent), f).order_by(AuditEvent.seq.desc()).limit(PAGE_SIZE + 1)
    events = list(session.scalars(stmt))[:PAGE_SIZE]
    wanted = sorted({e.request_id for e in events if e.request_id})
    assert f.concerning_organisation is not None
    list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.action == "access.allowed",
                AuditEvent.request_id.in_(wanted),
                concerns_organisation(f.concerning_organisation),
            )
            .order_by(AuditEvent.seq)
        )
    )


def _page_now(session: Session, f: AuditFilter) -> None:
    """The page as the service reads it now (``search``, ``decisions_of_requests``)."""
    assert f.concerning_organisation is not None
    page = search(session, f)
    decisions_of_requests(
        session, [e.request_id or "" for e in page.events], f.concerning_organisation
    )


def _plans(
    session: Session, read: Callable[[Session, AuditFilter], None], f: AuditFilter
) -> list[str]:
    """EXPLAIN ANALYZE of every statement ``read`` runs, in a few lines each."""
    statements: list[tuple[str, Any]] = []

    def capture(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if not statement.startswith("EXPLAIN"):
            statements.append((statement, params))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        read(session, f)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    out = []
    for statement, params in statements:
        plan = session.connection().exec_driver_sql(
            "EXPLAIN (ANALYZE, COSTS OFF, SUMMARY OFF) " + statement, params
        )
        # Long lines (the page's request ids) cut at 160 characters.
        out.append("\n".join("    " + line[:160] for (line,) in plan))
    return out


def _time_page(
    session: Session,
    f: AuditFilter,
    reads: dict[str, Callable[[Session, AuditFilter], None]],
    rounds: int,
    what: str,
) -> None:
    """Each read of the page, R rounds (which goes first alternates), against count(*)."""
    took: dict[str, list[float]] = {name: [] for name in reads}
    counts: list[float] = []
    for r in range(rounds):
        counts.append(
            _median(lambda: session.execute(text("SELECT count(*) FROM audit_event")).scalar(), 3)
        )
        for name in list(reads)[:: 1 if r % 2 == 0 else -1]:
            read = reads[name]
            took[name].append(_median(lambda read=read: read(session, f), 5))  # type: ignore[misc]
    base = statistics.median(counts)
    for name, times in took.items():
        _report(
            f"{what}, {name}",
            "postgresql",
            f"{statistics.median(times) * 1000:.2f} ms "
            f"({min(times) * 1000:.2f}-{max(times) * 1000:.2f})",
            f"count(*) {base * 1000:.1f} ms",
            _spread([t / c for t, c in zip(times, counts, strict=True)]),
        )
    _report(
        "  now / before",
        "postgresql",
        f"{statistics.median(took['now']) / statistics.median(took['before']):.2f}x",
        "the page before",
        _spread([a / b for a, b in zip(took["now"], took["before"], strict=True)]),
    )


def bench_stale(kind: str, db: ScratchDatabase, n: int, rounds: int) -> None:
    """The DPO log's default page (the last week, newest first, 50 rows, the decisions
    folded in) after ``STALE_EVENTS`` events were added in the week without ANALYZE,
    then with fresh statistics; before (the statements of the old search) and now."""
    if kind != "postgresql":
        return  # SQLite keeps no statistics unless told (its planner has none to go stale)
    migrate(db, _keys())
    loader = make_engine(db.owner_url)
    last = _load_events(loader, n)
    # No autovacuum on the table during the run, so the new events stay unanalysed.
    with loader.begin() as conn:
        conn.execute(text("ALTER TABLE audit_event SET (autovacuum_enabled = false)"))
    week = START + timedelta(days=2 * 365, seconds=1)
    _insert_events(loader, _week_of_requests(n + 1, last, week, STALE_EVENTS))
    engine = make_engine(db.app_url)
    sessions = make_sessionmaker(engine)
    default = AuditFilter(
        occurred_from=week,
        occurred_to=week + timedelta(days=8),
        concerning_organisation=2,
        exclude_actions=("access.allowed",),
    )
    # The same page for a reviewer whose organisation has no events in the week: the
    # windows find nothing near the head (the cost of trying them).
    cases = {
        "default page": default,
        "page without events": replace(default, concerning_organisation=77),
    }
    reads = {"before": _page_before, "now": _page_now}
    for state in ("stale", "fresh"):
        if state == "fresh":
            with loader.begin() as conn:
                conn.execute(text("ANALYZE audit_event"))
        with sessions() as session:
            for name, read in reads.items():
                for plan in _plans(session, read, default):
                    print(f"{state} statistics, {name}:\n{plan}")
            for case, f in cases.items():
                _time_page(
                    session,
                    f,
                    reads,
                    rounds,
                    f"DPO log {case}, {n:,} + {STALE_EVENTS:,} events, {state} statistics",
                )
    engine.dispose()
    loader.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--appends", type=int, default=8_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of measured case and baseline, alternating (appends, verify)",
    )
    parser.add_argument(
        "--parts",
        default="appends,filter,verify",
        help="comma-separated subset of appends, filter, stale, verify",
    )
    parser.add_argument(
        "--login",
        choices=["app", "superuser"],
        default="app",
        help="PostgreSQL: the application login in an owner's database (as in production), "
        "or everything as the superuser (the set-up before the two logins, to compare)",
    )
    args = parser.parse_args()
    print(f"load average at the start: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    parts = set(args.parts.split(","))
    _quiet()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for kind in engines:
            for part, run in (
                ("appends", bench_appends),
                ("filter", bench_filter),
                ("stale", bench_stale),
            ):
                if part not in parts:
                    continue
                (tmp / kind / part).mkdir(parents=True)
                size = args.appends if part == "appends" else args.events
                for db in _database(kind, tmp / kind / part, args.login):
                    run(kind, db, size, args.rounds)
        if "verify" in parts and shutil.which("sha256sum"):
            bench_verify(args.events, tmp, args.rounds)
    print(f"load average at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'engine':<10}  {'result':<28}  baseline (ratio)")
    for what, engine, value, baseline in rows:
        print(f"{what:<{width}}  {engine:<10}  {value:<28}  {baseline}")
    for what, median, limit in targets:
        verdict = "holds" if median <= limit else "does NOT hold"
        print(f"target {what} <= {limit}x (median): {median:.2f}x, {verdict}")


if __name__ == "__main__":
    main()

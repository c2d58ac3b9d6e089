"""HTTP benchmark: the real server (``consent-service serve --workers 2``) on loopback,
PostgreSQL, C concurrent virtual users, each request kind next to ``GET /healthz``.

    python bench/http_load.py [--seconds 15] [--rounds 3] [--users 20,100]
                              [--citizens 300] [--forms N] [--kinds a,b,...]

A scratch database is made as in production (``scratch_db``: the owner migrates, the
application login serves), with keys made for the run; the seed (``http_seed``) runs in
this process with the service's own functions. The server is started as a subprocess on
a free 127.0.0.1 port, as the application login, with rate limits raised so they never
throttle (the limiter still counts every attempt in the database, as in production).
Each virtual user logs in over HTTP as its own navigator and its own DPO (password, then
a TOTP code from pyotp, with the pages' CSRF tokens) and holds its own API token.

Per level of concurrency, R rounds; a round runs /healthz, then each request kind (the
order reversed every other round), each for ``--seconds`` with C users sending back to
back. Per request kind and round: throughput and p95/p99 as ratios to /healthz in the
same round; over the rounds min/median/max of each ratio, the errors (any status but the
expected one, or no answer), and the load average. Each slot's line also gives the CPU
share of the client and of each server worker (from /proc, Linux), which shows whether
the work was spread over the workers. The issue's targets are judged on the
median ratios. Afterwards every acknowledged request of an audited kind must have its
audit events (looked up by the X-Request-ID the response carried), and the chain must
verify with the service's own ``verify_chain`` after a checkpoint is signed; otherwise,
or on any error, the run exits 1. The server is stopped and the database dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyotp
import structlog
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from http_seed import PASSWORD, Person, Seeded, referral_body, seed  # noqa: E402 - bench/
from scratch_db import migrate, scratch_database  # noqa: E402

from consent_service.audit.checkpoints import sign_head  # noqa: E402
from consent_service.audit.models import AuditEvent  # noqa: E402
from consent_service.audit.recorder import SYSTEM, seal_pending  # noqa: E402
from consent_service.audit.service import verify_chain  # noqa: E402
from consent_service.clock import SystemClock, legal_today  # noqa: E402
from consent_service.config import DEFAULT_RATE_LIMITS, Settings  # noqa: E402
from consent_service.context import AppContext  # noqa: E402
from consent_service.db import session_scope  # noqa: E402

ORIGIN = "bench.example/http"
UNTHROTTLED = dict.fromkeys(DEFAULT_RATE_LIMITS, "1000000/minute")
# The request kinds: (expected status, the audit actions each acknowledged one must have).
KINDS: dict[str, tuple[int, tuple[str, ...]]] = {
    "healthz": (200, ()),
    "citizen_page": (200, ("access.allowed", "citizen.read")),
    "worklist": (200, ("access.allowed", "worklist.viewed")),
    "dpo_log": (200, ("audit.log_viewed",)),
    "record_consent": (303, ("access.allowed", "consent.recorded")),
    "referral_api": (202, ("referral.created",)),
    "referral_api_shared": (202, ("referral.created",)),
}
WRITES = ("record_consent", "referral_api", "referral_api_shared")
# The targets (ratios to /healthz, median over rounds): throughput, p95.
TARGETS = {"citizen_page": (2.0, 2.5), **dict.fromkeys(WRITES, (2.5, 3.0))}

# uvicorn closes a keep-alive connection idle for 5 s; a client that reuses one it has
# not yet seen closed gets no answer (ReadError), a client-side artefact of idle users
# (e.g. the navigators while the API kinds run). Clients let theirs go sooner.
CLIENT_LIMITS = httpx.Limits(keepalive_expiry=3.0)


def tiny_png() -> bytes:
    """A valid 1x1 PNG standing in for a scanned form (as the tests' factory makes it)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + chunk(b"IEND", b"")
    )  # fmt: skip


# --- the server --------------------------------------------------------------------------


def _keys() -> dict[str, str]:
    """Keys for this run only, never from the repository."""
    return {
        name: base64.b64encode(os.urandom(32)).decode()
        for name in ("master_key", "index_key", "signing_key")
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(app_url: str, keys: dict[str, str], log_path: Path, workers: int) -> Iterator[str]:
    """``consent-service serve --workers N`` on a free loopback port, as the application
    login; yields its base URL once /healthz answers; stops it (SIGINT, as Ctrl-C)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    env.update({f"CONSENT_{k.upper()}": v for k, v in keys.items()})
    env.update(
        CONSENT_DATABASE_URL=app_url,
        CONSENT_ENV_FILE=str(log_path.with_suffix(".env-none")),  # no env file
        CONSENT_AUDIT_ORIGIN=ORIGIN,
        CONSENT_RATE_LIMITS=json.dumps(UNTHROTTLED),
        PYTHONPATH=str(ROOT),
    )
    command = [sys.executable, "-m", "consent_service.cli", "serve", "--workers", str(workers)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    SERVER[:] = [proc.pid]
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the server stopped at start-up (see {log_path})")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("the server did not answer /healthz within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


# --- virtual users -----------------------------------------------------------------------


def _csrf(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


@dataclass
class Browser:
    """One person's logged-in session: a cookie jar and the CSRF token of the session."""

    client: httpx.AsyncClient
    csrf: str = ""


async def log_in(base: str, person: Person, used_steps: dict[str, int]) -> Browser:
    """The login a person does: password, then a TOTP code (a step not used before)."""
    step = int(time.time()) // 30
    if used_steps.get(person.username, -1) >= step:
        await asyncio.sleep(30 - time.time() % 30 + 0.1)
    client = httpx.AsyncClient(
        base_url=base, follow_redirects=False, timeout=60, limits=CLIENT_LIMITS
    )
    page = await client.get("/login")
    r = await client.post(
        "/login",
        data={"username": person.username, "password": PASSWORD, "csrf_token": _csrf(page.text)},
    )
    if r.status_code != 303 or r.headers["location"] != "/login/kode":
        raise SystemExit(f"login of {person.username}: {r.status_code} {r.text[:300]}")
    page = await client.get("/login/kode")
    now = time.time()
    used_steps[person.username] = int(now) // 30
    code = pyotp.TOTP(person.totp_secret).at(int(now))
    r = await client.post("/login/kode", data={"code": code, "csrf_token": _csrf(page.text)})
    if r.status_code != 303 or r.headers["location"] != "/":
        raise SystemExit(f"code of {person.username}: {r.status_code} {r.text[:300]}")
    home = await client.get("/")
    return Browser(client, _csrf(home.text))


@dataclass
class Users:
    """The virtual users of one level: user i is navigator i, DPO i, client i."""

    navigators: list[Browser]
    dpos: list[Browser]
    api: list[httpx.AsyncClient]  # client i holds token i
    shared: list[httpx.AsyncClient]  # every client holds the one shared token

    async def close(self) -> None:
        for b in self.navigators + self.dpos:
            await b.client.aclose()
        for c in self.api + self.shared:
            await c.aclose()


async def make_users(base: str, data: Seeded, n: int, used: dict[str, int]) -> Users:
    gate = asyncio.Semaphore(8)

    async def one(p: Person) -> Browser:
        async with gate:
            return await log_in(base, p, used)

    navs = await asyncio.gather(*(one(p) for p in data.navigators[:n]))
    dpos = await asyncio.gather(*(one(p) for p in data.dpos[:n]))

    def api(token: str) -> httpx.AsyncClient:
        auth = {"Authorization": f"Bearer {token}"}
        return httpx.AsyncClient(base_url=base, headers=auth, timeout=60, limits=CLIENT_LIMITS)

    return Users(list(navs), list(dpos), [api(t) for t in data.tokens[:n]],
                 [api(data.shared_token) for _ in range(n)])  # fmt: skip


# --- one measured slot -------------------------------------------------------------------


@dataclass
class Slot:
    kind: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)  # request ids
    elapsed: float = 0.0
    client_cpu: float = 0.0
    server_cpu: list[float] = field(default_factory=list)  # each worker's, busiest first

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


class Workload:
    """The request each virtual user sends for a kind; data that is used up (forms, new
    CPR numbers) is shared by all users of the run."""

    def __init__(self, data: Seeded, cprs: Iterator[str], users: Users) -> None:
        self.data, self.cprs, self.u = data, cprs, users
        self.scan = tiny_png()
        self.today = legal_today(SystemClock()).isoformat()
        self.i = 0
        self.forms_left = 0  # of the slot running: each slot gets its share of the pool

    def request(self, kind: str, n: int) -> Callable[[], Awaitable[httpx.Response]] | None:
        u, data = self.u, self.data
        self.i += 1
        if kind == "healthz":
            return lambda: u.navigators[n].client.get("/healthz")
        if kind == "citizen_page":
            pid = data.citizens[(self.i * 7919) % len(data.citizens)]
            return lambda: u.navigators[n].client.get(f"/borgere/{pid}")
        if kind == "worklist":
            return lambda: u.navigators[n].client.get("/arbejdsliste")
        if kind == "dpo_log":
            return lambda: u.dpos[n].client.get("/dpo/log")
        if kind == "record_consent":
            if not data.forms or self.forms_left <= 0:
                return None
            self.forms_left -= 1
            pid, form_kind, form_id = data.forms.pop()
            nav = u.navigators[n]
            fields = {"form_id": form_id, "signed_on": self.today, "witness": "Navigatør",
                      "csrf_token": nav.csrf}  # fmt: skip
            files = {"scan": ("scan.png", self.scan, "image/png")}
            url = f"/borgere/{pid}/samtykke/{form_kind}/registrer"
            return lambda: nav.client.post(url, data=fields, files=files)
        body = referral_body(next(self.cprs), legal_today(SystemClock()))
        client = (u.api if kind == "referral_api" else u.shared)[n]
        return lambda: client.post("/api/v1/referrals", json=body)


async def run_slot(
    work: Workload, kind: str, users: int, seconds: float, each: int | None = None
) -> Slot:
    """C users send ``kind`` back to back for ``seconds`` (or ``each`` requests each)."""
    slot = Slot(kind)
    expected = KINDS[kind][0]
    end = time.perf_counter() + seconds

    async def user(n: int) -> None:
        sent = 0
        while time.perf_counter() < end and (each is None or sent < each):
            sent += 1
            send = work.request(kind, n)
            if send is None:
                return  # the pool of printed forms is used up
            began = time.perf_counter()
            try:
                r = await send()
            except httpx.HTTPError as exc:
                slot.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            slot.latencies.append(time.perf_counter() - began)
            if r.status_code != expected:
                slot.errors.append(f"{r.status_code} {r.text[:200]}")
            else:
                slot.acknowledged.append(r.headers.get("x-request-id", ""))

    began, cpu, workers = time.perf_counter(), time.process_time(), server_cpu()
    await asyncio.gather(*(user(n) for n in range(users)))
    slot.elapsed = time.perf_counter() - began
    slot.client_cpu = (time.process_time() - cpu) / slot.elapsed
    after = server_cpu()
    slot.server_cpu = sorted(
        ((after[p] - workers[p]) / slot.elapsed for p in after if p in workers), reverse=True
    )
    return slot


SERVER: list[int] = []  # the server's process id, once started (``served``)


def server_cpu() -> dict[int, float]:
    """CPU seconds (user + system) so far of each worker process of the server, read from
    /proc (Linux; empty elsewhere): how evenly a slot's work was spread over the workers."""
    if not SERVER:
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    try:
        children = Path(f"/proc/{SERVER[0]}/task/{SERVER[0]}/children").read_text().split()
    except OSError:
        return {}
    seconds = {}
    for child in children:
        try:
            if b"spawn_main" not in Path(f"/proc/{child}/cmdline").read_bytes():
                continue  # multiprocessing's resource tracker, not a worker
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        seconds[int(child)] = (int(fields[11]) + int(fields[12])) / tick
    return seconds


# --- report ------------------------------------------------------------------------------


def _spread(xs: list[float]) -> str:
    return f"{statistics.median(xs):.2f}x ({min(xs):.2f}-{max(xs):.2f})"


def report(users: int, rounds: list[dict[str, Slot]], loads: list[str]) -> list[str]:
    """The table of one level; returns the targets missed."""
    missed: list[str] = []
    kinds = [k for k in KINDS if k in rounds[0]]
    print(f"\n## {users} concurrent users, {len(rounds)} rounds; load average: {', '.join(loads)}")
    print("| request | req/s (median) | p95 ms | throughput ratio | p95 ratio | p99 ratio "
          "| errors | target |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for kind in kinds:
        errors = sum(len(r[kind].errors) for r in rounds)
        # A round whose slot got no answer at all (no forms left) has no ratio.
        pairs = [(r[kind], r["healthz"]) for r in rounds if r[kind].latencies]
        if not pairs:
            print(f"| {kind} | - | - | - | - | - | {errors} | not measured |")
            missed.append(f"{kind} at {users} users (not measured)")
            continue
        slots = [s for s, _ in pairs]
        tput = [b.throughput / s.throughput for s, b in pairs]
        p95 = [s.pct(0.95) / b.pct(0.95) for s, b in pairs]
        p99 = [s.pct(0.99) / b.pct(0.99) for s, b in pairs]
        verdict = "-"
        if kind in TARGETS:
            t_max, p_max = TARGETS[kind]
            ok = statistics.median(tput) <= t_max and statistics.median(p95) <= p_max
            ok = ok and errors == 0
            verdict = f"{'yes' if ok else 'NO'} (<= {t_max}x, p95 <= {p_max}x, 0 errors)"
            if not ok:
                missed.append(f"{kind} at {users} users")
        print(f"| {kind} | {statistics.median(s.throughput for s in slots):,.0f} | "
              f"{statistics.median(s.pct(0.95) for s in slots) * 1000:.0f} | {_spread(tput)} | "
              f"{_spread(p95)} | {_spread(p99)} | {errors} | {verdict} |")  # fmt: skip
    return missed


# --- after the run: the audit ------------------------------------------------------------


def check_audit(ctx: AppContext, acknowledged: dict[str, list[str]]) -> str:
    """Every acknowledged request of an audited kind has its events; the chain verifies."""
    seal_pending(ctx.engine)  # anything a stopped server left staged
    wanted = {rid: KINDS[kind][1] for kind, rids in acknowledged.items() for rid in rids
              if KINDS[kind][1]}  # fmt: skip
    found: dict[str, list[str]] = defaultdict(list)
    with ctx.sessions() as session:
        rows = session.execute(
            select(AuditEvent.request_id, AuditEvent.action).where(
                AuditEvent.request_id.is_not(None)
            )
        )
        for rid, action in rows:
            found[str(rid)].append(action)
    missing = [rid for rid, actions in wanted.items() if not set(actions) <= set(found[rid])]
    if missing or "" in wanted:
        raise SystemExit(
            f"{len(missing)} of {len(wanted)} acknowledged requests lack their audit events "
            f"(e.g. request {missing[:3]})"
        )
    with session_scope(ctx.sessions) as session:
        sign_head(session, ctx.crypto, ctx.clock, ctx.audit, SYSTEM, "on_demand", origin=ORIGIN)
    with ctx.sessions() as session:
        result = verify_chain(session, ctx.crypto.public_key)
    if not result.intact:
        problems = "; ".join(str(p) for p in result.problems)
        raise SystemExit(f"the audit chain is not intact: {result.summary}: {problems}")
    per = {kind: sum(len(found[r]) for r in rids) / len(rids)
           for kind, rids in acknowledged.items() if rids}  # fmt: skip
    print("audit events per request: " + ", ".join(f"{k} {v:.1f}" for k, v in per.items()))
    return (
        f"audit: all {len(wanted):,} acknowledged audited requests have their events; "
        f"chain valid ({result.events:,} events, {result.checkpoints} checkpoint(s))"
    )


# --- main --------------------------------------------------------------------------------


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def measure(base: str, data: Seeded, cprs: Iterator[str], args: argparse.Namespace,
                  acknowledged: dict[str, list[str]]) -> tuple[list[str], int]:  # fmt: skip
    missed, errors, used_steps = [], 0, {}  # type: ignore[var-annotated]
    for users in args.users:
        u = await make_users(base, data, users, used_steps)
        work = Workload(data, cprs, u)
        for kind in args.kinds:  # warm-up, not measured: first requests compile templates
            work.forms_left = 2 * users
            slot = await run_slot(work, kind, users, args.seconds, each=2)
            acknowledged[kind].extend(slot.acknowledged)
            errors += len(slot.errors)
            for e in slot.errors[:3]:
                print(f"  error in {kind} (warm-up): {e}", file=sys.stderr)
        rounds: list[dict[str, Slot]] = []
        loads = []
        for r in range(args.rounds):
            kinds = [k for k in args.kinds if k != "healthz"]
            order = ["healthz", *(kinds if r % 2 == 0 else reversed(kinds))]
            slots = {}
            for kind in order:
                work.forms_left = args.forms_per_slot
                slot = await run_slot(work, kind, users, args.seconds)
                slots[kind] = slot
                acknowledged[kind].extend(slot.acknowledged)
                errors += len(slot.errors)
                for e in slot.errors[:3]:
                    print(f"  error in {kind}: {e}", file=sys.stderr)
                if kind == "record_consent" and slot.elapsed < 0.9 * args.seconds:
                    print("  this slot's share of printed forms ran out: raise --forms",
                          file=sys.stderr)  # fmt: skip
                print(f"  {users} users, round {r + 1}, {kind}: {len(slot.latencies)} requests "
                      f"in {slot.elapsed:.1f} s, p95 {slot.pct(0.95) * 1000:.0f} ms, "
                      f"{len(slot.errors)} errors, client CPU {slot.client_cpu:.0%}, "
                      f"server CPU {'+'.join(f'{c:.0%}' for c in slot.server_cpu) or '-'}",
                      file=sys.stderr)  # fmt: skip
            loads.append(_load())
            rounds.append(slots)
        await u.close()
        missed += report(users, rounds, loads)
    return missed, errors


def _server_account(line: str) -> str:
    """A server log line, short: its event and the last line of its exception (the
    error's class and message; statement parameters are never logged)."""
    try:
        record = json.loads(line)
    except ValueError:
        return line[:400]
    last = (record.get("exception") or "").strip().splitlines()[-1:]
    return f"{record.get('event')} on {record.get('path_template')}: {' '.join(last)[:300]}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=15.0, help="length of each measured slot")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--users", default="20,100", help="levels of concurrency, e.g. 20,100")
    p.add_argument("--citizens", type=int, default=300, help="citizens the pages show")
    p.add_argument("--forms", type=int, help="printed forms per measured slot (default 50/s)")
    p.add_argument("--workers", type=int, default=2, help="server processes (issue: 2)")
    p.add_argument("--kinds", default=",".join(KINDS), help="request kinds to measure")
    args = p.parse_args()
    args.users = [int(x) for x in args.users.split(",")]
    args.kinds = ["healthz", *(k for k in args.kinds.split(",") if k and k != "healthz")]
    if unknown := set(args.kinds) - set(KINDS):
        p.error(f"unknown kinds: {', '.join(sorted(unknown))}")
    # Enough forms for ~50 recordings/s throughout, shared equally by the measured slots
    # (one that uses up its share ends early); plus two per user for the warm-up.
    slots = args.rounds * len(args.users)
    args.forms_per_slot = args.forms or int(50 * args.seconds)
    forms = args.forms_per_slot * slots + 2 * sum(args.users)
    if "record_consent" not in args.kinds:
        forms = 0
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    keys = _keys()
    print(f"# HTTP benchmark, PostgreSQL, serve --workers {args.workers}; "
          f"load average at start: {_load()}")  # fmt: skip
    with contextlib.contextmanager(scratch_database)("bench_http") as db:
        migrate(db, keys)
        settings = Settings(database_url=db.app_url, audit_origin=ORIGIN, **keys)  # type: ignore[arg-type]
        ctx = AppContext.build(settings, SystemClock())
        began = time.perf_counter()
        data, cprs = seed(ctx, users=max(args.users), citizens_n=args.citizens, forms_n=forms,
                          scan=tiny_png())  # fmt: skip
        print(f"seeded in {time.perf_counter() - began:.0f} s: {len(data.citizens)} citizens, "
              f"{len(data.forms)} printed forms, {max(args.users)} users of each role",
              file=sys.stderr)  # fmt: skip
        acknowledged: dict[str, list[str]] = defaultdict(list)
        with tempfile.TemporaryDirectory() as tmp:
            log_path = Path(tmp) / "server.log"
            with served(db.app_url, keys, log_path, args.workers) as base:
                missed, errors = asyncio.run(measure(base, data, cprs, args, acknowledged))
            if errors:  # the server's own account of them
                lines = log_path.read_text(errors="replace").splitlines()
                for line in [x for x in lines if '"error"' in x or "Traceback" in x][-5:]:
                    print(f"  server: {_server_account(line)}", file=sys.stderr)
        print("\n" + check_audit(ctx, acknowledged))
        ctx.engine.dispose()
    if errors:
        missed.append(f"{errors} errors")
    print("targets missed: " + ("; ".join(missed) if missed else "none"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

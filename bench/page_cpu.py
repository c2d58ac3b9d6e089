"""CPU time per request of the DPO log and the citizen page, in-process, against GET /healthz.

    python bench/page_cpu.py [--rounds R] [--requests N] [--citizens N] [--scan-kb K]

The service runs in this process (starlette's TestClient, as the tests drive it) on a
scratch PostgreSQL database made and migrated as in production (``scratch_db.py``) and
seeded with the HTTP benchmark's own seed (``http_seed.py``: citizens with a referral and
a given, journal-confirmed consent with its scan, here a PNG of K KiB, default 300; the
seed's audit events fill the DPO's log, 50 rows to a page). One navigator and one DPO
log in; then R rounds, each measuring N requests of each kind in turn: GET /healthz,
GET /dpo/log, GET /borgere/<id>. The figure is CPU time (user + system of the whole
process, the client's share included, as in the baseline) per request; the table gives
each kind's median over the rounds and its ratio to /healthz, which a loaded machine
disturbs far less than wall time. ``README.md`` has issue 18's figures before and after
the page-rendering cuts.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import statistics
import struct
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pyotp
import structlog
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from http_load import ORIGIN, _csrf, _keys  # noqa: E402 - bench/
from http_seed import PASSWORD, Person, seed  # noqa: E402
from scratch_db import migrate, scratch_database  # noqa: E402

from consent_service.app import create_app  # noqa: E402
from consent_service.clock import SystemClock  # noqa: E402
from consent_service.config import Settings  # noqa: E402
from consent_service.context import AppContext  # noqa: E402


def scan_png(kb: int) -> bytes:
    """A valid greyscale PNG of about ``kb`` KiB (noise does not compress): a scanned
    form's size, so that a page that read the scan would pay for it."""
    side = max(1, int((kb * 1024) ** 0.5))
    raw = b"".join(b"\x00" + os.urandom(side) for _ in range(side))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def log_in(client: TestClient, person: Person) -> None:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": person.username, "password": PASSWORD, "csrf_token": _csrf(page.text)},
    )
    assert r.status_code == 303, r.text[:300]
    page = client.get("/login/kode")
    code = pyotp.TOTP(person.totp_secret).now()
    r = client.post("/login/kode", data={"code": code, "csrf_token": _csrf(page.text)})
    assert r.status_code == 303, r.text[:300]


def cpu_ms(request: Callable[[], object], n: int) -> float:
    began = time.process_time()
    for _ in range(n):
        r = request()
        assert getattr(r, "status_code", None) == 200, r
    return (time.process_time() - began) * 1000 / n


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--requests", type=int, default=100, help="requests of each kind per round")
    p.add_argument("--citizens", type=int, default=40)
    p.add_argument("--scan-kb", type=int, default=300, help="size of each consent's scan")
    args = p.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    keys = _keys()
    print(f"# page CPU, PostgreSQL, in-process; load average at start: {os.getloadavg()}")
    with contextlib.contextmanager(scratch_database)("bench_pages") as db:
        migrate(db, keys)
        settings = Settings(database_url=db.app_url, audit_origin=ORIGIN, **keys)  # type: ignore[arg-type]
        ctx = AppContext.build(settings, SystemClock())
        data, _ = seed(
            ctx, users=1, citizens_n=args.citizens, forms_n=0, scan=scan_png(args.scan_kb)
        )
        with TestClient(create_app(ctx), follow_redirects=False) as nav:
            dpo = TestClient(nav.app, follow_redirects=False)  # the same app, started once
            log_in(nav, data.navigators[0])
            log_in(dpo, data.dpos[0])
            citizen = f"/borgere/{data.citizens[0]}"
            rows = dpo.get("/dpo/log").text.count('<tr id="event-')
            print(f"DPO log rows on the page: {rows}")
            kinds: dict[str, Callable[[], object]] = {
                "GET /healthz": lambda: nav.get("/healthz"),
                "GET /dpo/log": lambda: dpo.get("/dpo/log"),
                "GET /borgere/<id>": lambda: nav.get(citizen),
            }
            for request in kinds.values():
                cpu_ms(request, 5)  # warm
            ms: dict[str, list[float]] = {k: [] for k in kinds}
            for _ in range(args.rounds):
                for name, request in kinds.items():
                    ms[name].append(cpu_ms(request, args.requests))
        ctx.engine.dispose()
    base = statistics.median(ms["GET /healthz"])
    print("| request | CPU ms per request (median, min-max) | ratio to /healthz |")
    print("|---|---|---|")
    for name, values in ms.items():
        med = statistics.median(values)
        print(f"| {name} | {med:.2f} ({min(values):.2f}-{max(values):.2f}) | {med / base:.2f}x |")
    print(f"load average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

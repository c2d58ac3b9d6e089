"""Citizen search benchmark: the navigator's name search decrypts the organisation's names
in memory (``consent_service/citizens/directory.py``); how does it grow from the pilot's
700 citizens to 10,000, and what does the decryption cost against the bare query?

    python bench/bench_citizen_search.py [--sizes 700,10000] [--rounds R] [--seed S]

Workload: one organisation per size in its own SQLite file (migrated as
``consent-service migrate`` does), N citizens each with their own data key (wrapped by the
master key) and a sealed CPR number and name (real AES-GCM through ``CitizenVault``),
Danish names with æ, ø, å, accents and hyphens; about one in 50 is an "Åberg".

Measured, each the median of R rounds (default 5), alternating, in a fresh session:

1. **search**: what ``POST /borgere/soeg`` does for a name, without the page and the audit:
   ``directory.directory`` (one query, unwrap each key, open name and CPR), ``matching``
   for "aaberg", sorted by name, first page of 25. The run stops unless the number found
   equals the number of Åbergs generated.
2. **baseline**: the same query without decrypting (``repository.sealed_identities_of``:
   ids, sealed name and CPR, wrapped key of every live citizen): what listing costs if
   names were not sealed.

Prints one table: per size the medians, the ratio search/baseline, and the ratios of
10,000 to 700 (how each grows). Figures depend on the machine; compare the ratios.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from bench.scratch_db import migrate, sqlite_database
from consent_service.audit.recorder import Actor
from consent_service.citizens import directory
from consent_service.citizens import repository as citizen_repo
from consent_service.citizens.models import Citizen, CitizenKey
from consent_service.citizens.vault import CitizenVault
from consent_service.clock import SystemClock
from consent_service.config import Settings
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.identity import users as identity

FIRST = ["Åse", "Søren", "Mette", "Jens", "Ærle", "Hanne", "Ole", "Birthe", "José", "Ayşe",
         "Lars", "Inger", "Niels", "Kirsten", "Bo", "Grete", "Mads", "Sofie", "Frederik",
         "Ida"]  # fmt: skip
LAST = ["Østergård", "Hansen", "Jensen", "Müller", "Nielsen", "Bøgh-Larsen", "Kjærgaard",
        "Pedersen", "Sørensen", "Thomsen", "Lund", "Dalsgård", "Yılmaz", "Núñez", "Holm",
        "Frølund", "Vestergaard", "Mikkelsen", "Krogh", "Skovbjerg"]  # fmt: skip


def _keys() -> dict[str, str]:
    """Keys for this run only, never from the repository."""
    return {
        name: base64.b64encode(os.urandom(32)).decode()
        for name in ("master_key", "index_key", "signing_key")
    }


def _cpr(birth: date, serial: int) -> str:
    """A made-up number (1900s, 7th digit 0-3); its birth dates are real calendar days."""
    return f"{birth:%d%m%y}{(serial // 1000) % 4}{serial % 1000:03d}"


def _load(ctx: AppContext, size: int, rng: random.Random) -> tuple[int, int]:
    """One organisation with ``size`` sealed citizens; (its id, how many are Åbergs)."""
    vault = CitizenVault(ctx.crypto)
    now = ctx.clock.now()
    aabergs = 0
    used: set[str] = set()
    with session_scope(ctx.sessions) as session:
        org = identity.create_organisation(session, ctx.deps, Actor(), "Bench Region")
        for i in range(size):
            if rng.random() < 0.02:
                name, aabergs = f"{rng.choice(FIRST)} Åberg", aabergs + 1
            else:
                name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            birth = date(1930, 1, 1) + timedelta(days=rng.randrange(365 * 60))
            serial = i
            while _cpr(birth, serial) in used:
                serial += 1
            cpr = _cpr(birth, serial)
            used.add(cpr)
            pid = uuid.uuid4().hex
            key, wrapped = vault.new_key(pid)
            citizen = Citizen(
                public_id=pid,
                organisation_id=org.id,
                cpr_index=ctx.crypto.blind_index(org.id, cpr),
                cpr_sealed=vault.seal(key, pid, "cpr", cpr),
                name_sealed=vault.seal(key, pid, "name", name),
                municipality="Norddjurs",
                gp_clinic="Lægehuset Grenaa",
                substitute_cpr=False,
                created_at=now,
            )
            session.add(citizen)
            session.flush()
            session.add(
                CitizenKey(citizen_id=citizen.id, purpose="identity", wrapped_key=wrapped,
                           created_at=now)
            )  # fmt: skip
        return org.id, aabergs


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _measure(size: int, rounds: int, rng: random.Random, workdir: Path) -> dict[str, float]:
    keys = _keys()
    db = sqlite_database(f"sqlite:///{workdir / f'search_{size}.db'}")
    migrate(db, keys)
    settings = Settings(database_url=db.app_url, **keys)  # type: ignore[arg-type]
    ctx = AppContext.build(settings, SystemClock())
    try:
        org_id, aabergs = _load(ctx, size, rng)

        def search() -> None:
            with ctx.sessions() as session:
                rows = directory.directory(session, ctx.deps, org_id)
                found = directory.matching(rows, "aaberg")
                first = directory.page_of(directory.sorted_rows(found, directory.Sort.NAME), 1)
                if first.total != aabergs:
                    sys.exit(f"search found {first.total}, expected {aabergs}")

        def baseline() -> None:
            with ctx.sessions() as session:
                rows = citizen_repo.sealed_identities_of(session, org_id)
                if len(rows) != size:
                    sys.exit(f"baseline listed {len(rows)}, expected {size}")

        search()  # warm the caches and the connection once
        times: dict[str, list[float]] = {"search": [], "baseline": []}
        for r in range(rounds):
            order = (("search", search), ("baseline", baseline))
            for name, fn in order if r % 2 == 0 else reversed(order):
                times[name].append(_timed(fn))
        return {name: statistics.median(values) for name, values in times.items()}
    finally:
        ctx.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="700,10000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = random.Random(args.seed)
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_search_") as tmp:
        for size in sizes:
            results[size] = _measure(size, args.rounds, rng, Path(tmp))
    print("| citizens | name search (decrypt all) | baseline: query, no decryption | ratio |")
    print("|---:|---:|---:|---:|")
    for size, r in results.items():
        print(
            f"| {size:,} | {r['search'] * 1000:.1f} ms | {r['baseline'] * 1000:.1f} ms "
            f"| {r['search'] / r['baseline']:.1f}x |"
        )
    if len(sizes) >= 2:
        small, large = results[sizes[0]], results[sizes[-1]]
        grown = sizes[-1] / sizes[0]
        print(
            f"| {sizes[-1]:,} / {sizes[0]:,} | {large['search'] / small['search']:.1f}x "
            f"| {large['baseline'] / small['baseline']:.1f}x | (citizens {grown:.1f}x) |"
        )


if __name__ == "__main__":
    main()

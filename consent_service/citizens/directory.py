"""The navigator's citizen list: find citizens by part of a name or by CPR, sort, page.

How the search works
--------------------
Names and CPR numbers are sealed per citizen (AES-GCM under the citizen's own data key,
see ``vault.py``), so the database cannot compare them. A search loads the organisation's
live citizens with their wrapped keys (one query), unwraps each key and opens the name and
the CPR number in memory (``directory``), folds both the names and the term
(``fold``: case, accents and the Danish letters, so "aaberg" finds "Åberg", "ostergaard"
finds "Østergård", "muller" finds "Müller") and keeps the citizens whose folded name
contains the folded term. A full CPR number is looked up through the blind index instead
(``service.find_by_cpr``: the database finds it, nothing is decrypted); a date-of-birth
prefix (1-9 digits, e.g. ``010190``) is matched against the decrypted numbers in memory.
Nothing decrypted leaves the request: no cache, no log line.

Measured (``bench/bench_citizen_search.py``, SQLite file, 2 shared cores under load): about
35-50 ms for 700 citizens and 0.5-0.7 s for 10,000, growing linearly (10,000/700: 14-16x
for 14.3x the citizens); the decryption (a key unwrap and two AES-GCM opens per citizen)
makes it 3-4x the bare query. Fine for the pilot's 700; at 10,000 a search is slow enough to
notice, and every name of the organisation passes through the app's memory per search.

What a region-wide deployment would need
----------------------------------------
Decrypting every name per search grows with the organisation and puts every name of it
in the memory of the app process for each search. A region-wide service would either

- keep a keyed blind index of normalised name n-grams: for each citizen, HMAC (a
  per-organisation key held outside the database, like the CPR blind index's) of each
  trigram of the folded name, in a table (organisation, gram hash, citizen) with an
  index; a search hashes the term's trigrams, lets PostgreSQL intersect the candidates,
  then decrypts only those to confirm. It leaks how often a trigram occurs, so the key
  must stay outside the database and be rotated with a re-index; or
- run a search service inside the trust boundary (same controller, same host rules)
  holding a per-organisation in-memory index rebuilt from the sealed data at start and
  updated on each registration and correction, answering public ids only.

Either way the audit stays as here.

Audit
-----
A search is recorded as ``citizen.searched`` with its criterion kind (``name``,
``cpr_prefix``; ``cpr`` for the blind-index search), the folded term as a keyed hash
(``Crypto.search_criterion_hash``, never the term), and whether it found anyone; every
citizen a page then shows by name is recorded as ``citizen.listed``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.citizens import repository as repo
from consent_service.citizens.cpr import parse_cpr
from consent_service.citizens.vault import CitizenVault
from consent_service.crypto import open_sealed
from consent_service.services import ServiceDeps

PER_PAGE = 25
MAX_TERM = 100
_CPR_LIKE = re.compile(r"^[0-9]{1,6}(-?[0-9]{0,4})?$")
_FULL_CPR = re.compile(r"^[0-9]{6}-?[0-9]{4}$")
# Letters NFKD does not take apart; the Danish ones as a Dane would type them in ASCII.
_FOLDS = str.maketrans(
    {"æ": "ae", "ø": "o", "å": "aa", "ß": "ss", "ð": "d", "þ": "th", "ı": "i", "ł": "l", "đ": "d"}
)


class Criterion(StrEnum):
    NAME = "name"
    CPR = "cpr"
    CPR_PREFIX = "cpr_prefix"


class Sort(StrEnum):
    NAME = "navn"
    BIRTH_DATE = "foedselsdato"
    NEXT_TASK = "opgave"


def fold(text: str) -> str:
    """``text`` folded for matching: case, accents (é, ü), the Danish letters (æ → ae,
    ø → o, å → aa), and runs of spaces and hyphens as one space. "Østergård" and
    "ostergaard" fold alike; so do "Åberg" and "aaberg", "Müller" and "muller"."""
    lowered = text.casefold().translate(_FOLDS)
    stripped = "".join(
        c for c in unicodedata.normalize("NFKD", lowered) if not unicodedata.combining(c)
    )
    return " ".join(stripped.replace("-", " ").split())


def criterion_of(term: str) -> Criterion:
    """What a search term is: a full CPR number, the start of one (digits), or a name."""
    compact = "".join(term.split())
    if _FULL_CPR.fullmatch(compact):
        return Criterion.CPR
    if _CPR_LIKE.fullmatch(compact):
        return Criterion.CPR_PREFIX
    return Criterion.NAME


@dataclass(frozen=True)
class NextTask:
    """A citizen's next task as the worklist names it (asked through the composition
    root, ``handlers.next_tasks``: the scheduler sits above citizens)."""

    kind_name: str
    state_name: str
    due_on: date
    date_label: str = ""  # what the date is, if not the task's own date ("henvist")


@dataclass(frozen=True)
class Listed:
    """A citizen as the list shows them: name and birth date, decrypted."""

    citizen_id: int
    public_id: str
    name: str
    birth_date: date
    folded_name: str
    cpr_digits: str  # never shown: for matching a date-of-birth prefix only

    def __repr__(self) -> str:
        return f"Listed({self.public_id})"


def directory(session: Session, deps: ServiceDeps, organisation_id: int) -> list[Listed]:
    """The organisation's live citizens with names and birth dates, decrypted in memory
    (one query; one key unwrap and two opens per citizen). Not audited: the caller records
    what it shows."""
    unwrap = deps.crypto.data_key_unwrapper()
    out = []
    for row in repo.sealed_identities_of(session, organisation_id):
        pid = row.public_id
        key = unwrap(row.wrapped_key, CitizenVault.key_aad(pid))
        name = open_sealed(key, row.name_sealed, CitizenVault.field_aad(pid, "name")).decode()
        cpr = open_sealed(key, row.cpr_sealed, CitizenVault.field_aad(pid, "cpr")).decode()
        birth = parse_cpr(cpr, today=date.max).birth_date
        out.append(Listed(row.citizen_id, pid, name, birth, fold(name), cpr))
    return out


def matching(rows: Sequence[Listed], term: str) -> list[Listed]:
    """The rows the term finds: by date-of-birth prefix if it is digits, else by part of
    the name (folded, every word of the term in the name)."""
    if criterion_of(term) is Criterion.CPR_PREFIX:
        digits = "".join(c for c in term if c.isdigit())
        return [r for r in rows if r.cpr_digits.startswith(digits)]
    words = fold(term).split()
    return [r for r in rows if all(w in r.folded_name for w in words)]


def record_search(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    criterion: Criterion,
    term: str,
    found: int,
) -> None:
    """Audit a name or prefix search: its kind, the folded term as a keyed hash (never the
    term), whether it found anyone."""
    folded = fold(term) if criterion is Criterion.NAME else "".join(c for c in term if c.isdigit())
    deps.audit.record(
        session,
        actor,
        action="citizen.searched",
        outcome="success",
        resource_type="citizen",
        resource_id=None,
        details={
            "criterion": criterion.value,
            "criterion_hash": deps.crypto.search_criterion_hash(f"{criterion.value}:{folded}"),
            "found": found > 0,
        },
    )


def sorted_rows(
    rows: Sequence[Listed], sort: Sort, next_due: Mapping[int, date] | None = None
) -> list[Listed]:
    """The rows by name (Danish-folded), birth date (oldest first) or next task (soonest
    first; citizens with no task last); ties by name."""
    by_name: Callable[[Listed], tuple[str, str]] = lambda r: (r.folded_name, r.public_id)  # noqa: E731
    if sort is Sort.BIRTH_DATE:
        return sorted(rows, key=lambda r: (r.birth_date, *by_name(r)))
    if sort is Sort.NEXT_TASK:
        due = next_due or {}
        return sorted(rows, key=lambda r: (due.get(r.citizen_id, date.max), *by_name(r)))
    return sorted(rows, key=by_name)


@dataclass(frozen=True)
class Page:
    rows: list[Listed]
    number: int
    pages: int
    total: int


def page_of(rows: Sequence[Listed], number: int, per_page: int = PER_PAGE) -> Page:
    """Page ``number`` (from 1; clamped to the pages there are) of the rows."""
    pages = max(1, -(-len(rows) // per_page))
    number = max(1, min(number, pages))
    start = (number - 1) * per_page
    return Page(list(rows[start : start + per_page]), number, pages, len(rows))


def record_listed(
    session: Session, deps: ServiceDeps, actor: Actor, rows: Sequence[Listed]
) -> None:
    """Each citizen a page shows by name is a read (``citizen.listed``)."""
    for row in rows:
        deps.audit.record(
            session,
            actor,
            action="citizen.listed",
            outcome="success",
            resource_type="citizen",
            resource_id=row.public_id,
        )

"""The consent gate of an extract, as one set-based SQL statement, and the queries that
read through it (the execution's rows, the coverage plan).

For every citizen of the organisation referred into the cohort, it decides on the
execution day whether the purpose's consent covers them, and if not, why. Each given
consent of the kind gets its state on the day from its ``valid_until`` and whether a
withdrawal, journal-entry or invalidation event falls on or before the day; the best
consent per citizen (a covering one first, else the most recent, the later id on a tie)
is then picked with ``max()`` over one ordered integer key per consent (``_ranking_key``),
a plain aggregate grouped by citizen, so PostgreSQL can run the whole statement with
parallel workers (a window function cannot). No Python loop runs over citizens; the rules
are those of consents/rules.py (``consent_covers``), restated in SQL and checked against
them by the tests.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Select, and_, case, func, literal, or_, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import Subquery

from consent_service.citizens.models import Citizen, CitizenKey, Referral
from consent_service.consents.models import Consent, ConsentEvent
from consent_service.extracts.gate import COVERED
from consent_service.wellbeing.models import WellbeingResponse

BATCH = 5000

# The ranking key of a consent on the day, one BIGINT ordered as the gate prefers:
#   rank * 2**59 + day number of decided_on * 2**43 + consent id * 4 + lapse code
# rank: 2 covers, 1 given but lapsed (withdrawn, expired, not entered / no answers),
# 0 never counts (invalidated, or signed after the day). Within a rank the most recent
# decision wins, then the higher id; the lapse code (below) only tells which lapse it was
# and never decides (the id before it is unique). Room: days up to 2**16 from 1970
# (year 2149), ids up to 2**41.
_RANK, _DAY, _ID = 2**59, 2**43, 4
_ID_SPAN = 2**41
_LAPSES = ("withdrawn", "expired")  # codes 1 and 2; code 3 is the kind's own lapse


class _DayNumber(FunctionElement[int]):
    """Days from 1970-01-01 to a date column, as an integer on either database."""

    type = BigInteger()
    inherit_cache = True


@compiles(_DayNumber)
def _day_number_sqlite(element: _DayNumber, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"CAST(julianday({compiler.process(arg, **kw)}) - 2440587.5 AS INTEGER)"


@compiles(_DayNumber, "postgresql")
def _day_number_postgresql(element: _DayNumber, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"({compiler.process(arg, **kw)} - DATE '1970-01-01')"


def _big(n: int) -> ColumnElement[int]:
    return literal(n, BigInteger)


def _ranked_consents(organisation_id: int, kind: str, on: date) -> Subquery:
    """Per given consent of the kind: its citizen and its ranking key on ``on``. An event
    counts if it falls on or before the day; each of the three event types is its own
    outer join, so a consent with several events of a type appears on several rows,
    all with the same key (``max()`` above them does not mind)."""
    k = Consent

    def events(event_type: str) -> Any:
        return aliased(ConsentEvent, name=f"ev_{event_type}")

    withdrawn, invalidated = events("withdrawn"), events("invalidated")
    joins: Any = Consent.__table__
    for ev, event_type in ((withdrawn, "withdrawn"), (invalidated, "invalidated")):
        joins = joins.outerjoin(
            ev,
            and_(ev.consent_id == k.id, ev.event_type == event_type, ev.occurred_on <= on),
        )
    if kind == "journal":
        # Sundhedsloven § 44: entered in the patient journal on or before the day.
        journal = events("journal_entry_confirmed")
        joins = joins.outerjoin(
            journal,
            and_(journal.consent_id == k.id,
                 journal.event_type == "journal_entry_confirmed", journal.occurred_on <= on),
        )  # fmt: skip
        own_lapse: Any = journal.consent_id.is_(None)
    else:
        answer = aliased(WellbeingResponse, name="answer")
        joins = joins.outerjoin(answer, answer.consent_id == k.id)
        own_lapse = answer.consent_id.is_(None)
    rank_and_code = case(
        (or_(invalidated.consent_id.is_not(None), k.decided_on > on), _big(0)),
        (withdrawn.consent_id.is_not(None), _big(_RANK + 1)),
        (and_(k.valid_until.is_not(None), k.valid_until < on), _big(_RANK + 2)),
        (own_lapse, _big(_RANK + 3)),
        else_=_big(2 * _RANK),
    )
    key = (
        rank_and_code
        + _DayNumber(k.decided_on) * _big(_DAY)
        + func.cast(k.id, BigInteger) * _big(_ID)
    )
    return (
        select(k.citizen_id, key.label("key"))
        .select_from(joins)
        .where(k.organisation_id == organisation_id, k.kind == kind, k.decision == "given")
        .subquery("ranked")
    )


def _per_citizen(organisation_id: int, cohort: str, kind: str, on: date) -> Subquery:
    """One row per citizen of the cohort: the first referral day, whether adult at any
    referral, and the best consent's key (None without one). Grouped by the citizen's
    primary key, so the citizen's own columns may be read beside the aggregates."""
    ranked = _ranked_consents(organisation_id, kind, on)
    return (
        select(
            Citizen.id.label("citizen_id"),
            Citizen.public_id,
            Citizen.deleted_at,
            Citizen.cpr_sealed,
            func.min(Referral.referred_on).label("referred_on"),
            func.max(case((Referral.adult_at_referral, 1), else_=0)).label("adult"),
            func.max(ranked.c.key).label("best"),
        )
        .join(
            Referral,
            and_(
                Referral.citizen_id == Citizen.id,
                Referral.organisation_id == organisation_id,
                Referral.cohort == cohort,
            ),
        )
        .outerjoin(ranked, ranked.c.citizen_id == Citizen.id)
        .where(Citizen.organisation_id == organisation_id)
        .group_by(Citizen.id)
        .subquery("per_citizen")
    )


def gate(organisation_id: int, cohort: str, kind: str, on: date) -> Select[Any]:
    """One row per citizen of the cohort: citizen id, public id, referral date, the
    reason (``covered`` or why not) and the consent that decided it; for the execution
    also the sealed CPR and, for a covered citizen only, the wrapped identity key."""
    g = _per_citizen(organisation_id, cohort, kind, on)
    best = g.c.best
    identity = aliased(CitizenKey, name="identity_key")
    lapse = "not_entered_in_journal" if kind == "journal" else "no_answers"
    reason = case(
        # Deleted, or their key is gone: citizens/repository.py ``live_citizen``.
        (or_(g.c.deleted_at.is_not(None), identity.citizen_id.is_(None)), "deleted"),
        (g.c.adult == 0, "under_18"),
        (or_(best.is_(None), best < _big(_RANK)), "no_consent"),
        (best >= _big(2 * _RANK), COVERED),
        *[(best % _big(_ID) == code, name) for code, name in enumerate(_LAPSES, start=1)],
        else_=lapse,
    )
    best_id = (best // _big(_ID)) % _big(_ID_SPAN)
    return (
        select(
            g.c.citizen_id,
            g.c.public_id,
            g.c.referred_on,
            reason.label("reason"),
            Consent.id.label("consent_id"),
            Consent.template_version,
            Consent.text_sha256,
            Consent.valid_until,
            g.c.cpr_sealed,
            case((reason == COVERED, identity.wrapped_key)).label("wrapped_key"),
        )
        .select_from(g)
        .outerjoin(identity, and_(identity.citizen_id == g.c.citizen_id,
                                  identity.purpose == "identity"))
        .outerjoin(Consent, Consent.id == best_id)
    )  # fmt: skip


def counts(organisation_id: int, cohort: str, kind: str, on: date) -> Select[Any]:
    """Citizens per reason: the gate alone, as the manifest reports it."""
    g = gate(organisation_id, cohort, kind, on).subquery("gate")
    return select(g.c.reason, func.count()).group_by(g.c.reason)


def compile_expressions_only(session: Session) -> None:
    """On PostgreSQL, for the rest of the transaction: JIT-compile the gate's expressions
    but do not have LLVM inline and optimise them. At a million citizens the gate's plan
    costs more than PostgreSQL's default thresholds for both (500,000), and then every
    parallel process spends most of a second in LLVM for a statement that runs once
    (EXPLAIN ANALYZE at 1M: JIT 1.8-2.7 s of CPU in all, 0.16 s without; the query 10-25%
    faster). A plain count over the same rows stays under the thresholds."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text(
                "SELECT set_config('jit_inline_above_cost', '-1', true), "
                "set_config('jit_optimize_above_cost', '-1', true)"
            )
        )


def _partitions(session: Session, stmt: Any) -> Iterator[Sequence[Any]]:
    """Rows of a Core statement in batches of ``BATCH``, streamed (a server-side cursor on
    PostgreSQL) and without the ORM's work per row; typed loosely (the columns are known
    to the caller)."""
    compile_expressions_only(session)
    result = session.connection().execute(stmt.execution_options(yield_per=BATCH))
    yield from result.partitions()


def journal_rows(
    session: Session, organisation_id: int, cohort: str, on: date
) -> Iterator[Sequence[Any]]:
    """The journal gate's rows in batches, in no particular order (a sort of every
    citizen's sealed CPR would cost more than the rest of the statement; the file's
    lines need none): (public id, referral day, reason, consent id, template version,
    text hash, sealed CPR, wrapped identity key); the key only for a covered citizen."""
    g = gate(organisation_id, cohort, "journal", on).subquery("g")
    stmt = select(
        g.c.public_id, g.c.referred_on, g.c.reason, g.c.consent_id,
        g.c.template_version, g.c.text_sha256, g.c.cpr_sealed, g.c.wrapped_key,
    )  # fmt: skip
    return _partitions(session, stmt)


def wellbeing_rows(
    session: Session, organisation_id: int, cohort: str, kind: str, on: date
) -> Iterator[Sequence[Any]]:
    """The gate's rows for a questionnaire consent kind (``wellbeing``) in batches, one
    per answer of a covered citizen (one bare row for a citizen left out), in citizen and
    answer order: (citizen id, public id, reason, template version, text hash, consent
    public id, answer public id, occasion, sealed answers, wrapped wellbeing key)."""
    g = gate(organisation_id, cohort, kind, on).subquery("g")
    covered = g.c.reason == COVERED
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
    return _partitions(session, stmt)


def coverage_rows(
    session: Session, organisation_id: int, cohort: str, kind: str, planned_on: date, today: date
) -> list[Any]:
    """Per citizen of the cohort: (public id, reason on the planned day, reason today,
    valid until as read today), by expiry; typed loosely (the columns are known here)."""
    compile_expressions_only(session)
    then = gate(organisation_id, cohort, kind, planned_on).subquery("then_")
    now = gate(organisation_id, cohort, kind, today).subquery("now_")
    return list(
        session.execute(
            select(then.c.public_id, then.c.reason, now.c.reason, now.c.valid_until)
            .join(now, now.c.citizen_id == then.c.citizen_id)
            .order_by(now.c.valid_until, then.c.public_id)
        ).all()
    )


def reason_counts(
    session: Session, organisation_id: int, cohort: str, kind: str, on: date
) -> dict[str, int]:
    """Citizens of the cohort per gate reason on ``on`` (``covered`` among them): the
    approver's preview of a request, counted as the manifest counts (``counts``)."""
    compile_expressions_only(session)
    rows: list[Any] = list(session.execute(counts(organisation_id, cohort, kind, on)).all())
    return {str(reason): int(n) for reason, n in rows}

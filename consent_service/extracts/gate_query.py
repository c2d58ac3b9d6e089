"""The consent gate of an extract, as one set-based SQL statement, and the queries that
read through it (the execution's rows, the coverage plan).

For every citizen of the organisation referred into the cohort, it decides on the
execution day whether the purpose's consent covers them, and if not, why: the best consent
of the kind is picked per citizen with a window function (a covering one first, else the
most recent), and its state on the day is computed from the consent's ``valid_until`` and
the first withdrawal, journal-entry and invalidation events. No Python loop runs over
citizens; the rules are those of consents/rules.py (``consent_covers``), restated in SQL
and checked against them by the tests.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Subquery

from consent_service.citizens.models import Citizen, CitizenKey, Referral
from consent_service.citizens.repository import live_citizen
from consent_service.consents.models import Consent, ConsentEvent
from consent_service.extracts.gate import COVERED
from consent_service.wellbeing.models import WellbeingResponse

BATCH = 5000


# The events the gate reads; the others (data_obtained: one per consent and extract) are
# left out of the join rather than grouped with them.
_GATE_EVENTS = {
    "withdrawn_on": "withdrawn",
    "journal_on": "journal_entry_confirmed",
    "invalidated_on": "invalidated",
}


def _consent_facts(organisation_id: int, kind: str) -> Subquery:
    """Per given consent of the kind: its columns and the first day of each event the gate
    reads. Events are joined to the consents and grouped by consent (its primary key), so
    on PostgreSQL both are read in ``id`` order and merged, without a hash table."""
    ev = ConsentEvent
    first = [
        func.min(case((ev.event_type == event_type, ev.occurred_on))).label(name)
        for name, event_type in _GATE_EVENTS.items()
    ]
    joins = Consent.__table__.outerjoin(
        ev, and_(ev.consent_id == Consent.id, ev.event_type.in_(list(_GATE_EVENTS.values())))
    )
    return (
        select(
            Consent.id.label("consent_id"),
            Consent.citizen_id,
            Consent.decided_on,
            Consent.template_version,
            Consent.text_sha256,
            Consent.valid_until,
            *first,
        )
        .select_from(joins)
        .where(
            Consent.organisation_id == organisation_id,
            Consent.kind == kind,
            Consent.decision == "given",
        )
        .group_by(Consent.id)
        .subquery("facts")
    )


def _cohort(organisation_id: int, cohort: str) -> Subquery:
    return (
        select(
            Referral.citizen_id,
            func.min(Referral.referred_on).label("referred_on"),
            func.max(case((Referral.adult_at_referral, 1), else_=0)).label("adult"),
        )
        .where(Referral.organisation_id == organisation_id, Referral.cohort == cohort)
        .group_by(Referral.citizen_id)
        .subquery("ref")
    )


def _best_consent(organisation_id: int, kind: str, on: date) -> Subquery:
    c = _consent_facts(organisation_id, kind)
    whens: list[tuple[Any, str]] = [
        (c.c.invalidated_on <= on, "invalidated"),
        (c.c.decided_on > on, "not_yet_signed"),
        (c.c.withdrawn_on <= on, "withdrawn"),
        (and_(c.c.valid_until.is_not(None), c.c.valid_until < on), "expired"),
    ]
    joins: Any = c
    if kind == "journal":
        # Sundhedsloven § 44: entered in the patient journal on or before the day.
        whens.append((or_(c.c.journal_on.is_(None), c.c.journal_on > on), "not_entered_in_journal"))
    else:
        answers = (
            select(WellbeingResponse.consent_id, func.count().label("n"))
            .group_by(WellbeingResponse.consent_id)
            .subquery("answers")
        )
        joins = c.outerjoin(answers, answers.c.consent_id == c.c.consent_id)
        whens.append((answers.c.n.is_(None), "no_answers"))
    state = case(*whens, else_=literal(COVERED))
    preference = case(
        (state == COVERED, 0), (state.in_(("invalidated", "not_yet_signed")), 2), else_=1
    )
    ranked = (
        select(
            c.c.citizen_id,
            c.c.consent_id,
            c.c.template_version,
            c.c.text_sha256,
            c.c.valid_until,
            state.label("state"),
            func.row_number()
            .over(
                partition_by=c.c.citizen_id,
                order_by=(preference, c.c.decided_on.desc(), c.c.consent_id.desc()),
            )
            .label("rn"),
        )
        .select_from(joins)
        .subquery("ranked")
    )
    return select(ranked).where(ranked.c.rn == 1).subquery("best")


def gate(organisation_id: int, cohort: str, kind: str, on: date) -> Select[Any]:
    """One row per citizen of the cohort: citizen id, public id, referral date, the
    reason (``covered`` or why not) and the consent that decided it."""
    ref = _cohort(organisation_id, cohort)
    best = _best_consent(organisation_id, kind, on)
    reason = case(
        (~live_citizen(), "deleted"),  # deleted, or their key is gone
        (ref.c.adult == 0, "under_18"),
        (best.c.state.is_(None), "no_consent"),
        (best.c.state.in_(("invalidated", "not_yet_signed")), "no_consent"),
        else_=best.c.state,
    )
    return (
        select(
            Citizen.id.label("citizen_id"),
            Citizen.public_id,
            ref.c.referred_on,
            reason.label("reason"),
            best.c.consent_id,
            best.c.template_version,
            best.c.text_sha256,
            best.c.valid_until,
        )
        .join(ref, ref.c.citizen_id == Citizen.id)
        .outerjoin(best, best.c.citizen_id == Citizen.id)
        .where(Citizen.organisation_id == organisation_id)
    )


def counts(organisation_id: int, cohort: str, kind: str, on: date) -> Select[Any]:
    """Citizens per reason: the gate alone, as the manifest reports it."""
    g = gate(organisation_id, cohort, kind, on).subquery("gate")
    return select(g.c.reason, func.count()).group_by(g.c.reason)


def _partitions(session: Session, stmt: Any) -> Iterator[Sequence[Any]]:
    """Rows of a Core statement in batches of ``BATCH``, streamed (a server-side cursor on
    PostgreSQL) and without the ORM's work per row; typed loosely (the columns are known
    to the caller)."""
    result = session.connection().execute(stmt.execution_options(yield_per=BATCH))
    yield from result.partitions()


def journal_rows(
    session: Session, organisation_id: int, cohort: str, on: date
) -> Iterator[Sequence[Any]]:
    """The journal gate's rows in batches, in citizen order: (public id, referral day,
    reason, consent id, template version, text hash, sealed CPR, wrapped identity key);
    the key only for a covered citizen."""
    g = gate(organisation_id, cohort, "journal", on).subquery("g")
    covered = g.c.reason == COVERED
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
    rows: list[Any] = list(session.execute(counts(organisation_id, cohort, kind, on)).all())
    return {str(reason): int(n) for reason, n in rows}

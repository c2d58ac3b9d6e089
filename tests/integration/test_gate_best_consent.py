"""The extract gate picks, per citizen, the consent the legal rules would: each given
consent's state on the day from consents/rules.py (``consent_covers``), then a covering
consent first, else the most recent lapsed one (withdrawn, expired, not entered in the
journal), the later id on a tie of days; a consent invalidated or signed after the day
counts as none. Consents and events are written directly, to reach the edge cases
(ties, several covering consents, events after the day) the service's own steps would
not produce in one test."""

from __future__ import annotations

import itertools
from datetime import date, datetime

from sqlalchemy import select

from consent_service.citizens.models import Citizen
from consent_service.clock import FixedClock
from consent_service.consents import rules
from consent_service.consents.active import states_of
from consent_service.consents.catalogue import catalogue
from consent_service.consents.models import Consent, ConsentEvent
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.extracts import gate_query
from tests.scenario import Pilot

DAY = date(2027, 11, 5)  # the execution day
REFERRED = date(2026, 11, 2)
_ids = itertools.count(1)

# Per citizen: their journal consents as (decided_on, decision, [(event type, day)]),
# in the order they are recorded (ids ascending), and the reason the gate must give.
J, W, X = "journal_entry_confirmed", "withdrawn", "invalidated"  # X: invalidated
CASES: dict[str, tuple[list[tuple[date, str, list[tuple[str, date]]]], str, int | None]] = {
    # A covering consent beats a lapsed one decided the same day, whatever its id.
    "tie_covering_first": (
        [(date(2027, 3, 1), "given", [(J, date(2027, 3, 1))]), (date(2027, 3, 1), "given", [])],
        "covered", 0,
    ),
    # Two lapsed consents of the same day: the later id decides.
    "tie_lapsed": (
        [(date(2027, 3, 1), "given", [(J, date(2027, 3, 1)), (W, date(2027, 5, 1))]),
         (date(2027, 3, 1), "given", [])],
        "not_entered_in_journal", 1,
    ),
    "tie_lapsed_reversed": (
        [(date(2027, 3, 1), "given", []),
         (date(2027, 3, 1), "given", [(J, date(2027, 3, 1)), (W, date(2027, 5, 1))])],
        "withdrawn", 1,
    ),
    # Several covering consents: the most recent, although recorded first.
    "two_covering": (
        [(date(2027, 6, 1), "given", [(J, date(2027, 6, 2))]),
         (date(2027, 2, 1), "given", [(J, date(2027, 2, 1))])],
        "covered", 0,
    ),
    # An expired consent and a newer withdrawn one: the newer tells why.
    "expired_then_withdrawn": (
        [(date(2026, 6, 1), "given", [(J, date(2026, 6, 1))]),
         (date(2027, 2, 1), "given", [(J, date(2027, 2, 1)), (W, date(2027, 8, 1))])],
        "withdrawn", 1,
    ),
    # A newer consent that does not count (invalidated, signed after the day) loses to
    # an older lapsed one.
    "expired_then_invalidated": (
        [(date(2026, 5, 1), "given", [(J, date(2026, 5, 1))]),
         (date(2027, 3, 1), "given", [(J, date(2027, 3, 1)), (X, date(2027, 4, 1))])],
        "expired", 0,
    ),
    "withdrawn_then_signed_after_the_day": (
        [(date(2027, 1, 10), "given", [(J, date(2027, 1, 10)), (W, date(2027, 2, 1))]),
         (date(2027, 12, 1), "given", [(J, date(2027, 12, 1))])],
        "withdrawn", 0,
    ),
    "only_invalidated": (
        [(date(2027, 3, 1), "given", [(J, date(2027, 3, 1)), (X, date(2027, 3, 5))])],
        "no_consent", 0,
    ),
    "only_refused": ([(date(2027, 3, 1), "refused", [])], "no_consent", None),
    # Events count on or before the day, not after it; the first of a type decides.
    "journal_after_the_day": (
        [(date(2027, 3, 1), "given", [(J, date(2027, 12, 1))])], "not_entered_in_journal", 0,
    ),
    "journal_twice": (
        [(date(2027, 3, 1), "given", [(J, date(2027, 12, 1)), (J, date(2027, 3, 2))])],
        "covered", 0,
    ),
    "withdrawn_after_the_day": (
        [(date(2027, 3, 1), "given", [(J, date(2027, 3, 1)), (W, date(2027, 11, 6))])],
        "covered", 0,
    ),
    "withdrawn_on_the_day": (
        [(date(2027, 3, 1), "given", [(J, date(2027, 3, 1)), (W, DAY)])], "withdrawn", 0,
    ),
    "invalidated_after_the_day": (
        [(date(2027, 3, 1), "given", [(J, date(2027, 3, 1)), (X, date(2027, 11, 6))])],
        "covered", 0,
    ),
    # The last covered day is the day itself; a day earlier it has expired.
    "last_day_is_the_day": (
        [(date(2026, 11, 6), "given", [(J, date(2026, 11, 6))])], "covered", 0,
    ),
    "expired_the_day_before": (
        [(date(2026, 11, 5), "given", [(J, date(2026, 11, 5))])], "expired", 0,
    ),
}  # fmt: skip


def _reference(ctx: AppContext, citizen_id: int) -> tuple[str, int | None]:
    """The gate's answer for one citizen, from the legal rules in Python."""
    kind = catalogue().kinds["journal"]
    with ctx.sessions() as session:
        states = [s for s in states_of(session, citizen_id, "journal")
                  if s.consent.decision == "given"]  # fmt: skip
    if not states:
        return "no_consent", None

    def preference(reason: rules.CoverageReason) -> int:
        if reason is rules.CoverageReason.COVERED:
            return 0
        if reason in (rules.CoverageReason.INVALIDATED, rules.CoverageReason.NOT_YET_SIGNED):
            return 2
        return 1

    ranked = sorted(
        states,
        key=lambda s: (
            preference(rules.consent_covers(s.facts, kind, DAY).reason),
            -s.consent.decided_on.toordinal(),
            -s.consent.id,
        ),
    )
    best = ranked[0]
    reason = rules.consent_covers(best.facts, kind, DAY).reason
    if preference(reason) == 2:
        return "no_consent", best.consent.id
    return str(reason), best.consent.id


def test_the_gate_picks_the_consent_the_rules_would(ctx: AppContext, clock: FixedClock) -> None:
    pilot = Pilot.start(ctx, clock)
    pilot.at(REFERRED)
    template = catalogue().current_template("journal")
    kind = catalogue().kinds["journal"]
    pids: dict[str, str] = {}
    recorded: dict[str, list[int]] = {}
    for label in CASES:
        pids[label] = pilot.citizen()
        pilot.refer(pids[label], REFERRED)
    now = datetime(2027, 11, 5, 9, 0, tzinfo=clock.now().tzinfo)
    with session_scope(ctx.sessions) as session:
        for label, (consents, _, _) in CASES.items():
            citizen_id = session.scalar(select(Citizen.id).where(Citizen.public_id == pids[label]))
            assert citizen_id is not None
            recorded[label] = []
            for decided_on, decision, events in consents:
                consent = Consent(
                    public_id=f"gatecase{next(_ids):024d}", citizen_id=citizen_id,
                    organisation_id=pilot.organisation_id, kind="journal", decision=decision,
                    template_version=template.version, language="da",
                    text_sha256=template.sha256, decided_on=decided_on,
                    valid_until=rules.validity_end(kind, decided_on)
                    if decision == "given" else None,
                    recorded_at=now, recorded_by=pilot.actor.user_id or 0,
                )  # fmt: skip
                session.add(consent)
                session.flush()
                recorded[label].append(consent.id)
                for event_type, on in events:
                    session.add(ConsentEvent(
                        consent_id=consent.id, event_type=event_type, occurred_on=on,
                        recorded_at=now, recorded_by=pilot.actor.user_id or 0,
                    ))  # fmt: skip
            session.flush()

    with ctx.sessions() as session:
        rows = {
            row.public_id: row
            for row in session.execute(
                gate_query.gate(pilot.organisation_id, "hold-2", "journal", DAY)
            )
        }
        counts = {
            str(reason): int(n)
            for reason, n in session.execute(
                gate_query.counts(pilot.organisation_id, "hold-2", "journal", DAY)
            )
        }
    for label, (_, reason, index) in CASES.items():
        row = rows[pids[label]]
        expected_id = None if index is None else recorded[label][index]
        assert (row.reason, row.consent_id) == (reason, expected_id), label
        assert (row.reason, row.consent_id) == _reference(ctx, row.citizen_id), label
    wanted: dict[str, int] = {}
    for _, reason, _ in CASES.values():
        wanted[reason] = wanted.get(reason, 0) + 1
    assert counts == wanted

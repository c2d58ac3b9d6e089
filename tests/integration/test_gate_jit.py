"""The gate's statements run with expression-only JIT on PostgreSQL (no LLVM inlining or
optimisation, which cost the gate up to a second per process at a million citizens), for
the transaction that runs them only; SQLite has no JIT and the gate runs as before."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.extracts import coverage_query, gate_query
from tests.scenario import Pilot

DAY = date(2027, 11, 5)
SETTINGS = text(
    "SELECT current_setting('jit_inline_above_cost'), current_setting('jit_optimize_above_cost')"
)


def test_the_gate_runs_without_llvm_optimisation_in_its_transaction_only(
    ctx: AppContext, clock: FixedClock
) -> None:
    pilot = Pilot.start(ctx, clock)
    postgresql = ctx.engine.dialect.name == "postgresql"
    with ctx.sessions() as session:
        if postgresql:
            assert tuple(session.execute(SETTINGS).one()) != ("-1", "-1")
        counts = gate_query.reason_counts(session, pilot.organisation_id, "hold-2", "journal", DAY)
        assert counts == {}
        if postgresql:
            assert tuple(session.execute(SETTINGS).one()) == ("-1", "-1")
        session.rollback()
        if postgresql:  # the next transaction plans as configured
            assert tuple(session.execute(SETTINGS).one()) != ("-1", "-1")
        for _ in gate_query.journal_rows(session, pilot.organisation_id, "hold-2", DAY):
            pass
        if postgresql:
            assert tuple(session.execute(SETTINGS).one()) == ("-1", "-1")
        session.rollback()
        # the coverage page's counts run the same statement
        assert (
            coverage_query.gate_counts(session, pilot.organisation_id, "hold-2", "journal", DAY)
            == {}
        )
        if postgresql:
            assert tuple(session.execute(SETTINGS).one()) == ("-1", "-1")

"""What the service does about each fact a use case records (``unit_of_work``): one list
to read. ``AppContext.build`` installs ``handler_for`` on every session it makes, so the
request edge, the worker and the command line all hand their facts over the same way,
in the transaction that raised them.

It also answers the few questions a lower domain's page asks of a higher one without
importing it (``next_tasks``: the citizen list asks the worklist for each citizen's next
task)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from sqlalchemy.orm import Session

from consent_service.citizens.directory import NextTask
from consent_service.citizens.models import Citizen
from consent_service.jobs import worklist
from consent_service.jobs.planner import replan_citizen
from consent_service.services import ServiceDeps
from consent_service.unit_of_work import CitizenChanged, Fact, FactHandler


def replan_changed_citizens(session: Session, deps: ServiceDeps, facts: Sequence[Fact]) -> None:
    """A citizen's referrals, consents or answers changed: re-plan their jobs and close
    the worklist tasks whose reason is gone."""
    for fact in facts:
        if isinstance(fact, CitizenChanged):
            citizen = session.get(Citizen, fact.citizen_id)
            if citizen is not None:
                replan_citizen(session, deps, citizen)


HANDLERS: tuple[Callable[[Session, ServiceDeps, Sequence[Fact]], None], ...] = (
    replan_changed_citizens,
)


def handler_for(deps: Callable[[], ServiceDeps]) -> FactHandler:
    """The session handler: every fact to every handler, with the context's deps."""

    def handle(session: Session, facts: Sequence[Fact]) -> None:
        current = deps()
        for handler in HANDLERS:
            handler(session, current, facts)

    return handle


def next_tasks(session: Session, organisation_id: int, today: date) -> dict[int, NextTask]:
    """Each citizen's earliest open task on the worklist (by citizen id), as the worklist
    states it: its kind, whether it is due or overdue, and its date."""
    out: dict[int, NextTask] = {}
    for item in worklist.open_items(session, organisation_id, today):
        out.setdefault(item.citizen.id, NextTask(item.kind_da, item.state_da, item.task.due_on))
    return out

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

from consent_service.citizens import referral_query
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


# The worklist's words for what is not a task of its own (templates/worklist.html).
NEW_REFERRAL = "Ny henvisning"
CALL = "Ring op"
COMING_UP = "Kommer snart"
REFERRED = "henvist"

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
    """Each citizen's next thing to do (by citizen id), as the worklist states it: a new
    referral nobody has called yet, an open task (due or overdue), or a task coming up in
    the worklist's horizon; of several, the earliest."""
    found: dict[int, NextTask] = {}

    def offer(citizen_id: int, task: NextTask) -> None:
        if citizen_id not in found or task.due_on < found[citizen_id].due_on:
            found[citizen_id] = task

    for referral, citizen in referral_query.new_referrals_with_citizens(session, organisation_id):
        offer(citizen.id, NextTask(NEW_REFERRAL, CALL, referral.referred_on, REFERRED))
    open_now = worklist.open_items(session, organisation_id, today)
    for item in open_now:
        offer(item.citizen.id, NextTask(item.kind_da, item.state_da, item.task.due_on))
    for coming in worklist.upcoming_items(session, organisation_id, today, open_now):
        offer(coming.citizen.id, NextTask(coming.kind_da, COMING_UP, coming.due_on))
    return found

"""The navigator's worklist (open tasks, with names) and the data controller's counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.citizens import service as citizens
from consent_service.citizens.models import Citizen
from consent_service.jobs import repository
from consent_service.jobs.models import Task
from consent_service.services import ServiceDeps

KIND_DA = {
    "wellbeing_follow_up": "Opfølgende trivselsmåling",
    "journal_reconsent": "Nyt journalsamtykke",
}


@dataclass(frozen=True)
class WorkItem:
    task: Task
    citizen: Citizen
    state: str  # "due" | "overdue"

    @property
    def kind_da(self) -> str:
        return KIND_DA.get(self.task.kind, self.task.kind)

    @property
    def state_da(self) -> str:
        return {"due": "Skal gøres", "overdue": "Forfalden"}[self.state]


def state_on(task: Task, today: date) -> str:
    """A re-consent is overdue once the consent has expired; a follow-up once it is past
    its overdue date (8 months after baseline by default)."""
    if task.kind == "journal_reconsent":
        return "overdue" if today > task.due_on else "due"
    return "overdue" if today >= task.overdue_on else "due"


def open_items(session: Session, organisation_id: int, today: date) -> list[WorkItem]:
    """The organisation's open tasks of live citizens, earliest due first, with their state."""
    return [
        WorkItem(task, citizen, state_on(task, today))
        for task, citizen in repository.open_tasks_with_citizens(session, organisation_id)
    ]


@dataclass(frozen=True)
class Worklist:
    items: list[WorkItem]
    names: dict[str, str]  # citizen public id -> name


def view_worklist(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, today: date
) -> Worklist:
    """The navigator's worklist with each citizen's name decrypted; the view is audited,
    and so is each citizen it names (``citizen.listed``)."""
    items = open_items(session, organisation_id, today)
    names: dict[str, str] = {}
    for item in items:
        if item.citizen.public_id not in names:
            names[item.citizen.public_id] = citizens.decrypt(deps, item.citizen).name
    deps.audit.record(
        session,
        actor,
        action="worklist.viewed",
        outcome="success",
        details={"tasks": len(items)},
    )
    for public_id in names:
        deps.audit.record(
            session,
            actor,
            action="citizen.listed",
            outcome="success",
            resource_type="citizen",
            resource_id=public_id,
        )
    return Worklist(items, names)


@dataclass(frozen=True)
class CohortCount:
    cohort: str
    kind: str
    due: int
    overdue: int


def counts_per_cohort(session: Session, organisation_id: int, today: date) -> list[CohortCount]:
    """Open tasks per cohort and kind, as counts: no names, no ids."""
    seen: set[int] = set()
    tally: dict[tuple[str, str], list[int]] = {}
    for task, cohort in repository.open_tasks_with_cohorts(session, organisation_id):
        if task.id in seen:  # a citizen with two referrals: count the task once
            continue
        seen.add(task.id)
        cell = tally.setdefault((cohort or "", task.kind), [0, 0])
        cell[1 if state_on(task, today) == "overdue" else 0] += 1
    return [
        CohortCount(cohort, kind, due, overdue)
        for (cohort, kind), (due, overdue) in sorted(tally.items())
    ]

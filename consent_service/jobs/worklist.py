"""The navigator's worklist (open tasks, with names) and the data controller's counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.citizens.models import Citizen, Referral
from consent_service.citizens.repository import live_citizen
from consent_service.jobs.models import Task

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
    rows = session.execute(
        select(Task, Citizen)
        .join(Citizen, Citizen.id == Task.citizen_id)
        .where(
            Task.organisation_id == organisation_id,
            Task.closed_at.is_(None),
            live_citizen(),  # not deleted, key not gone
        )
        .order_by(Task.due_on, Task.id)
    ).all()
    return [WorkItem(task, citizen, state_on(task, today)) for task, citizen in rows]


@dataclass(frozen=True)
class CohortCount:
    cohort: str
    kind: str
    due: int
    overdue: int


def counts_per_cohort(session: Session, organisation_id: int, today: date) -> list[CohortCount]:
    """Open tasks per cohort and kind, as counts: no names, no ids."""
    rows = session.execute(
        select(Task, Referral.cohort)
        .join(Referral, Referral.citizen_id == Task.citizen_id)
        .where(Task.organisation_id == organisation_id, Task.closed_at.is_(None))
    ).all()
    seen: set[int] = set()
    tally: dict[tuple[str, str], list[int]] = {}
    for task, cohort in rows:
        if task.id in seen:  # a citizen with two referrals: count the task once
            continue
        seen.add(task.id)
        cell = tally.setdefault((cohort or "", task.kind), [0, 0])
        cell[1 if state_on(task, today) == "overdue" else 0] += 1
    return [
        CohortCount(cohort, kind, due, overdue)
        for (cohort, kind), (due, overdue) in sorted(tally.items())
    ]

"""The navigator's worklist and the data controller's counts.

The worklist has three parts: new referrals nobody has called yet (straight from the
referral table, so a referral a practice system sends appears at once, worker or not),
the tasks open now (opened by the worker when their time comes), and what comes up in the
next 30 days (jobs planned but not yet run, which the worker will turn into tasks)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.citizens import referrals
from consent_service.citizens import service as citizens
from consent_service.citizens.models import Citizen
from consent_service.consents import paper
from consent_service.jobs import planner, repository
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


UPCOMING_DAYS = 30


@dataclass(frozen=True)
class UpcomingItem:
    """A task the worker will open soon: its kind, citizen and the day it is due."""

    kind: str
    citizen: Citizen
    due_on: date

    @property
    def kind_da(self) -> str:
        return KIND_DA.get(self.kind, self.kind)


def upcoming_items(
    session: Session, organisation_id: int, today: date, open_now: list[WorkItem]
) -> list[UpcomingItem]:
    """Follow-ups and re-consents due within ``UPCOMING_DAYS`` (Copenhagen dates) whose
    task is not open yet, one per citizen and kind, earliest first."""
    horizon = today + timedelta(days=UPCOMING_DAYS)
    seen = {(item.citizen.id, item.task.kind) for item in open_now}
    found = []
    kinds = (planner.FOLLOW_UP, planner.RECONSENT)
    for job, citizen in repository.pending_jobs_with_citizens(
        session, organisation_id, kinds, horizon
    ):
        if (citizen.id, job.kind) in seen:
            continue
        seen.add((citizen.id, job.kind))
        found.append(UpcomingItem(job.kind, citizen, job.due_on))
    return found


@dataclass(frozen=True)
class Worklist:
    new_referrals: list[referrals.NewReferral]
    items: list[WorkItem]
    upcoming: list[UpcomingItem]
    names: dict[str, str]  # citizen public id -> name
    # Signed paper originals due for destruction (the pilot has ended, or the citizen was
    # erased) and not yet destroyed; an erased citizen has no name (found by form code).
    to_destroy: list[paper.Original]


def view_worklist(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, today: date
) -> Worklist:
    """The navigator's worklist with each citizen's name (and a new referral's phone)
    decrypted; the view is audited, and so is each citizen it names (``citizen.listed``)."""
    new = referrals.new_referrals(session, deps, organisation_id)
    items = open_items(session, organisation_id, today)
    upcoming = upcoming_items(session, organisation_id, today, items)
    names: dict[str, str] = {n.citizen.public_id: n.name for n in new}
    to_destroy = paper.awaiting_destruction(session, organisation_id, today)
    live_to_destroy = [o.citizen for o in to_destroy if o.citizen.deleted_at is None]
    for citizen in [i.citizen for i in items] + [u.citizen for u in upcoming] + live_to_destroy:
        if citizen.public_id not in names:
            names[citizen.public_id] = citizens.decrypt(deps, citizen).name
    deps.audit.record(
        session,
        actor,
        action="worklist.viewed",
        outcome="success",
        details={
            "tasks": len(items),
            "new_referrals": len(new),
            "upcoming": len(upcoming),
            "originals_to_destroy": len(to_destroy),
        },
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
    return Worklist(new, items, upcoming, names, to_destroy)


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

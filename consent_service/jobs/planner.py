"""What the schedule says should happen for a citizen, and keeping the jobs table in step.

``desired_jobs`` is a pure function of a citizen's facts, the day and the settings; it
names every job by a key (kind, citizen, consent, offset). ``replan_citizen`` makes the
pending jobs match it: new keys are added, moved dates are updated, keys no longer wanted
are dropped. It runs after every change to the citizen and before every worker pass, so a
change of the settings re-plans the jobs not yet run. Jobs already run are never re-run.

The schedule (DOMAIN.md; seed 002):
- wellbeing follow-up due ``follow_up_due_months`` after the baseline answer, overdue
  after ``follow_up_overdue_months``, while the wellbeing consent is in force;
- journal re-consent reminders ``reconsent_reminder_days`` before the consent expires,
  when the citizen's cohort still has a measurement needing data after the expiry (data up
  to 2 years after referral, and never after the pilot's end);
- deletion of wellbeing answers after the wellbeing consent is withdrawn (deadline from
  ``retention/schedule.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy.orm import Session

from consent_service.citizens.cohorts import default_cohorts
from consent_service.citizens.models import Citizen, Referral
from consent_service.citizens.repository import key_purposes_of, new_citizen, referrals_of
from consent_service.clock import LEGAL_TZ, add_months, legal_today
from consent_service.config import Settings
from consent_service.consents.active import ConsentState, in_force, states_of
from consent_service.consents.catalogue import catalogue
from consent_service.consents.rules import ConsentStatus, anniversary, status_on
from consent_service.jobs import repository
from consent_service.jobs.models import Job
from consent_service.retention.schedule import RetentionSchedule, default_schedule
from consent_service.services import ServiceDeps
from consent_service.wellbeing.models import WellbeingResponse
from consent_service.wellbeing.repository import responses_of

FOLLOW_UP = "wellbeing_follow_up"
RECONSENT = "journal_reconsent"
SHRED_WELLBEING = "wellbeing_shred"
KINDS = (FOLLOW_UP, RECONSENT, SHRED_WELLBEING)


@dataclass(frozen=True)
class CitizenFacts:
    citizen: Citizen
    referrals: list[Referral]
    journal: list[ConsentState]
    wellbeing: list[ConsentState]
    responses: list[WellbeingResponse]
    wellbeing_keys: frozenset[str]


@dataclass(frozen=True)
class JobSpec:
    key: str
    kind: str
    run_on: date
    due_on: date
    consent_id: int | None = None
    # For the worklist task a job opens: its key, when it is overdue, and why (Danish).
    task_key: str | None = None
    overdue_on: date | None = None
    reason: str = ""


def load_facts(session: Session, citizen: Citizen) -> CitizenFacts:
    """What the schedule reads of a citizen: referrals, consents, answers, key purposes;
    for a citizen this transaction created, what it noted instead (``new_citizen``)."""
    new = new_citizen(session, citizen.id)
    if new is not None:
        return CitizenFacts(
            citizen=citizen,
            referrals=sorted(new.referrals, key=lambda r: r.referred_on),
            journal=[],
            wellbeing=[],
            responses=[],
            wellbeing_keys=frozenset(new.key_purposes),
        )
    return CitizenFacts(
        citizen=citizen,
        referrals=list(referrals_of(session, citizen.id)),
        journal=states_of(session, citizen.id, "journal"),
        wellbeing=states_of(session, citizen.id, "wellbeing"),
        responses=list(responses_of(session, citizen.id)),
        wellbeing_keys=frozenset(key_purposes_of(session, citizen.id)),
    )


def measurement_needs_until(facts: CitizenFacts, schedule: RetentionSchedule) -> date | None:
    """The last day data must be obtainable for the citizen's cohort's measurements: the
    referral date plus the longest measurement offset, capped at the pilot's end; None for
    a citizen outside data collection (no referral, under 18, no cohort)."""
    if not facts.referrals:
        return None
    referral = facts.referrals[-1]
    if not referral.adult_at_referral or referral.cohort is None:
        return None
    cohort = default_cohorts().by_id(referral.cohort)
    last = anniversary(referral.referred_on, max(cohort.measurement_offsets_years))
    return min(last, schedule.pilot_end)


def latest_journal(states: list[ConsentState], today: date) -> ConsentState | None:
    """The journal consent that lasts longest among those given and in force or expired
    by ``today``: a withdrawn, invalidated or refused one asks for no re-consent (the
    citizen said no, or the record was wrong)."""
    live = [
        s
        for s in states
        if s.end is not None
        and status_on(s.facts, catalogue().kinds[s.consent.kind], today)
        in (ConsentStatus.GIVEN, ConsentStatus.EXPIRED)
    ]
    if not live:
        return None
    latest = max(live, key=lambda s: (s.end or date.min, s.consent.id))
    # A later withdrawal or invalidation of any journal consent stops the reminders.
    if any(
        s.facts.withdrawn_on is not None or s.facts.invalidated_on is not None
        for s in states
        if s.consent.id > latest.consent.id
    ):
        return None
    return latest


def _danish(day: date) -> str:
    return f"{day:%d-%m-%Y}"


def desired_jobs(
    facts: CitizenFacts, today: date, settings: Settings, schedule: RetentionSchedule
) -> list[JobSpec]:
    """Every job the schedule wants for the citizen on ``today``, each named by its key."""
    if facts.citizen.deleted_at is not None:
        return []
    pid = facts.citizen.public_id
    specs: list[JobSpec] = []

    # Wellbeing follow-up, while the wellbeing consent is in force and none is recorded.
    baseline = next((r for r in facts.responses if r.occasion == "baseline"), None)
    has_follow_up = any(r.occasion == "follow_up" for r in facts.responses)
    if baseline is not None and not has_follow_up and in_force(facts.wellbeing, today):
        due = add_months(baseline.answered_on, settings.follow_up_due_months)
        overdue = add_months(baseline.answered_on, settings.follow_up_overdue_months)
        specs.append(
            JobSpec(
                key=f"{FOLLOW_UP}:{pid}",
                kind=FOLLOW_UP,
                run_on=due,
                due_on=due,
                task_key=f"{FOLLOW_UP}:{pid}",
                overdue_on=overdue,
                reason=(
                    f"Opfølgende trivselsmåling: baseline {_danish(baseline.answered_on)}; "
                    f"skal besvares mellem {_danish(due)} og {_danish(overdue)}."
                ),
            )
        )

    # Journal re-consent, when the measurements need data after the consent has expired.
    needed_until = measurement_needs_until(facts, schedule)
    current = latest_journal(facts.journal, today)
    if needed_until is not None and current is not None and current.end is not None:
        expiry = current.end
        if expiry < needed_until and today <= needed_until:
            for days in settings.reconsent_reminder_days:
                specs.append(
                    JobSpec(
                        key=f"{RECONSENT}:{current.consent.public_id}:{days}",
                        kind=RECONSENT,
                        run_on=date.fromordinal(expiry.toordinal() - days),
                        due_on=expiry,
                        consent_id=current.consent.id,
                        task_key=f"{RECONSENT}:{current.consent.public_id}",
                        overdue_on=expiry,
                        reason=(
                            f"Nyt journalsamtykke: det nuværende udløber {_danish(expiry)}, "
                            f"men målingerne kræver data til og med {_danish(needed_until)}. "
                            f"Indhent nyt samtykke senest {_danish(expiry)}."
                        ),
                    )
                )

    # Wellbeing answers of a withdrawn wellbeing consent are shredded.
    category = schedule.categories["wellbeing_answers_withdrawn"]
    for state in facts.wellbeing:
        withdrawn = state.facts.withdrawn_on
        if withdrawn is None:
            continue
        has_data = f"wellbeing:{state.consent.public_id}" in facts.wellbeing_keys or any(
            r.consent_id == state.consent.id for r in facts.responses
        )
        if has_data:
            specs.append(
                JobSpec(
                    key=f"{SHRED_WELLBEING}:{state.consent.public_id}",
                    kind=SHRED_WELLBEING,
                    run_on=withdrawn,
                    due_on=category.keep.after(withdrawn),
                    consent_id=state.consent.id,
                )
            )
    return specs


def start_of(day: date) -> datetime:
    """Midnight of a Danish date, as a UTC instant."""
    return datetime.combine(day, time(0), tzinfo=LEGAL_TZ).astimezone(UTC)


def replan_citizen(session: Session, deps: ServiceDeps, citizen: Citizen) -> None:
    """Make the citizen's pending jobs match the schedule, and close worklist tasks whose
    reason is gone (follow-up answered, re-consent given, consent withdrawn, citizen
    deleted)."""
    today = legal_today(deps.clock)
    schedule = default_schedule()
    # A citizen created in this transaction has no jobs or tasks yet: nothing to read.
    new = new_citizen(session, citizen.id) is not None
    specs = (
        desired_jobs(load_facts(session, citizen), today, deps.settings, schedule)
        if citizen.deleted_at is None
        else []
    )
    wanted = {s.key: s for s in specs}
    now = deps.clock.now()
    # Every key that exists, whatever its state, so none is planned twice ...
    known = set() if new else repository.job_keys_of(session, citizen.id)
    # ... but only the pending jobs no one else holds are changed: a job a worker is running
    # (row locked) is left to that worker, which re-plans when it is done. Skipping, not
    # waiting, keeps a re-plan from deadlocking with a worker over the audit chain's lock.
    for job in [] if new else repository.pending_jobs_of(session, citizen.id):
        spec = wanted.get(job.key)
        if spec is None:
            job.status, job.outcome, job.finished_at = "dropped", "replanned: not needed", now
        elif job.due_on != spec.due_on or job.run_after != start_of(spec.run_on):
            job.due_on, job.run_after = spec.due_on, start_of(spec.run_on)
    for key, spec in wanted.items():
        if key not in known:
            session.add(
                Job(
                    key=key,
                    kind=spec.kind,
                    organisation_id=citizen.organisation_id,
                    citizen_id=citizen.id,
                    consent_id=spec.consent_id,
                    due_on=spec.due_on,
                    run_after=start_of(spec.run_on),
                    status="pending",
                    attempts=0,
                    created_at=now,
                )
            )
    task_keys = {s.task_key for s in specs if s.task_key}
    for task in [] if new else repository.open_tasks_of(session, citizen.id):
        if task.key not in task_keys:
            task.closed_at, task.closed_reason = now, "resolved"
    session.flush()


def replan_all(session: Session, deps: ServiceDeps) -> int:
    """Re-plan every citizen not deleted; returns how many."""
    citizens = repository.live_citizens(session)
    for citizen in citizens:
        replan_citizen(session, deps, citizen)
    return len(citizens)

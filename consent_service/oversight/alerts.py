"""Alerts from the rules in ``audit/alerts.yaml``: evaluate them over the audit log, keep
each finding once, let the DPO acknowledge it with a comment, optionally mail it.

Evaluation reads only the rule's actions in a bounded, indexed window (``action``,
``occurred_at``) and groups in Python; a finding that overlaps one already raised for the
same rule and subject is not raised again, so evaluating twice never duplicates.

Organisations are separate data controllers. An alert belongs to the one organisation
whose events it counts (besides system events, such as attempts on accounts that do not
exist); a DPO sees and acknowledges their own organisation's alerts. An alert over no
organisation's events, or over several organisations' (an address trying accounts of
more than one), belongs to none: only a reviewer the policy grants
``audit:system_review`` sees and acknowledges it.
"""

from __future__ import annotations

import json
import smtplib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from consent_service.audit import repository as audit_repo
from consent_service.audit.models import AuditAlert, AuditEvent
from consent_service.audit.recorder import Actor, AuditRecorder
from consent_service.clock import Clock, local_time
from consent_service.config import Settings
from consent_service.errors import RuleRefusal
from consent_service.identity import repository as identity_repo
from consent_service.oversight import repository as repo
from consent_service.oversight.alert_rules import (
    SUBJECT_KINDS_DA,
    AlertRules,
    Rule,
    WorkingHours,
)
from consent_service.oversight.alert_rules import default_alert_rules as default_alert_rules

DEFAULT_LOOKBACK = timedelta(hours=24)
RECENT = 50


@dataclass(frozen=True)
class Expected:
    """Whom a silence rule expects to hear from, and how long each may be silent."""

    subjects: tuple[str, ...]
    window: timedelta


def expected_from(settings: Settings) -> dict[str, Expected]:
    """The silence rules' subjects from the settings: ``witnesses`` are the configured
    witnesses, silent too long after ``CONSENT_WITNESS_STALE_HOURS``."""
    return {
        "witnesses": Expected(
            tuple(w.name for w in settings.witnesses),
            timedelta(hours=settings.witness_stale_hours),
        )
    }


@dataclass(frozen=True)
class _Event:
    seq: int
    at: datetime
    action: str
    subject: str
    organisation_id: int | None
    resource_id: str | None


def _subject(rule: Rule, event: AuditEvent) -> str | None:
    if rule.key == "account":
        return event.actor_username
    if rule.key == "address":
        return event.source_ip
    if rule.key.startswith("resource:"):
        return event.resource_id if event.resource_type == rule.subject_kind else None
    name = rule.key.removeprefix("detail:")
    value = json.loads(event.details or "{}").get(name)
    return None if value is None else str(value)


def _events(session: Session, rule: Rule, since: datetime, until: datetime) -> list[_Event]:
    exact = [a for a in rule.actions if not a.endswith(".")]
    prefixes = [a for a in rule.actions if a.endswith(".")]
    out = []
    for event in audit_repo.events_of_actions(session, exact, prefixes, since, until):
        subject = _subject(rule, event)
        if subject:
            out.append(
                _Event(
                    event.seq,
                    event.occurred_at,
                    event.action,
                    subject[:64],
                    event.organisation_id,
                    event.resource_id,
                )
            )
    return out


@dataclass(frozen=True)
class Finding:
    rule: str
    subject_kind: str
    subject: str
    events: tuple[_Event, ...]
    until: datetime | None = None  # a silence: still silent now


def _windowed(name: str, rule: Rule, events: Sequence[_Event]) -> Iterable[Finding]:
    """Per subject, the first window of ``window_minutes`` reaching the threshold; then the
    next one starting after it."""
    assert rule.window_minutes is not None  # noqa: S101 - guaranteed by the model
    window = timedelta(minutes=rule.window_minutes)
    by_subject: dict[str, list[_Event]] = defaultdict(list)
    for event in events:
        by_subject[event.subject].append(event)
    for subject, items in by_subject.items():
        i = 0
        while i < len(items):
            inside = [e for e in items[i:] if e.at < items[i].at + window]
            measure = (
                len({e.resource_id for e in inside if e.resource_id})
                if rule.shape == "distinct"
                else len(inside)
            )
            if measure >= rule.threshold:
                yield Finding(name, rule.subject_kind, subject, tuple(inside))
                i += len(inside)
            else:
                i += 1


def _off_hours(
    name: str, rule: Rule, hours: WorkingHours, events: Sequence[_Event]
) -> Iterable[Finding]:
    zone = ZoneInfo(hours.timezone)
    groups: dict[tuple[str, object], list[_Event]] = defaultdict(list)
    for event in events:
        if not hours.covers(event.at):
            groups[(event.subject, event.at.astimezone(zone).date())].append(event)
    for (subject, _day), items in groups.items():
        if len(items) >= rule.threshold:
            yield Finding(name, rule.subject_kind, subject, tuple(items))


def _as_event(event: AuditEvent) -> _Event:
    return _Event(
        event.seq, event.occurred_at, event.action, event.resource_id or "",
        event.organisation_id, event.resource_id,
    )  # fmt: skip


def _silences(
    session: Session, name: str, rule: Rule, expected: Expected, now: datetime
) -> Iterable[Finding]:
    """Per expected subject: silent if no event of ``actions`` about it within the window.
    Silent since its last such event or, never heard, since the first event about it
    (a subject nothing was ever recorded about, such as a witness not yet tried, is not
    silent). One alert per silence: the event it is silent since identifies it."""
    kind = rule.subject_kind
    for subject in expected.subjects:
        about = subject[:64]
        since = audit_repo.newest_event_about(
            session, kind, about, rule.actions
        ) or audit_repo.first_event_about(session, kind, about)
        if since is None or now - since.occurred_at < expected.window:
            continue
        yield Finding(name, kind, subject[:64], (_as_event(since),), until=now)


def _already_raised(session: Session, finding: Finding) -> bool:
    first, last = finding.events[0], finding.events[-1]
    return repo.alert_overlapping(
        session, finding.rule, finding.subject_kind, finding.subject, first.seq, last.seq
    )


def _organisation_of(finding: Finding) -> int | None:
    """The one organisation whose events the finding counts; None for none or several, so
    no organisation's DPO is shown another's activity."""
    organisations = {e.organisation_id for e in finding.events if e.organisation_id is not None}
    return organisations.pop() if len(organisations) == 1 else None


def evaluate_alerts(
    session: Session,
    clock: Clock,
    audit: AuditRecorder,
    actor: Actor,
    since: datetime | None = None,
    rules: AlertRules | None = None,
    expected: Mapping[str, Expected] | None = None,
) -> list[AuditAlert]:
    """Raise the alerts the rules find among events since ``since`` (default: the last
    24 hours plus the longest window); returns the new ones. A silence rule needs its
    subjects in ``expected`` (``expected_from(settings)``); without them it finds nothing."""
    rules = rules or default_alert_rules()
    now = clock.now()
    raised: list[AuditAlert] = []
    for name, rule in rules.rules.items():
        findings: Iterable[Finding]
        if rule.shape == "silence":
            wanted = (expected or {}).get(rule.expects or "")
            findings = _silences(session, name, rule, wanted, now) if wanted else ()
        else:
            window = timedelta(minutes=rule.window_minutes or 0)
            start = since if since is not None else now - DEFAULT_LOOKBACK - window
            events = _events(session, rule, start, now)
            findings = (
                _off_hours(name, rule, rules.working_hours, events)
                if rule.shape == "off_hours"
                else _windowed(name, rule, events)
            )
        for finding in findings:
            if _already_raised(session, finding):
                continue
            first, last = finding.events[0], finding.events[-1]
            alert = AuditAlert(
                rule=name,
                subject_kind=finding.subject_kind,
                subject=finding.subject,
                organisation_id=_organisation_of(finding),
                window_start=first.at,
                window_end=finding.until or last.at,
                event_count=0 if finding.until else len(finding.events),
                first_seq=first.seq,
                last_seq=last.seq,
                raised_at=now,
            )
            session.add(alert)
            session.flush()
            audit.record(
                session,
                actor,
                action="alert.raised",
                outcome="success",
                details={
                    "alert": alert.id,
                    "rule": name,
                    "subject_kind": finding.subject_kind,
                    "count": len(finding.events),
                },
                organisation_id=alert.organisation_id,
            )
            raised.append(alert)
    return raised


def open_alerts(
    session: Session, organisation_id: int, *, system_wide: bool = False
) -> list[AuditAlert]:
    """The organisation's unacknowledged alerts, newest first; with ``system_wide`` (a
    reviewer holding ``audit:system_review``) also those of no organisation."""
    return repo.open_alerts(session, organisation_id, system_wide)


def recent_alerts(
    session: Session, organisation_id: int, *, system_wide: bool = False
) -> list[AuditAlert]:
    """The organisation's last acknowledged alerts (and, ``system_wide``, those of no
    organisation), newest first."""
    return repo.acknowledged_alerts(session, organisation_id, system_wide, RECENT)


def alert_by_id(session: Session, alert_id: int) -> AuditAlert | None:
    """Any organisation's alert: the caller checks that the reviewer may see it."""
    return repo.alert_by_id(session, alert_id)


def alert_for_reviewer(session: Session, organisation_id: int, alert_id: int) -> AuditAlert | None:
    """The scoped loader of alerts: the alert if it is ``organisation_id``'s or of no
    organisation (the caller then also requires ``audit:system_review``); None for another
    organisation's id exactly as for an unknown one."""
    return repo.alert_for_reviewer(session, organisation_id, alert_id)


def operating_organisation_id(session: Session, settings: Settings) -> int | None:
    """The organisation that runs the service (``CONSENT_BOOTSTRAP_ORGANISATION``, the first
    administrator's): events and alerts of no organisation are its to review."""
    org = identity_repo.organisation_by_name(session, settings.bootstrap_organisation)
    return org.id if org else None


def acknowledge(
    session: Session,
    clock: Clock,
    audit: AuditRecorder,
    actor: Actor,
    alert_id: int,
    comment: str,
) -> AuditAlert:
    """Mark the alert seen, with the reviewer's comment; once. The caller has checked that
    the reviewer may see it (their organisation's, or none with system-wide review)."""
    alert = repo.alert_by_id(session, alert_id)
    if alert is None:
        raise RuleRefusal("Alarmen findes ikke.")
    if alert.acknowledged_at is not None:
        raise RuleRefusal("Alarmen er allerede kvitteret.")
    alert.acknowledged_at = clock.now()
    alert.acknowledged_by = actor.user_id
    alert.comment = comment
    session.flush()
    audit.record(
        session,
        actor,
        action="alert.acknowledged",
        outcome="success",
        details={"alert": alert.id, "rule": alert.rule},
        organisation_id=alert.organisation_id,
    )
    return alert


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    recipient: str


def smtp_settings_from(settings: Settings) -> SmtpSettings | None:
    """Where alert mails go, or None without SMTP settings or a recipient."""
    if not settings.smtp_host or not settings.alert_email_to:
        return None
    return SmtpSettings(
        settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.alert_email_to
    )


def _message(alert: AuditAlert, rules: AlertRules, smtp: SmtpSettings) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"Alarm i samtykkeservicen: {rules.title_da(alert.rule)}"
    message["From"] = smtp.sender
    message["To"] = smtp.recipient
    who = SUBJECT_KINDS_DA.get(alert.subject_kind, alert.subject_kind)
    message.set_content(
        f"{rules.title_da(alert.rule)} ({alert.rule}).\n"
        f"{who}: {alert.subject}\n"
        f"Antal hændelser: {alert.event_count} (hændelse {alert.first_seq}-{alert.last_seq})\n"
        f"Fra {local_time(alert.window_start)} til {local_time(alert.window_end)}.\n\n"
        "Se og kvittér alarmen på siden Alarmer i samtykkeservicen.\n"
    )
    return message


def notify(
    session: Session,
    smtp: SmtpSettings | None,
    clock: Clock,
    audit: AuditRecorder,
    actor: Actor,
    rules: AlertRules | None = None,
) -> int:
    """Mail every open alert not yet mailed; returns how many went. Does nothing without
    SMTP settings. The mail names the rule and the account or address, never a citizen."""
    if smtp is None:
        return 0
    rules = rules or default_alert_rules()
    pending = repo.alerts_to_notify(session)
    if not pending:
        return 0
    with smtplib.SMTP(smtp.host, smtp.port, timeout=30) as client:
        for alert in pending:
            client.send_message(_message(alert, rules, smtp))
            alert.notified_at = clock.now()
            session.flush()
            audit.record(
                session,
                actor,
                action="alert.notified",
                outcome="success",
                details={"alert": alert.id, "rule": alert.rule},
                organisation_id=alert.organisation_id,
            )
    return len(pending)

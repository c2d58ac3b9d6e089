"""The DPO's alert pages: the open and recent alerts of their organisation (and, with
``audit:system_review``, of none), and acknowledging one with a comment. HTTP only: the
alerts are ``oversight.alerts``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.audit.models import AuditAlert
from consent_service.clock import local_date
from consent_service.identity.models import User
from consent_service.identity.users import users_of
from consent_service.oversight import alerts
from consent_service.oversight.alert_rules import SUBJECT_KINDS_DA, default_alert_rules
from consent_service.web import notices
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.gate import GatedRoute
from consent_service.web.scope import ensure_system_review, system_review
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)


@router.get("/dpo/alarmer", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("audit:alerts")],
) -> Response:
    system_wide = system_review(session, ctx.settings, me)
    open_alerts = alerts.open_alerts(session, me.organisation_id, system_wide=system_wide)
    recent = alerts.recent_alerts(session, me.organisation_id, system_wide=system_wide)
    accounts = {u.username: u for u in users_of(session, me.organisation_id)}
    return page(
        request,
        "dpo_alerts.html",
        me=me,
        open_alerts=open_alerts,
        recent=recent,
        subjects={a.id: _subject_da(a, accounts) for a in [*open_alerts, *recent]},
        log_links={a.id: _log_link(a, accounts) for a in [*open_alerts, *recent]},
        rules=default_alert_rules(),
        stale_hours=ctx.settings.witness_stale_hours,
    )


def _subject_da(alert: AuditAlert, accounts: Mapping[str, User]) -> str:
    """What the alert is about, in Danish: a user by name, not by user name alone."""
    kind = SUBJECT_KINDS_DA.get(alert.subject_kind, alert.subject_kind)
    if alert.subject_kind == "account":
        user = accounts.get(alert.subject)
        if user is not None:
            return f"{kind} {user.display_name} ({user.username})"
        if alert.subject.startswith("?"):
            return f"{kind} med ukendt brugernavn"
    return f"{kind} {alert.subject}"


def _log_link(alert: AuditAlert, accounts: Mapping[str, User]) -> str:
    """The log rows the alert counted: its events by number and days, narrowed to its
    action, account (by id, never by name), address or citizen (by pseudonymous id)."""
    query = {
        "fra": local_date(alert.window_start),
        "til": local_date(alert.window_end),
        "fra_nr": str(alert.first_seq),
        "til_nr": str(alert.last_seq),
    }
    rule = default_alert_rules().rules.get(alert.rule)
    if rule is not None and len(rule.actions) == 1 and not rule.actions[0].endswith("."):
        query["handling"] = rule.actions[0]
    user = accounts.get(alert.subject) if alert.subject_kind == "account" else None
    if user is not None:
        query["konto"] = str(user.id)
    elif alert.subject_kind == "address":
        query["adresse"] = alert.subject
    elif alert.subject_kind == "citizen":
        query["borger"] = alert.subject
    return "/dpo/log?" + urlencode(query)


@router.post("/dpo/alarmer/{alert_id}/kvitter", response_class=HTMLResponse)
def acknowledge_alert(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("audit:alerts")],
    alert_id: int,
    comment: Annotated[str, Form(min_length=3, max_length=1000)],
) -> Response:
    """Another organisation's alert, an unknown id, and an alert of no organisation without
    system-wide review are all the same audited refusal: the answer tells nothing."""
    alert = alerts.alert_for_reviewer(session, me.organisation_id, alert_id)
    if alert is None:
        raise me.out_of_scope()
    if alert.organisation_id is None:
        ensure_system_review(session, ctx.settings, me)
    alerts.acknowledge(session, ctx.clock, ctx.audit, me.actor, alert.id, comment.strip())
    return notices.redirect("/dpo/alarmer", "alert-acknowledged")

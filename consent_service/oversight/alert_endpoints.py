"""The DPO's alert pages: the open and recent alerts of their organisation (and, with
``audit:system_review``, of none), and acknowledging one with a comment. HTTP only: the
alerts are ``oversight.alerts``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from consent_service.oversight import alerts
from consent_service.oversight.alert_rules import SUBJECT_KINDS_DA, default_alert_rules
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
    return page(
        request,
        "dpo_alerts.html",
        me=me,
        open_alerts=alerts.open_alerts(session, me.organisation_id, system_wide=system_wide),
        recent=alerts.recent_alerts(session, me.organisation_id, system_wide=system_wide),
        rules=default_alert_rules(),
        subject_kinds=SUBJECT_KINDS_DA,
        stale_hours=ctx.settings.witness_stale_hours,
    )


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
    return RedirectResponse("/dpo/alarmer", status_code=303)

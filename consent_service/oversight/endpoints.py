"""The DPO's log pages (Danish): the overview, the audit log with filters, rejected access
attempts, signed checkpoints, verification and export. Alerts are in ``alert_endpoints``,
a citizen's access report in ``report_endpoints``.

A CPR number never travels in a URL: look-ups are POSTed, and the log is then filtered by
the citizen's pseudonymous id.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from consent_service.audit import witnessing
from consent_service.audit.catalogue import default_event_catalogue
from consent_service.audit.checkpoints import key_id, recent_checkpoints, sign_head
from consent_service.clock import LEGAL_TZ, legal_today
from consent_service.errors import InvalidInput
from consent_service.identity.models import User
from consent_service.identity.users import users_of
from consent_service.oversight import alerts, dpo
from consent_service.oversight.export import export_range
from consent_service.oversight.schemas import AuditFilter
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.gate import GatedRoute
from consent_service.web.scope import system_review
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)

OUTCOMES = ("success", "failure", "allow", "deny")
MAX_EXPORT_DAYS = 366
EXPORT_CHUNK = 64 * 1024


def _day_start(day: date) -> datetime:
    """Midnight in Denmark, as a UTC instant: the DPO thinks in Danish dates."""
    return datetime.combine(day, time(0), tzinfo=LEGAL_TZ).astimezone(UTC)


def _period(
    first: date | None, last: date | None, today: date, default_days: int
) -> tuple[date, date]:
    last = last or today
    first = first or last - timedelta(days=default_days - 1)
    if first > last:
        raise InvalidInput("Fra-datoen skal ligge før til-datoen.", field="fra")
    return first, last


def _user_in_org(session: DbSession, organisation_id: int, username: str) -> User:
    user = dpo.staff_member_named(session, organisation_id, username)
    if user is None:
        raise InvalidInput(
            "Der er ingen bruger med det brugernavn i din organisation.", field="bruger"
        )
    return user


@router.get("/dpo", response_class=HTMLResponse)
def overview(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("audit:read")],
) -> Response:
    open_alerts = alerts.open_alerts(
        session, me.organisation_id, system_wide=system_review(session, ctx.settings, me)
    )
    return page(
        request,
        "dpo.html",
        me=me,
        public_key_pem=ctx.crypto.public_key_pem(),
        key_id=key_id(ctx.crypto.public_key),
        checkpoints=recent_checkpoints(session),
        open_alerts=len(open_alerts),
        today=legal_today(ctx.clock),
        week_ago=legal_today(ctx.clock) - timedelta(days=6),
        witnesses=witnessing.witness_status(session, ctx.deps),
        mailbox=witnessing.mailbox_status(session, ctx.deps),
        stale_hours=ctx.settings.witness_stale_hours,
    )


@router.get("/dpo/log", response_class=HTMLResponse)
def log_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("audit:read")],
    fra: date | None = None,
    til: date | None = None,
    bruger: str | None = None,
    handling: str | None = None,
    udfald: str | None = None,
    anmodning: str | None = None,
    borger: str | None = None,
    foer: int | None = None,
) -> Response:
    catalogue = default_event_catalogue()
    values = {
        "fra": fra, "til": til, "bruger": bruger or "", "handling": handling or "",
        "udfald": udfald or "", "anmodning": anmodning or "", "borger": borger or "",
    }  # fmt: skip
    try:
        first, last = _period(fra, til, legal_today(ctx.clock), 7)
        if handling and handling not in catalogue.actions:
            raise InvalidInput("Ukendt handling.", field="handling")
        if udfald and udfald not in OUTCOMES:
            raise InvalidInput("Ukendt udfald.", field="udfald")
        actor = _user_in_org(session, me.organisation_id, bruger) if bruger else None
    except InvalidInput as exc:
        return page(
            request, "dpo_log.html", status_code=400, me=me, error=exc.message, values=values,
            events=[], next_before=None, actions=sorted(catalogue.actions), outcomes=OUTCOMES,
        )  # fmt: skip
    values["fra"], values["til"] = first, last
    audit_filter = AuditFilter(
        occurred_from=_day_start(first),
        occurred_to=_day_start(last + timedelta(days=1)),
        actor_user_id=actor.id if actor else None,
        concerning_organisation=me.organisation_id,
        action=handling or None,
        outcome=udfald or None,
        resource_type="citizen" if borger else None,
        resource_id=borger or None,
        request_id=anmodning or None,
    )
    result = dpo.view_log(
        session, ctx.deps, me.actor, audit_filter, before_seq=foer,
        criteria={
            "from": first.isoformat(), "to": last.isoformat(), "user": actor.id if actor else None,
            "action": handling or None, "outcome": udfald or None,
            "citizen": borger or None, "request_id": anmodning or None, "before_seq": foer,
        },
    )  # fmt: skip
    query = {k: v for k, v in values.items() if v}
    return page(
        request, "dpo_log.html", me=me, values=values, events=result.events,
        next_before=result.next_before_seq, query=query,
        actions=sorted(catalogue.actions), outcomes=OUTCOMES,
        people=_people(session, me.organisation_id),
    )  # fmt: skip


def _people(session: DbSession, organisation_id: int) -> dict[str, str]:
    """The organisation's users by id (an event about a user names them, not their id)."""
    return {
        str(u.id): f"{u.display_name} ({u.username})" for u in users_of(session, organisation_id)
    }


@router.post("/dpo/log/borger", response_class=HTMLResponse)
def log_for_citizen(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("audit:citizen_lookup")],
    cpr: Annotated[str, Form(max_length=20)],
) -> Response:
    """CPR in, pseudonymous id out: the log page is then filtered by the id."""
    citizen = dpo.lookup_citizen(session, ctx.deps, me.actor, me.organisation_id, cpr, "log_review")
    if citizen is None:
        return _not_found_page(request, me, "dpo_log.html")
    return RedirectResponse(f"/dpo/log?borger={citizen.public_id}", status_code=303)


def _not_found_page(request: Request, me: Principal, template: str) -> Response:
    catalogue = default_event_catalogue()
    return page(
        request, template, status_code=404, me=me, values={}, events=[], next_before=None,
        actions=sorted(catalogue.actions), outcomes=OUTCOMES,
        error="Ingen borger med det CPR-nummer er registreret i din organisation.",
    )  # fmt: skip


@router.get("/dpo/afvisninger", response_class=HTMLResponse)
def rejected_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("audit:read")],
    fra: date | None = None,
    til: date | None = None,
) -> Response:
    try:
        first, last = _period(fra, til, legal_today(ctx.clock), 7)
    except InvalidInput as exc:
        return page(
            request, "dpo_rejected.html", status_code=400, me=me, error=exc.message,
            groups=[], fra=fra, til=til,
        )  # fmt: skip
    groups = dpo.view_rejected(
        session, ctx.deps, me.actor, me.organisation_id, first, last,
        _day_start(first), _day_start(last + timedelta(days=1)),
    )  # fmt: skip
    return page(request, "dpo_rejected.html", me=me, groups=groups, fra=first, til=last)


@router.post("/dpo/checkpoint")
def checkpoint_now(
    ctx: Ctx, session: DbSession, me: Annotated[Principal, require("audit:checkpoint")]
) -> Response:
    sign_head(
        session, ctx.crypto, ctx.clock, ctx.audit, me.actor, "on_demand",
        origin=ctx.settings.audit_origin,
    )  # fmt: skip
    return RedirectResponse("/dpo", status_code=303)


@router.post("/dpo/verificer", response_class=HTMLResponse)
def verify_now(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("audit:verify")],
) -> Response:
    """Verify the whole log now (``service.verify_chain``) and show what was found."""
    result = dpo.verify_now(session, ctx.deps, me.actor)
    return page(request, "dpo_verify.html", me=me, result=result)


@router.get("/dpo/eksport")
def export(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("audit:export")],
    fra: date,
    til: date,
    organisation: int | None = None,
) -> Response:
    """JSON Lines with the checkpoints that cover the range; check with audit/verify.py.

    The DPO's own organisation's events in full, every other event as its digest only
    (organisations are separate data controllers). Naming another ``organisation`` is
    refused by the policy and audited as a rejected attempt."""
    wanted = me.organisation_id if organisation is None else organisation
    me.ensure(resource_organisation_id=wanted)
    first, last = _period(fra, til, legal_today(ctx.clock), 7)
    if (last - first).days >= MAX_EXPORT_DAYS:
        raise InvalidInput("Eksportér højst et år ad gangen.", field="til")
    spool = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    export_range(
        session, ctx.crypto, ctx.clock, ctx.audit, me.actor,
        _day_start(first), _day_start(last + timedelta(days=1)), spool,
        organisation_id=wanted, origin=ctx.settings.audit_origin,
    )  # fmt: skip
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        try:
            while block := spool.read(EXPORT_CHUNK):
                yield block.encode("utf-8")
        finally:
            spool.close()

    filename = f"auditlog-{first.isoformat()}-{last.isoformat()}.jsonl"
    return StreamingResponse(
        chunks(),
        media_type="application/jsonl",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/dpo/vidner/kontrolpunkt")
def witnessed_checkpoint(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("audit:export")],
    vidne: str | None = None,
) -> Response:
    """The newest checkpoint witness ``vidne`` cosigned, as the note ``audit/verify.py
    --witness`` reads with the witness's key. The note is about the whole log (its size
    and hash, no organisation's events), so any DPO with the export may fetch it."""
    target, note = dpo.fetch_cosigned_note(session, ctx.deps, me.actor, vidne)
    return Response(
        note.text,
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{note.filename(target.name)}"'},
    )

"""The DPO's log pages (Danish): the overview, the audit log with filters, rejected access
attempts, signed checkpoints, verification and export. Alerts are in ``alert_endpoints``,
a citizen's access report in ``report_endpoints``.

A CPR number never travels in a URL: look-ups are POSTed, and the log is then filtered by
the citizen's pseudonymous id.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from consent_service import labels
from consent_service.audit import witnessing
from consent_service.audit.catalogue import default_event_catalogue
from consent_service.audit.checkpoints import key_id, recent_checkpoints, sign_head
from consent_service.audit.models import AuditEvent
from consent_service.clock import LEGAL_TZ, legal_today
from consent_service.errors import InvalidInput
from consent_service.identity.users import users_of
from consent_service.oversight import alerts, dpo
from consent_service.oversight.export import export_range
from consent_service.oversight.log_view import (
    DECISION_ACTION,
    LogRow,
    csv_bytes,
    log_rows,
    rejected_link,
)
from consent_service.oversight.schemas import AuditFilter
from consent_service.web import notices
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import FormState, failed, parse_date
from consent_service.web.gate import GatedRoute
from consent_service.web.scope import system_review
from consent_service.web.templating import page, role_names_da

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
        paper=dpo.paper_overview(session, me.organisation_id, legal_today(ctx.clock)),
    )


LOG_FIELDS = ("fra", "til", "bruger", "handling", "udfald", "anmodning", "beslutninger")
# Narrowing filters a link sets (from an alert, a rejected attempt, a citizen look-up):
# ids only, never a CPR number or a name.
LOG_LINK_FIELDS = ("borger", "konto", "adresse", "fra_nr", "til_nr")
MAX_FILTER_TEXT = 64
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_PUBLIC_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NUMBER = re.compile(r"^[0-9]{1,15}$")
CSV_MAX_ROWS = 20_000
TOO_MANY_DA = "Filtret giver mere end 20.000 hændelser. Vælg en kortere periode."


@dataclass
class LogQuery:
    """The log filter as typed (``form``) and, when it is valid, as a search."""

    form: FormState
    audit_filter: AuditFilter | None = None
    criteria: dict[str, object] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    before: int | None = None


def _text(form: FormState, name: str) -> str:
    value = form.value(name).strip()
    if len(value) > MAX_FILTER_TEXT or any(ord(c) < 32 or c in "\x7f\ufeff" for c in value):
        form.add(name, "Feltet er for langt eller indeholder ugyldige tegn.")
        return ""
    return value


def _number(form: FormState, name: str, field_name: str = "") -> int | None:
    raw = form.value(name).strip()
    if not raw:
        return None
    if not _NUMBER.match(raw):
        form.add(field_name, "Linket til loggen er ugyldigt. Begynd forfra fra overblikket.")
        return None
    return int(raw)


def _read_log_filter(
    params: Mapping[str, str], session: DbSession, me: Principal, today: date
) -> LogQuery:
    catalogue = default_event_catalogue()
    form = FormState.of(**{k: params.get(k, "") for k in LOG_FIELDS + LOG_LINK_FIELDS})
    first = parse_date(form, "fra", required=False)
    last = parse_date(form, "til", required=False)
    username, request_id = _text(form, "bruger"), _text(form, "anmodning")
    action, outcome = form.value("handling"), form.value("udfald")
    if action and action not in catalogue.actions:
        form.add("handling", "Vælg en handling fra listen.")
    if outcome and outcome not in OUTCOMES:
        form.add("udfald", "Vælg et udfald fra listen.")
    if request_id and not _REQUEST_ID.match(request_id):
        form.add("anmodning", "Et anmodnings-id består af bogstaver, tal og bindestreger.")
    decisions = form.value("beslutninger") in ("ja", "true")
    if form.value("beslutninger") and not decisions:
        form.add("beslutninger", "Vælg eller fravælg feltet.")
    citizen = form.value("borger").strip()
    if citizen and not _PUBLIC_ID.match(citizen):
        form.add("", "Linket til loggen er ugyldigt. Begynd forfra fra overblikket.")
    address = _text(form, "adresse")
    if address and not _REQUEST_ID.match(address):
        form.add("", "Linket til loggen er ugyldigt. Begynd forfra fra overblikket.")
    account, seq_from, seq_to = (_number(form, n) for n in ("konto", "fra_nr", "til_nr"))
    raw_before = params.get("foer", "").strip()
    before = int(raw_before) if _NUMBER.match(raw_before) else None
    if raw_before and before is None:
        form.add("", "Linket til ældre hændelser er ugyldigt.")
    actor_id = None
    if username and not form.error("bruger"):
        actor = dpo.staff_member_named(session, me.organisation_id, username)
        if actor is None:
            form.add("bruger", "Der er ingen bruger med det brugernavn i din organisation.")
        else:
            actor_id = actor.id
    if account is not None:
        actor_id = account
    if form.has_errors:
        return LogQuery(form)
    try:
        first, last = _period(first, last, today, 7)
    except InvalidInput as exc:
        form.fail(exc)
        return LogQuery(form)
    form.values["fra"], form.values["til"] = first.isoformat(), last.isoformat()
    audit_filter = AuditFilter(
        occurred_from=_day_start(first),
        occurred_to=_day_start(last + timedelta(days=1)),
        actor_user_id=actor_id,
        concerning_organisation=me.organisation_id,
        action=action or None,
        outcome=outcome or None,
        resource_type="citizen" if citizen else None,
        resource_id=citizen or None,
        request_id=request_id or None,
        source_ip=address or None,
        seq_from=seq_from,
        seq_to=seq_to,
        exclude_actions=() if decisions or action == DECISION_ACTION else (DECISION_ACTION,),
    )
    criteria: dict[str, object] = {
        "from": first.isoformat(), "to": last.isoformat(), "user": actor_id,
        "action": action or None, "outcome": outcome or None, "citizen": citizen or None,
        "request_id": request_id or None, "before_seq": before,
    }  # fmt: skip
    query = {k: form.value(k) for k in LOG_FIELDS + LOG_LINK_FIELDS if form.value(k)}
    return LogQuery(form, audit_filter, criteria, query, before)


def _log_context(session: DbSession, me: Principal) -> dict[str, Any]:
    catalogue = default_event_catalogue()
    names, outcomes = labels.group("audit_actions"), labels.group("audit_outcomes")
    actions = sorted(catalogue.actions, key=lambda a: names.get(a, a))
    return {
        "action_options": [("", "Alle")] + [(a, names.get(a, a)) for a in actions],
        "outcome_options": [("", "Alle")] + [(o, outcomes.get(o, o)) for o in OUTCOMES],
        "cpr_form": FormState(prefix="cpr-"),
    }


def _rows(
    session: DbSession, ctx: Ctx, me: Principal, events: Sequence[AuditEvent]
) -> list[LogRow]:
    people = {u.id: u for u in users_of(session, me.organisation_id)}
    request_ids = [e.request_id or "" for e in events]
    decisions = dpo.decisions_for(session, me.organisation_id, request_ids)
    return log_rows(events, people, decisions, role_names_da(ctx.policy))


@router.get("/dpo/log", response_class=HTMLResponse)
def log_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("audit:read")],
) -> Response:
    found = _read_log_filter(request.query_params, session, me, legal_today(ctx.clock))
    if found.audit_filter is None:
        return failed(
            request, "dpo_log.html", found.form, me=me, rows=[], next_before=None, query={},
            **_log_context(session, me),
        )  # fmt: skip
    result = dpo.view_log(
        session, ctx.deps, me.actor, found.audit_filter, before_seq=found.before,
        criteria=found.criteria,
    )  # fmt: skip
    return page(
        request, "dpo_log.html", me=me, form=found.form,
        rows=_rows(session, ctx, me, result.events), next_before=result.next_before_seq,
        query=found.query, **_log_context(session, me),
    )  # fmt: skip


@router.get("/dpo/log/csv")
def log_csv(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("audit:export")],
) -> Response:
    """The log of the current filter as CSV for a spreadsheet (``;``, UTF-8 with BOM,
    Danish headers and local times). Unlike the signed export (``/dpo/eksport``) it is for
    reading, not for verification. The export is audited with the filter and row count in
    the same transaction as it is read."""
    found = _read_log_filter(request.query_params, session, me, legal_today(ctx.clock))
    if found.audit_filter is None:
        return failed(
            request, "dpo_log.html", found.form, me=me, rows=[], next_before=None, query={},
            **_log_context(session, me),
        )  # fmt: skip
    events = dpo.export_log(
        session, ctx.deps, me.actor, found.audit_filter, CSV_MAX_ROWS, criteria=found.criteria
    )
    if events is None:
        found.form.add("fra", TOO_MANY_DA)
        return failed(
            request, "dpo_log.html", found.form, me=me, rows=[], next_before=None, query={},
            **_log_context(session, me),
        )  # fmt: skip
    body = csv_bytes(_rows(session, ctx, me, events))
    filename = f"log-{found.form.value('fra')}-{found.form.value('til')}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/dpo/log/borger", response_class=HTMLResponse)
def log_for_citizen(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("audit:citizen_lookup")],
    cpr: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """CPR in, pseudonymous id out: the log page is then filtered by the id."""
    cpr_form = FormState.of(prefix="cpr-", cpr=cpr)
    found = _read_log_filter({}, session, me, legal_today(ctx.clock))
    context: dict[str, Any] = {**_log_context(session, me), "cpr_form": cpr_form, "rows": [],
               "next_before": None, "query": {}}  # fmt: skip
    if not cpr.strip():
        cpr_form.add("cpr", "Skriv borgerens CPR-nummer.")
        return failed(request, "dpo_log.html", found.form, me=me, **context)
    try:
        citizen = dpo.lookup_citizen(
            session, ctx.deps, me.actor, me.organisation_id, cpr, "log_review"
        )
    except InvalidInput as exc:
        cpr_form.fail(exc, "cpr")
        return failed(request, "dpo_log.html", found.form, me=me, **context)
    if citizen is None:
        cpr_form.add("cpr", NOT_FOUND_DA)
        return failed(request, "dpo_log.html", found.form, status_code=404, me=me, **context)
    return RedirectResponse(f"/dpo/log?borger={citizen.public_id}", status_code=303)


NOT_FOUND_DA = "Ingen borger med det CPR-nummer er registreret i din organisation."


@router.get("/dpo/afvisninger", response_class=HTMLResponse)
def rejected_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("audit:read")],
) -> Response:
    params = request.query_params
    form = FormState.of(fra=params.get("fra", "")[:40], til=params.get("til", "")[:40])
    first = parse_date(form, "fra", required=False)
    last = parse_date(form, "til", required=False)
    if not form.has_errors:
        try:
            first, last = _period(first, last, legal_today(ctx.clock), 7)
        except InvalidInput as exc:
            form.fail(exc)
    if form.has_errors or first is None or last is None:
        return failed(request, "dpo_rejected.html", form, me=me, groups=[])
    form.values["fra"], form.values["til"] = first.isoformat(), last.isoformat()
    groups = dpo.view_rejected(
        session, ctx.deps, me.actor, me.organisation_id, first, last,
        _day_start(first), _day_start(last + timedelta(days=1)),
    )  # fmt: skip
    accounts = {u.username: u for u in users_of(session, me.organisation_id)}
    rows = [(g, rejected_link(g, accounts), accounts.get(g.username or "")) for g in groups]
    return page(request, "dpo_rejected.html", me=me, form=form, groups=rows)


@router.post("/dpo/checkpoint")
def checkpoint_now(
    ctx: Ctx, session: DbSession, me: Annotated[Principal, require("audit:checkpoint")]
) -> Response:
    sign_head(
        session, ctx.crypto, ctx.clock, ctx.audit, me.actor, "on_demand",
        origin=ctx.settings.audit_origin,
    )  # fmt: skip
    return notices.redirect("/dpo", "checkpoint-signed")


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

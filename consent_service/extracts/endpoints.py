"""Pages and API of extracts: the data controllers' list and draft form (purpose first,
then only its sources and fields), the request with its decision (with a preview of the
consent gate), cancellation, execution and download (the coverage plan is in
``coverage_endpoints``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.citizens.cohorts import default_cohorts
from consent_service.clock import legal_today
from consent_service.errors import InvalidInput, RuleRefusal
from consent_service.extracts import downloads, execution, gate, requests, rules
from consent_service.extracts.models import ExtractRequest
from consent_service.extracts.policy import MEASUREMENTS, default_extract_policy
from consent_service.identity.users import display_names
from consent_service.web import notices
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import (
    Confirmation,
    FormState,
    confirmation,
    failed,
    is_confirmed,
    parse_date,
)
from consent_service.web.gate import GatedRoute
from consent_service.web.ratelimit import rate_limited
from consent_service.web.stepup_form import code_accepted
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)


def _to_decide(session: DbSession, me: Principal, public_id: str) -> ExtractRequest:
    """The request of the acting organisation, checked against the decision's condition:
    not the requester's own (the policy's ``not_self``)."""
    req = requests.request_in_organisation(session, me.organisation_id, public_id)
    me.ensure(resource_organisation_id=req.organisation_id, resource_user_id=req.requested_by)
    return req


def _common() -> dict[str, Any]:
    policy = default_extract_policy()
    cohorts = default_cohorts().cohorts
    return {
        "policy": policy,
        "cohorts": cohorts,
        "cohort_names": {c.id: c.name for c in cohorts},
        # Every source and field by its Danish name, as the policy's purposes name them.
        "source_names": {k: s.da for p in policy.purposes.values() for k, s in p.sources.items()},
        "field_names": {
            k: text
            for p in policy.purposes.values()
            for s in p.sources.values()
            for k, text in s.fields.items()
        },
        "measurements": MEASUREMENTS,
        "reasons": gate.REASONS_DA,
    }


@router.get("/udtraek", response_class=HTMLResponse)
def extracts_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:request")],
    formaal: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The organisation's requests and a new request in two steps, without script: first
    the purpose (a GET form), then, with ``?formaal=``, only that purpose's sources and
    fields."""
    form = FormState.of(purpose=formaal or "")
    if formaal is not None and formaal not in default_extract_policy().purposes:
        form.add("purpose", "Vælg et af formålene.")
        return failed(request, "extracts.html", form, **_extracts_context(ctx, session, me))
    return page(request, "extracts.html", form=form, **_extracts_context(ctx, session, me))


def _extracts_context(ctx: Ctx, session: DbSession, me: Principal) -> dict[str, Any]:
    latest = requests.latest_requests(session, me.organisation_id)
    return {"me": me, "requests": latest, "today": legal_today(ctx.clock), **_common()}


@router.post("/udtraek", response_class=HTMLResponse)
def draft(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:request")],
    purpose: Annotated[str, Form(max_length=64)] = "",
    cohort: Annotated[str, Form(max_length=32)] = "",
    measurement_years: Annotated[str, Form(max_length=4)] = "",
    planned_on: Annotated[str, Form(max_length=20)] = "",
    sources: Annotated[list[str], Form(max_length=10)] = [],  # noqa: B006 (FastAPI copies it)
    fields: Annotated[list[str], Form(max_length=30)] = [],  # noqa: B006
) -> Response:
    """Draft a request; every mistake comes back at once on the same page, each beside its
    field, with the choices kept (sources and fields are checkbox lists, kept
    space-separated)."""
    form = FormState.of(
        purpose=purpose, cohort=cohort, measurement_years=measurement_years,
        planned_on=planned_on, sources=" ".join(sources), fields=" ".join(fields),
    )  # fmt: skip
    years = measurement_years if measurement_years in {str(m) for m in MEASUREMENTS} else None
    day = parse_date(form, "planned_on")
    for name, message in requests.draft_problems(
        ctx.deps, purpose, sources, fields, cohort, int(years) if years else None, day
    ):
        form.add(name, message)
    if years is None:
        form.add("measurement_years", "Vælg en måling.")
    # The summary lists the mistakes in the order the fields stand on the page.
    order = ["purpose", "sources", "fields", "cohort", "measurement_years", "planned_on"]
    if "purpose" in form.errors:  # back to step 1: the other fields are not on it
        form.errors = {"purpose": form.errors["purpose"]}
    place = {name: i for i, name in enumerate(order)}
    form.errors = dict(sorted(form.errors.items(), key=lambda kv: place.get(kv[0], 99)))
    if not form.has_errors and years is not None and day is not None:
        try:
            req = requests.draft(
                session, ctx.deps, me.actor, me.organisation_id,
                requests.DraftInput(purpose, sources, fields, cohort, int(years), day),
            )  # fmt: skip
        except (InvalidInput, RuleRefusal) as exc:
            form.fail(exc)
        else:
            return notices.redirect(f"/udtraek/{req.public_id}", "extract-requested")
    return failed(request, "extracts.html", form, **_extracts_context(ctx, session, me))


@router.get("/udtraek/{public_id}", response_class=HTMLResponse)
def request_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:request")],
    public_id: str,
) -> Response:
    req = requests.request_in_organisation(session, me.organisation_id, public_id)
    return _request_page(request, ctx, session, me, req)


def _request_page(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Principal,
    req: ExtractRequest,
    form: FormState | None = None,
) -> Response:
    """The request's page; ``form`` is a refused decision, cancellation or download (its
    prefix says which), shown beside its form with 400, or 409 when a rule refused."""
    files = requests.files_of(session, req)
    manifest = json.loads(req.manifest) if req.manifest else None
    policy = default_extract_policy()
    actions = rules.actions_for(
        req, me.user.id, legal_today(ctx.clock),
        max_downloads=policy.downloads.max_count, now=ctx.clock.now(),
    )  # fmt: skip
    people = [req.requested_by, req.decided_by, req.executed_by, req.cancelled_by]
    names = display_names(session, req.organisation_id, [p for p in people if p])
    preview = requests.gate_preview(session, req) if actions.can_decide else None
    status_code = form.status_code if form else 200
    return page(request, "extract.html", status_code=status_code, me=me, req=req,
                files=files, manifest=manifest, actions=actions, form=form, names=names,
                preview=preview, window_open=req.download_until is not None
                and ctx.clock.now() <= req.download_until,
                public_key_pem=ctx.crypto.public_key_pem(), **_common())  # fmt: skip


def _decision(
    request: Request, ctx: Ctx, session: DbSession, me: Principal, public_id: str, *,
    approve: bool, code: str, comment: str,
) -> Response:  # fmt: skip
    """Approve or reject with a fresh code: a mistake in the form (an empty reason for a
    rejection) is named before the code is used; a wrong code keeps the page."""
    req = _to_decide(session, me, public_id)
    prefix = "approve-" if approve else "reject-"
    form = FormState.of(prefix=prefix, comment=comment)
    if not approve and not comment.strip():
        form.add("comment", "Skriv, hvorfor anmodningen afvises.")
        return _request_page(request, ctx, session, me, req, form)
    if not code_accepted(session, ctx.deps, me, code, purpose="extract_approval", form=form):
        return _request_page(request, ctx, session, me, req, form)
    try:
        requests.decide(session, ctx.deps, me.actor, req, approve=approve, comment=comment)
    except (InvalidInput, RuleRefusal) as exc:
        # Refused before anything changed (decided meanwhile, cancelled): the page says so;
        # the code stays used, as any code shown once.
        return _request_page(request, ctx, session, me, req, form.fail(exc, "comment"))
    return notices.redirect(
        f"/udtraek/{public_id}", "extract-approved" if approve else "extract-rejected"
    )


@router.post(
    "/udtraek/{public_id}/godkend",
    dependencies=[rate_limited("step_up")],
    response_class=HTMLResponse,
)
def approve(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:approve")],
    public_id: str,
    code: Annotated[str, Form(max_length=12)] = "",
    comment: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    return _decision(request, ctx, session, me, public_id, approve=True, code=code, comment=comment)


@router.post(
    "/udtraek/{public_id}/afvis",
    dependencies=[rate_limited("step_up")],
    response_class=HTMLResponse,
)
def reject(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:approve")],
    public_id: str,
    code: Annotated[str, Form(max_length=12)] = "",
    comment: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    return _decision(
        request, ctx, session, me, public_id, approve=False, code=code, comment=comment
    )


@router.post("/udtraek/{public_id}/annuller", response_class=HTMLResponse)
def cancel(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:request")],
    public_id: str,
    reason: Annotated[str, Form(max_length=1000)] = "",
    confirmed: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Two posts (``forms.confirmation``): the first says what cancelling does, the
    second cancels. Any data controller of the organisation may cancel, the requester
    too; an executed, rejected or cancelled request is refused (409)."""
    req = requests.request_in_organisation(session, me.organisation_id, public_id)
    form = FormState.of(prefix="cancel-", reason=reason)
    try:
        requests.check_cancel(req, reason)
        if not is_confirmed(confirmed):
            p = default_extract_policy().purposes.get(req.purpose)
            return confirmation(
                request,
                me,
                Confirmation(
                    title="Bekræft annulleringen",
                    lines=(
                        f"Anmodningen om udtræk til {p.da if p else 'et tidligere formål'} "
                        "annulleres. Den kan derefter ikke godkendes eller udføres.",
                        "Begrundelsen gemmes på anmodningen og i loggen.",
                        "Skal der alligevel laves et udtræk, må der laves en ny anmodning.",
                    ),
                    action=f"/udtraek/{req.public_id}/annuller",
                    fields={"reason": reason},
                    button="Annullér anmodningen",
                    cancel_href=f"/udtraek/{req.public_id}",
                ),
            )
        requests.cancel(session, ctx.deps, me.actor, req, reason)
    except (InvalidInput, RuleRefusal) as exc:
        form.fail(exc, "reason")
    if form.has_errors:
        return _request_page(request, ctx, session, me, req, form)
    return notices.redirect(f"/udtraek/{public_id}", "extract-cancelled")


@router.post("/udtraek/{public_id}/udfoer", response_class=HTMLResponse)
def execute(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:execute")],
    public_id: str,
) -> Response:
    req = requests.request_in_organisation(session, me.organisation_id, public_id)
    execution.execute_request(session, ctx.deps, me.actor, req)
    return notices.redirect(f"/udtraek/{public_id}", "extract-executed")


@router.post("/udtraek/{public_id}/hent")
def download(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:download")],
    public_id: str,
) -> Response:
    """The ZIP; a refusal (none left, the window passed, files deleted) comes back on the
    request's page with its Danish message (409), not as an error page."""
    req = requests.request_in_organisation(session, me.organisation_id, public_id)
    try:
        content = downloads.download(session, ctx.deps, me.actor, req)
    except RuleRefusal as exc:
        form = FormState(prefix="download-").fail(exc)
        return _request_page(request, ctx, session, me, req, form)
    return Response(
        content,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="udtraek-{public_id}.zip"'},
    )

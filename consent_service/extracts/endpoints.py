"""Pages and API of extracts: the data controllers' list and draft form, the request with
its decision, execution and download (the coverage plan is in ``coverage_endpoints``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from consent_service.citizens.cohorts import default_cohorts
from consent_service.clock import legal_today
from consent_service.errors import InvalidInput, RuleRefusal, StepUpFailed
from consent_service.extracts import downloads, execution, gate, requests, rules
from consent_service.extracts.models import ExtractRequest
from consent_service.extracts.policy import MEASUREMENTS, default_extract_policy
from consent_service.identity import stepup
from consent_service.identity.stepup import step_up
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import FormState, failed, parse_choice, parse_date
from consent_service.web.gate import GatedRoute
from consent_service.web.ratelimit import rate_limited
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
) -> Response:
    return page(request, "extracts.html", **_extracts_context(ctx, session, me))


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
    """Draft a request; anything the policy refuses comes back on the same page with the
    choices kept (sources and fields are checkbox lists, kept space-separated)."""
    form = FormState.of(
        purpose=purpose, cohort=cohort, measurement_years=measurement_years,
        planned_on=planned_on, sources=" ".join(sources), fields=" ".join(fields),
    )  # fmt: skip
    years = parse_choice(
        form, "measurement_years", [str(m) for m in MEASUREMENTS], "Vælg en måling."
    )
    day = parse_date(form, "planned_on")
    if years is not None and day is not None:
        try:
            req = requests.draft(
                session, ctx.deps, me.actor, me.organisation_id,
                requests.DraftInput(purpose, sources, fields, cohort, int(years), day),
            )  # fmt: skip
        except (InvalidInput, RuleRefusal) as exc:
            form.fail(exc)
        else:
            return RedirectResponse(f"/udtraek/{req.public_id}", status_code=303)
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
    """The request's page; ``form`` is a refused approval (400, the comment kept)."""
    files = requests.files_of(session, req)
    manifest = json.loads(req.manifest) if req.manifest else None
    actions = rules.actions_for(req, me.user.id, legal_today(ctx.clock))
    return page(request, "extract.html", status_code=400 if form else 200, me=me, req=req,
                files=files, manifest=manifest, actions=actions, form=form,
                public_key_pem=ctx.crypto.public_key_pem(), **_common())  # fmt: skip


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
    req = _to_decide(session, me, public_id)
    try:
        step_up(session, ctx.deps, me.actor, me.user, code, purpose="extract_approval")
    except StepUpFailed as refused:
        # Nothing was changed before the code was checked: only the failure is kept.
        stepup.record_step_up_failure(session, ctx.deps, me.actor, refused)
        form = FormState.of(prefix="approve-", comment=comment).add("code", refused.message)
        return _request_page(request, ctx, session, me, req, form)
    requests.decide(session, ctx.deps, me.actor, req, approve=True, comment=comment)
    return RedirectResponse(f"/udtraek/{public_id}", status_code=303)


@router.post("/udtraek/{public_id}/afvis", response_class=HTMLResponse)
def reject(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:approve")],
    public_id: str,
    comment: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    req = _to_decide(session, me, public_id)
    requests.decide(session, ctx.deps, me.actor, req, approve=False, comment=comment)
    return RedirectResponse(f"/udtraek/{public_id}", status_code=303)


@router.post("/udtraek/{public_id}/udfoer", response_class=HTMLResponse)
def execute(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:execute")],
    public_id: str,
) -> Response:
    req = requests.request_in_organisation(session, me.organisation_id, public_id)
    execution.execute_request(session, ctx.deps, me.actor, req)
    return RedirectResponse(f"/udtraek/{public_id}", status_code=303)


@router.post("/udtraek/{public_id}/hent")
def download(
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("extract:download")],
    public_id: str,
) -> Response:
    req = requests.request_in_organisation(session, me.organisation_id, public_id)
    content = downloads.download(session, ctx.deps, me.actor, req)
    return Response(
        content,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="udtraek-{public_id}.zip"'},
    )

"""The DPO's access report for a data-subject access request (GDPR art. 15): every use of
a citizen's data, as a page or a PDF, in the DPO's or the citizen's version. HTTP only:
the report is ``oversight.dpo``; a CPR number is POSTed, never put in a URL."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.citizens.service import parse_cpr_input
from consent_service.clock import legal_today
from consent_service.errors import InvalidInput
from consent_service.oversight import dpo
from consent_service.oversight.report_pdf import render_access_report
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.gate import GatedRoute
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)


@router.get("/dpo/indsigt", response_class=HTMLResponse)
def access_report_form(
    request: Request, me: Annotated[Principal, require("audit:access_report")]
) -> Response:
    return page(request, "dpo_access_report.html", me=me, items=None)


@router.post("/dpo/indsigt", response_class=HTMLResponse)
def access_report(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("audit:access_report")],
    cpr: Annotated[str, Form(max_length=20)],
    version: Annotated[str, Form(max_length=8)] = "dpo",
    format: Annotated[str, Form(max_length=4)] = "side",
) -> Response:
    """For a data-subject access request: every use of the citizen's data. Two versions:
    the DPO's (with staff names) and the citizen's (dates, what and why, organisation)."""
    if version not in ("dpo", "borger") or format not in ("side", "pdf"):
        raise InvalidInput("Vælg version og format.", field="version")
    citizen = dpo.lookup_citizen(
        session, ctx.deps, me.actor, me.organisation_id, cpr, "access_report"
    )
    if citizen is None:
        return page(
            request, "dpo_access_report.html", status_code=404, me=me, items=None,
            error="Ingen borger med det CPR-nummer er registreret i din organisation.",
        )  # fmt: skip
    items = dpo.access_report(session, me.organisation_id, citizen.public_id)
    dpo.record_report(session, ctx.deps, me.actor, citizen.public_id, version, items, format)
    if format == "pdf":
        pdf = render_access_report(
            items, cpr_formatted=parse_cpr_input(cpr, ctx.deps).formatted,
            for_citizen=version == "borger",
            organisation=dpo.organisation_name(session, me.organisation_id),
            made_on=legal_today(ctx.clock),
        )  # fmt: skip
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": 'inline; filename="indsigt-logning.pdf"'},
        )
    return page(
        request, "dpo_access_report.html", me=me, items=items, version=version,
        citizen_id=citizen.public_id,
    )  # fmt: skip

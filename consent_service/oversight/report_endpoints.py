"""The DPO's access report for a data-subject access request (GDPR art. 15): every use of
a citizen's data and every register extract that included them, as a page or a PDF, in
the DPO's or the citizen's version. HTTP only: the report is ``oversight.dpo``; a CPR
number is POSTed, never put in a URL.

The citizen's version names no member of staff: it says when, what, why, and the role
and organisation that did it (Datatilsynet's practice after CJEU C-579/21: the data
subject is entitled to the dates and purposes, not as a rule to the employees'
identities); the DPO's version adds names and request ids, to answer follow-up questions.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.citizens.service import parse_cpr_input
from consent_service.clock import legal_today
from consent_service.errors import InvalidInput
from consent_service.oversight import dpo
from consent_service.oversight.report_pdf import render_access_report
from consent_service.web.deps import Ctx, DbSession, Principal, require
from consent_service.web.forms import FormState, failed
from consent_service.web.gate import GatedRoute
from consent_service.web.templating import page, role_names_da

router = APIRouter(route_class=GatedRoute)

VERSIONS = {"dpo": "Til databeskyttelsesrådgiveren (med medarbejdere)", "borger": "Til borgeren"}
FORMATS = {"side": "Side", "pdf": "PDF"}
NOT_FOUND_DA = "Ingen borger med det CPR-nummer er registreret i din organisation."


@router.get("/dpo/indsigt", response_class=HTMLResponse)
def access_report_form(
    request: Request, me: Annotated[Principal, require("audit:access_report")]
) -> Response:
    return page(
        request, "dpo_access_report.html", me=me, form=FormState(), items=None,
        versions=VERSIONS, formats=FORMATS,
    )  # fmt: skip


@router.post("/dpo/indsigt", response_class=HTMLResponse)
def access_report(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Annotated[Principal, require("audit:access_report")],
    cpr: Annotated[str, Form(max_length=20)] = "",
    version: Annotated[str, Form(max_length=8)] = "dpo",
    format: Annotated[str, Form(max_length=4)] = "side",
) -> Response:
    """For a data-subject access request: every use of the citizen's data and every
    register extract that included them. Another organisation's citizen is not found,
    with the same words as a number nobody registered."""
    form = FormState.of(cpr=cpr, version=version, format=format)
    context: dict[str, Any] = {"me": me, "items": None, "versions": VERSIONS, "formats": FORMATS}
    if version not in VERSIONS:
        form.add("version", "Vælg en af versionerne.")
    if format not in FORMATS:
        form.add("format", "Vælg side eller PDF.")
    if not cpr.strip():
        form.add("cpr", "Skriv borgerens CPR-nummer.")
    if form.has_errors:
        return failed(request, "dpo_access_report.html", form, **context)
    try:
        citizen = dpo.lookup_citizen(
            session, ctx.deps, me.actor, me.organisation_id, cpr, "access_report"
        )
    except InvalidInput as exc:
        form.fail(exc, "cpr")
        return failed(request, "dpo_access_report.html", form, **context)
    if citizen is None:
        form.add("cpr", NOT_FOUND_DA)
        return failed(request, "dpo_access_report.html", form, status_code=404, **context)
    items = dpo.access_report(session, me.organisation_id, citizen.public_id)
    extracts = dpo.extracts_report(session, me.organisation_id, citizen)
    dpo.record_report(
        session, ctx.deps, me.actor, citizen.public_id, version, items, format, len(extracts)
    )
    if format == "pdf":
        pdf = render_access_report(
            items, extracts, cpr_formatted=parse_cpr_input(cpr, ctx.deps).formatted,
            for_citizen=version == "borger",
            organisation=dpo.organisation_name(session, me.organisation_id),
            made_on=legal_today(ctx.clock), role_names=role_names_da(ctx.policy),
        )  # fmt: skip
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": 'inline; filename="indsigt-logning.pdf"'},
        )
    return page(
        request, "dpo_access_report.html", me=me, form=FormState(), items=items,
        extracts=extracts, version=version, citizen_id=citizen.public_id, versions=VERSIONS,
        formats=FORMATS,
    )  # fmt: skip

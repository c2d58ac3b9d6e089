"""The verification page of extracts: a data controller or the DPO uploads a downloaded
extract's ``manifest.json`` (and, if they like, its files) and reads in Danish whether the
manifest is signed with the service's key and whether each file matches its SHA-256. The
checks are the stand-alone program's (``extracts/verification.py``); nothing is stored."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from consent_service.errors import InvalidInput
from consent_service.extracts import verification
from consent_service.web.bodylimit import body_limit
from consent_service.web.deps import Ctx, Principal, require
from consent_service.web.forms import FormState, failed
from consent_service.web.gate import GatedRoute
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)

TEMPLATE = "extract_verify.html"
# The manifest, up to MAX_FILES files and the form's own bytes.
FORM_MARGIN = 64 * 1024
MAX_BODY = (
    verification.MAX_MANIFEST_BYTES
    + verification.MAX_FILES * verification.MAX_FILE_BYTES
    + FORM_MARGIN
)


def _context(ctx: Ctx, me: Principal) -> dict[str, Any]:
    pem = ctx.crypto.public_key_pem()
    return {"me": me, "key_id": verification.service_key_id(pem), "public_key_pem": pem}


@router.get("/udtraek/verificer", response_class=HTMLResponse)
def verify_page(
    request: Request, ctx: Ctx, me: Annotated[Principal, require("extract:verify")]
) -> Response:
    return page(request, TEMPLATE, result=None, **_context(ctx, me))


@router.post("/udtraek/verificer", response_class=HTMLResponse)
@body_limit(MAX_BODY)
def verify_upload(
    request: Request,
    ctx: Ctx,
    me: Annotated[Principal, require("extract:verify")],
    manifest: Annotated[UploadFile | None, File()] = None,
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """The outcome on the same page (200, also for a manifest that is not the service's:
    that is an answer, not a mistake); bytes that are no manifest, or too many or too
    large files, keep the form (400, Danish)."""
    form = FormState.of()
    raw = manifest.file.read(verification.MAX_MANIFEST_BYTES + 1) if manifest else b""
    if not raw:
        form.add("manifest", "Vælg manifest.json fra den hentede ZIP-fil.")
    uploaded: dict[str, bytes] = {}
    chosen = [f for f in files or [] if f.filename]
    if len(chosen) > verification.MAX_FILES:
        form.add("files", f"Vælg højst {verification.MAX_FILES} filer.")
    for f in chosen[: verification.MAX_FILES]:
        data = f.file.read(verification.MAX_FILE_BYTES + 1)
        if len(data) > verification.MAX_FILE_BYTES:
            form.add("files", "En af filerne er større, end et udtræk kan være.")
            break
        # The name only as the manifest lists it (no folders); never shown unescaped.
        uploaded[(f.filename or "").rsplit("/", 1)[-1][:100]] = data
    result = None
    if not form.has_errors:
        try:
            result = verification.verify_upload(ctx.crypto.public_key_pem(), raw, uploaded)
        except InvalidInput as exc:
            form.fail(exc)
    if form.has_errors:
        form.lose_files("manifest", "files")
        return failed(request, TEMPLATE, form, result=None, **_context(ctx, me))
    return page(request, TEMPLATE, result=result, **_context(ctx, me))

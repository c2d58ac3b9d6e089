"""Jinja2 pages in Danish; autoescaped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from consent_service.identity.models import Role

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))

ROLE_NAMES_DA = {
    Role.NAVIGATOR.value: "Social navigatør",
    Role.REFERRER.value: "Henviser",
    Role.DATA_CONTROLLER.value: "Dataansvarlig",
    Role.DPO.value: "Databeskyttelsesrådgiver",
    Role.ADMINISTRATOR.value: "Administrator",
}
TEMPLATES.env.globals["role_names"] = ROLE_NAMES_DA


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)

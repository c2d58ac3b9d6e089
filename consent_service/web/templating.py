"""Jinja2 pages in Danish; autoescaped. Every page can name a role in Danish
(``role_names``), with the names of ``policies/access.yaml`` (``roles: <role>: da:``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from consent_service.access.policy import AccessPolicy


def role_names_da(policy: AccessPolicy) -> dict[str, str]:
    """Each role's Danish name, as the access policy gives it."""
    return {role: spec.da for role, spec in policy.spec.roles.items()}


def _policy_names(request: Request) -> dict[str, Any]:
    return {"role_names": role_names_da(request.app.state.ctx.policy)}


TEMPLATES = Jinja2Templates(
    directory=str(Path(__file__).resolve().parent / "templates"),
    context_processors=[_policy_names],
)


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)

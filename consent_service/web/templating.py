"""Jinja2 pages in Danish; autoescaped.

A page shows what the services decided and never restates a rule. Every page can name a
role in Danish (``role_names``, from ``policies/access.yaml``: ``roles: <role>: da:``),
and may ask the rules it shows by their one definition: the consent kinds of
``policies/consents.yaml``, the consent expiry warning, whether an account is locked or
an API token has expired, and the longest API token validity. A time is shown with the
``local_time`` filter: Copenhagen time with its zone (``28-03-2027 kl. 03:15 (CEST)``);
the day of an instant with ``local_date``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from consent_service import labels
from consent_service.access.policy import AccessPolicy
from consent_service.clock import local_date, local_time
from consent_service.consents.catalogue import catalogue
from consent_service.consents.reading import EXPIRY_WARNING_DAYS
from consent_service.identity.lockout import is_locked
from consent_service.identity.tokens import API_TOKEN_MAX_DAYS, token_expired
from consent_service.web.formstate import FormState
from consent_service.web.navigation import menu_for, page_permissions
from consent_service.web.notices import notice_from


def role_names_da(policy: AccessPolicy) -> dict[str, str]:
    """Each role's Danish name, as the access policy gives it."""
    return {role: spec.da for role, spec in policy.spec.roles.items()}


def _menu(request: Request) -> Callable[[Any], list[tuple[str, str]]]:
    """``menu(me)`` for the page header: the links the policy lets ``me`` open."""
    state = request.app.state
    if not hasattr(state, "page_permissions"):
        state.page_permissions = page_permissions(request.app.routes)
    policy = state.ctx.policy
    return lambda me: menu_for(policy, state.page_permissions, me.user.role)


def _rule_files(request: Request) -> dict[str, Any]:
    return {
        "role_names": role_names_da(request.app.state.ctx.policy),
        "consent_kinds": catalogue().kinds,
        "menu": _menu(request),
    }


TEMPLATES = Jinja2Templates(
    directory=str(Path(__file__).resolve().parent / "templates"),
    context_processors=[_rule_files],
)
# The page templates ship with the code and change only with a new deployment (a
# restart), so each is compiled once per process and never checked on disk again; with
# Jinja's default every page looked up (a page, its base and each include) cost a stat.
TEMPLATES.env.auto_reload = False
TEMPLATES.env.globals.update(
    expiry_warning_days=EXPIRY_WARNING_DAYS,
    is_locked=is_locked,
    token_expired=token_expired,
    api_token_max_days=API_TOKEN_MAX_DAYS,
    notice_from=notice_from,
    blank_form=lambda prefix="": FormState(prefix=prefix),
    labels=labels.group,
)
TEMPLATES.env.filters.update(
    local_time=local_time,
    local_date=local_date,
    label=lambda code, group: labels.label(group, code),
)


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)

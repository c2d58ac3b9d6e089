"""The form pattern's shared pieces for the account and user pages (identity's endpoints
use them; no endpoint module imports another): where a refused password's problems go,
and the users page with one action's form refused."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from consent_service.identity import organisations
from consent_service.identity import users as user_admin
from consent_service.identity.errors import UserInputError
from consent_service.identity.models import Organisation, Role
from consent_service.web.deps import Principal
from consent_service.web.forms import FormState, failed
from consent_service.web.scope import organisation_in_scope, system_wide

USERS = "/admin/brugere"
# The page's forms, each with its own ids (web/forms.py): one to create a user, and per
# user one each to unlock, change the role, (de)activate and propose a reset.
NEW_FORM = "new-"


def row_form(action: str, user_id: int) -> str:
    """The id prefix of ``action``'s form in user ``user_id``'s row."""
    return f"{action}-{user_id}-"


def users_context(
    session: Session, me: Principal, request: Request, organisation: Organisation | None = None
) -> dict[str, Any]:
    """What the users page shows: one organisation's users (one's own, or another that a
    system-wide administrator chose), the organisations a new user may join, the roles,
    now. Only one's own organisation's users can be changed here (the routes that change
    a user are scoped to it)."""
    ctx = request.app.state.ctx
    everyone = system_wide(session, ctx.settings, me)
    if organisation is None:
        organisation = organisation_in_scope(session, ctx.settings, me, me.organisation_id)
    return {
        "me": me,
        "organisation": organisation,
        "own": organisation.id == me.organisation_id,
        "system_wide": everyone,
        "organisation_choices": [
            (str(org.id), org.name)
            for org in (organisations.all_organisations(session) if everyone else [organisation])
        ],
        "users": user_admin.users_of(session, organisation.id),
        "roles": [r.value for r in Role],
        "now": ctx.clock.now(),
    }


def users_page_failed(
    request: Request,
    session: Session,
    me: Principal,
    form: FormState,
    exc: UserInputError,
    organisation: Organisation | None = None,
) -> Response:
    """The users page again (400) with ``form``'s values and the refusal beside its field."""
    form.add(exc.field or "", exc.message)
    return failed(request, "users.html", form, **users_context(session, me, request, organisation))


def password_refused(problems: list[str], prefix: str = "") -> FormState:
    """A password form again with each problem beside its field: a wrong current password
    beside ``current_password``, two different passwords beside ``repeat_password``, the
    rest beside ``new_password`` (no password is sent back)."""
    form = FormState(prefix=prefix)
    by_field: dict[str, list[str]] = {}
    for problem in problems:
        name = (
            "current_password"
            if "nuværende adgangskode er forkert" in problem
            else "repeat_password"
            if "ikke ens" in problem
            else "new_password"
        )
        by_field.setdefault(name, []).append(problem)
    for name in ("current_password", "new_password", "repeat_password"):
        if name in by_field:
            form.add(name, " ".join(by_field[name]))
    return form

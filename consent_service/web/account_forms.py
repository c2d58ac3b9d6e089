"""The form pattern's shared pieces for the account and user pages (identity's endpoints
use them; no endpoint module imports another): where a refused password's problems go,
and the users page with one action's form refused."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from consent_service.identity import users as user_admin
from consent_service.identity.errors import UserInputError
from consent_service.identity.models import Role
from consent_service.web.deps import Principal
from consent_service.web.forms import FormState, failed

USERS = "/admin/brugere"
# The page's forms, each with its own ids (web/forms.py): one to create a user, and per
# user one each to unlock, change the role, (de)activate and propose a reset.
NEW_FORM = "new-"


def row_form(action: str, user_id: int) -> str:
    """The id prefix of ``action``'s form in user ``user_id``'s row."""
    return f"{action}-{user_id}-"


def users_context(session: Session, me: Principal, request: Request) -> dict[str, Any]:
    """What the users page shows: the organisation's users, the roles, now."""
    return {
        "me": me,
        "users": user_admin.users_of(session, me.organisation_id),
        "roles": [r.value for r in Role],
        "now": request.app.state.ctx.clock.now(),
    }


def users_page_failed(
    request: Request, session: Session, me: Principal, form: FormState, exc: UserInputError
) -> Response:
    """The users page again (400) with ``form``'s values and the refusal beside its field."""
    form.add(exc.field or "", exc.message)
    return failed(request, "users.html", form, **users_context(session, me, request))


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

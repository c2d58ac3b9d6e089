"""A fresh code on a page form, the same way on every page that asks for one (approving an
extract, an erasure or the rulebook, changing a role, deleting at the pilot's end or at the
end of the evidence's retention).

The code is checked before the action runs. A refused code (wrong, replayed, or the account
locked) is recorded in the request's own transaction, which is committed with nothing else in
it (audited as ``login.step_up_failed`` and counted toward the lock, see
``identity/stepup.py``), and its message goes beside the form's code field so the page keeps
what was typed."""

from __future__ import annotations

from sqlalchemy.orm import Session

from consent_service.errors import StepUpFailed
from consent_service.identity import stepup
from consent_service.services import ServiceDeps
from consent_service.web.deps import Principal
from consent_service.web.formstate import FormState

EMPTY_CODE = "Skriv en ny kode fra din godkender-app."


def code_accepted(
    session: Session,
    deps: ServiceDeps,
    me: Principal,
    code: str,
    *,
    purpose: str,
    form: FormState,
) -> bool:
    """Whether the fresh code was accepted for ``purpose``. If not, the form carries the
    reason beside its ``code`` field and the refusal is recorded; the caller shows the page
    again (the form's status is 400) and runs nothing of the action."""
    if not code.strip():
        form.add("code", EMPTY_CODE)
        return False
    try:
        stepup.step_up(session, deps, me.actor, me.user, code, purpose=purpose)
    except StepUpFailed as refused:
        # Nothing was changed before the code was checked: only the failure is kept.
        stepup.record_step_up_failure(session, deps, me.actor, refused)
        form.add("code", refused.message)
        return False
    return True

"""The citizen's page (``citizen.html``), composed once for every endpoint that shows it.

The page holds several forms: the referral form (``_citizen_referrals.html``) and the
consent forms (``_citizen_consents.html``), each with its own id prefix. A form that fails
comes back on this page, not on a page of its own (the form pattern, ``web/forms.py``):
the endpoint passes the failing ``FormState`` in ``forms`` under its prefix, and the page
draws it with its error summary at the top of its card, the message beside each field, the
values typed, and the card's collapsed parts holding it open; the other forms are blank.
The citizens' and the consents' endpoints both use it (they may not import each other).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from fastapi import Request
from fastapi.responses import HTMLResponse

from consent_service.citizens import corrections, referrals, service
from consent_service.citizens.cohorts import default_cohorts
from consent_service.citizens.models import Citizen
from consent_service.clock import legal_today
from consent_service.consents import paper, reading
from consent_service.consents.labels import CHANNELS, CORRECTION_REASONS
from consent_service.subject_requests import service as subject_requests
from consent_service.subject_requests.policy import request_rules
from consent_service.web.deps import Ctx, DbSession, Principal
from consent_service.web.formstate import FormState
from consent_service.web.templating import page

REFERRAL_FORM = "henvisning-"  # the id prefix of the page's referral form
REQUEST_FORM = "anmodning-"  # the id prefix of the form registering a citizen's request
NO_FORMS: Mapping[str, FormState] = MappingProxyType({})


def request_extend_prefix(request_public_id: str) -> str:
    """The id prefix of a request's extension form."""
    return f"anmodning-{request_public_id}-forlaeng-"


def request_answer_prefix(request_public_id: str) -> str:
    """The id prefix of a request's answer form."""
    return f"anmodning-{request_public_id}-besvar-"


def render(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Principal,
    citizen: Citizen,
    *,
    status_code: int = 200,
    forms: Mapping[str, FormState] = NO_FORMS,
) -> HTMLResponse:
    """The citizen's page; ``forms`` are the forms to show as posted (by prefix), the
    rest are blank."""
    view = service.read_citizen(session, ctx.deps, me.actor, citizen, purpose="navigator course")
    overview = reading.citizen_consents(session, ctx.deps, citizen)
    citizen_referrals = list(service.referrals(session, citizen))
    today = legal_today(ctx.clock)
    manages_requests = me.may("requests:manage")
    rules = request_rules()
    return page(
        request,
        "citizen.html",
        status_code=status_code,
        me=me,
        citizen=view,
        referrals=citizen_referrals,
        referral_contacts=referrals.contacts_by_referral(
            session, ctx.deps, citizen, citizen_referrals
        ),
        referral_prefix=REFERRAL_FORM,
        forms=dict(forms),
        consents=overview.summaries,
        referrer_kinds=service.REFERRER_KINDS,
        data_collection=overview.data_collection,
        correction_reasons=CORRECTION_REASONS,
        channels=CHANNELS,
        cohort_names={c.id: c.name for c in default_cohorts().cohorts},
        changes=corrections.history(session, ctx.deps, citizen),
        today=today,
        paper=paper.custody_for_citizen(session, citizen, today),
        paper_locations=[
            (str(loc.id), loc.name)
            for loc in paper.active_locations(session, citizen.organisation_id)
        ],
        manages_requests=manages_requests,
        subject_requests=(
            subject_requests.citizen_requests(session, ctx.deps, citizen, today)
            if manages_requests
            else []
        ),
        request_prefix=REQUEST_FORM,
        request_extend_prefix=request_extend_prefix,
        request_answer_prefix=request_answer_prefix,
        request_kinds=[(code, k.name_da) for code, k in rules.kinds.items()],
        request_channels=rules.channels,
    )


def failed(
    request: Request,
    ctx: Ctx,
    session: DbSession,
    me: Principal,
    citizen: Citizen,
    form: FormState,
) -> HTMLResponse:
    """The citizen's page with ``form`` as posted, its errors and values (status 400 for
    a mistake in the form; 409 when a rule refuses the action: ``FormState.status_code``)."""
    return render(
        request, ctx, session, me, citizen, status_code=form.status_code, forms={form.prefix: form}
    )

"""Helpers of the coverage tests: a citizen's keyed pseudonym on a measurement's lists."""

from __future__ import annotations

from sqlalchemy import select

from consent_service.citizens.models import Citizen
from consent_service.context import AppContext
from consent_service.extracts.pseudonyms import Pseudonymiser


def pseudonym_of(ctx: AppContext, public_id: str, cohort: str, measurement: int) -> str:
    """The pseudonym the coverage plan of ``cohort``'s ``measurement`` gives the citizen
    whose navigator URL id is ``public_id``."""
    with ctx.sessions() as session:
        citizen = session.scalars(select(Citizen).where(Citizen.public_id == public_id)).one()
        return Pseudonymiser(ctx.deps.crypto, citizen.organisation_id, cohort, measurement)(
            citizen.id
        )

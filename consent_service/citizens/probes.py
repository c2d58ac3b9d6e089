"""Cross-organisation probes: an attempt from one organisation on another's citizen, by
CPR search or by id, is answered as for an unknown citizen and recorded, as a denial, in
the log of the organisation it concerns, for its DPO; nothing reaches the searcher's.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.citizens import repository as repo
from consent_service.citizens.cpr import Cpr
from consent_service.citizens.models import Citizen
from consent_service.errors import ProbeNotFound
from consent_service.services import ServiceDeps


def record_probes(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    organisation_id: int,
    cpr: Cpr,
    via: str,
) -> None:
    """After a CPR search of ``organisation_id`` found nobody: record a
    ``citizen.cross_organisation_probe`` (outcome deny) in the log of every other
    organisation where the number is registered, naming its citizen, for its DPO. The
    searcher is answered as for an unknown number; nothing of this reaches their
    organisation's log."""
    criterion_hash = deps.crypto.search_criterion_hash(cpr.value)
    for foreign in _registered_elsewhere(session, deps, organisation_id, cpr):
        deps.audit.record(
            session,
            actor,
            action="citizen.cross_organisation_probe",
            outcome="deny",
            resource_type="citizen",
            resource_id=foreign.public_id,
            reason="CPR search from another organisation",
            organisation_id=foreign.organisation_id,
            details={
                "via": via,
                "criterion_hash": criterion_hash,
                "from_organisation": organisation_id,
            },
        )


def _registered_elsewhere(
    session: Session, deps: ServiceDeps, organisation_id: int, cpr: Cpr
) -> Sequence[Citizen]:
    """The live citizens with this CPR in other organisations: each organisation's blind
    index differs, so one is computed per organisation and all are asked at once."""
    others = repo.other_organisation_ids(session, organisation_id)
    return repo.by_cpr_indexes(
        session, {org: deps.crypto.blind_index(org, cpr.value) for org in others}
    )


def probe_not_found(
    actor_organisation_id: int, citizen: Citizen, via: str = "open"
) -> ProbeNotFound:
    """The not-found answer to opening another organisation's citizen by id (``via``
    ``open``), or one of its consents (``consent``), recorded in that organisation's log
    (``web/deps.py`` records it after the rollback)."""
    return ProbeNotFound(
        action="citizen.cross_organisation_probe",
        organisation_id=citizen.organisation_id,
        resource_type="citizen",
        resource_id=citizen.public_id,
        reason="citizen id of another organisation",
        details={"via": via, "from_organisation": actor_organisation_id},
    )

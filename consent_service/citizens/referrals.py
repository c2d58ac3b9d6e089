"""Referrals after they arrive: the navigator's new referrals ("ring op"), marking one as
contacted with a short sealed note, the contacts shown on the citizen's page, a referrer's
own referrals, and the inclusion criteria a referral form warns about.

A contact and its audit event (``referral.contacted``, never the note's text) commit
together; the note is sealed under the citizen's identity key, so deleting the citizen
shreds it with the rest of their identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from consent_service import labels
from consent_service.audit.recorder import Actor
from consent_service.citizens import referral_query as repo
from consent_service.citizens import service as citizens
from consent_service.citizens.cpr import Cpr, is_adult_on
from consent_service.citizens.models import Citizen, Referral, ReferralContact
from consent_service.citizens.probes import probe_not_found
from consent_service.citizens.vault import CitizenVault
from consent_service.clock import legal_today
from consent_service.errors import InvalidInput, NotFound
from consent_service.services import ServiceDeps

NOTE_MAX = 500
NOTE_COLUMN = "referral_note"
STATUSES = labels.group("referral_statuses")


@dataclass(frozen=True)
class NewReferral:
    """A referral nobody has contacted yet, with what the navigator needs to call."""

    referral: Referral
    citizen: Citizen
    name: str
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class ContactView:
    contacted_on: date
    by: str
    note: str | None


@dataclass(frozen=True)
class SentReferral:
    """One of a referrer's own referrals, as they may see it: nothing about the citizen."""

    reference: str
    referred_on: date
    referrer_kind: str
    clinic: str
    status: str

    @property
    def status_da(self) -> str:
        return STATUSES[self.status]


def new_referrals(session: Session, deps: ServiceDeps, organisation_id: int) -> list[NewReferral]:
    """The organisation's referrals not yet contacted, oldest first, with each citizen's
    name and contact data decrypted (not audited here: the page that shows them records
    each citizen it names)."""
    found = []
    for referral, citizen in repo.new_referrals_with_citizens(session, organisation_id):
        view = citizens.decrypt(deps, citizen)
        found.append(NewReferral(referral, citizen, view.name, view.phone, view.email))
    return found


def _note(value: str) -> str | None:
    note = value.strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput(f"Noten må højst have {NOTE_MAX} tegn.", field="note")
    return note or None


def contact_referral(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    organisation_id: int,
    referral_public_id: str,
    contacted_on: date,
    note: str,
) -> Referral:
    """Mark the referral as contacted on ``contacted_on`` (not in the future, not before
    the referral), with an optional short note sealed under the citizen's identity key.
    Another organisation's referral is answered as an unknown one (and recorded in its
    log as a probe); a referral already contacted is refused."""
    found = repo.referral_with_citizen(session, referral_public_id, lock=True)
    if found is None:
        raise NotFound("referral")
    referral, citizen = found
    if referral.organisation_id != organisation_id:
        raise probe_not_found(organisation_id, citizen, via="referral")
    cleaned = _note(note)
    if contacted_on > legal_today(deps.clock):
        raise InvalidInput("Datoen kan ikke ligge i fremtiden.", field="contacted_on")
    if contacted_on < referral.referred_on:
        raise InvalidInput("Datoen kan ikke ligge før henvisningen.", field="contacted_on")
    if repo.has_contact(session, referral.id):
        raise InvalidInput("Henvisningen er allerede markeret som kontaktet.", field="")
    sealed = None
    if cleaned is not None:
        vault = CitizenVault(deps.crypto)
        key = vault.unwrap(citizen.public_id, citizen.wrapped_key)
        sealed = vault.seal(key, citizen.public_id, _note_column(referral), cleaned)
    session.add(
        ReferralContact(
            referral_id=referral.id,
            organisation_id=organisation_id,
            contacted_on=contacted_on,
            note_sealed=sealed,
            recorded_at=deps.clock.now(),
            recorded_by=actor.user_id,
        )
    )
    session.flush()
    deps.audit.record(
        session,
        actor,
        action="referral.contacted",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        details={
            "referral": referral.public_id,
            "contacted_on": contacted_on.isoformat(),
            "with_note": cleaned is not None,
        },
    )
    return referral


def _note_column(referral: Referral) -> str:
    """The note's associated data names its referral, so a note copied to another
    referral's contact does not decrypt."""
    return f"{NOTE_COLUMN}:{referral.public_id}"


def contacts_by_referral(
    session: Session, deps: ServiceDeps, citizen: Citizen, referrals: list[Referral]
) -> dict[int, list[ContactView]]:
    """The contacts of the citizen's referrals, by referral id, notes decrypted, each
    naming who recorded it (not audited here: the citizen page records its read)."""
    by_id = {r.id: r for r in referrals if r.citizen_id == citizen.id}
    rows = repo.contacts_of(session, list(by_id))
    vault = CitizenVault(deps.crypto)
    key = vault.unwrap(citizen.public_id, citizen.wrapped_key) if rows else b""
    found: dict[int, list[ContactView]] = {}
    for contact, display_name in rows:
        note = (
            vault.open(
                key,
                citizen.public_id,
                _note_column(by_id[contact.referral_id]),
                contact.note_sealed,
            )
            if contact.note_sealed is not None
            else None
        )
        found.setdefault(contact.referral_id, []).append(
            ContactView(contact.contacted_on, display_name or "en tidligere bruger", note)
        )
    return found


def sent_referrals(session: Session, actor: Actor, organisation_id: int) -> list[SentReferral]:
    """The referrals ``actor`` sent (newest first): the day, their own kind and clinic and
    whether the citizen was contacted. Never the citizen's name, CPR or anything the
    pilot knows about them, so the list cannot tell a referrer whether a person was
    known before."""
    if actor.user_id is None:
        return []
    return [
        SentReferral(
            reference=referral.public_id[:8].upper(),
            referred_on=referral.referred_on,
            referrer_kind=referral.referrer_kind,
            clinic=referral.clinic,
            status="contacted" if contacted else "received",
        )
        for referral, contacted in repo.sent_by(session, organisation_id, actor.user_id)
    ]


CRITERIA: dict[str, str] = {
    "norddjurs_link": "Bor i Norddjurs eller har læge i Norddjurs",
    "reachable": "Kan kontaktes på telefon eller e-mail",
}


def criteria_warnings(
    cpr: Cpr, referred_on: date, norddjurs_link: bool, reachable: bool
) -> list[str]:
    """What a referral form warns about before it is sent: an inclusion criterion not
    ticked, or a citizen under 18 on the referral date. None of them blocks: the
    navigator offer is given regardless (only data collection needs 18+), and the
    navigator judges the target group when she calls."""
    warnings = []
    if not norddjurs_link:
        warnings.append(
            "Borgeren skal bo i Norddjurs Kommune eller have læge i Norddjurs for at være i "
            "målgruppen."
        )
    if not reachable:
        warnings.append(
            "Borgeren skal kunne kontaktes på telefon eller e-mail, for at navigatøren kan "
            "ringe op."
        )
    if not is_adult_on(cpr, referred_on):
        warnings.append(
            "Borgeren er under 18 år på henvisningsdatoen: tilbuddet gives, men der indsamles "
            "ikke data til resultatmålingen."
        )
    return warnings

"""Citizens and referrals: register, find by CPR through the blind index, read, refer.

Every read and change is audited in the same transaction, naming the citizen only by its
pseudonymous public id. CPR numbers and names never reach an audit event or a log line.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from consent_service import labels
from consent_service import unit_of_work as uow
from consent_service.audit.recorder import Actor
from consent_service.citizens import repository as repo
from consent_service.citizens.cohorts import cohort_for
from consent_service.citizens.cpr import Cpr, InvalidCpr, is_adult_on, parse_cpr
from consent_service.citizens.models import Citizen, CitizenKey, Referral
from consent_service.citizens.probes import probe_not_found, record_probes
from consent_service.citizens.vault import CitizenKeyDestroyed, CitizenVault
from consent_service.clock import legal_today
from consent_service.errors import InvalidInput, NotFound
from consent_service.services import ServiceDeps

REFERRER_KINDS = labels.group("referrer_kinds")
IDENTITY_PURPOSE = "identity"  # the data key of a citizen's identity fields
_PHONE = re.compile(r"^\+?[0-9 ]{8,20}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


@dataclass(frozen=True)
class CitizenInput:
    cpr: str
    name: str
    phone: str | None
    email: str | None
    municipality: str
    gp_clinic: str


@dataclass(frozen=True)
class CitizenView:
    """A citizen's decrypted fields, for the page that shows them."""

    public_id: str
    cpr: Cpr
    name: str
    phone: str | None
    email: str | None
    municipality: str
    gp_clinic: str
    substitute_cpr: bool


@dataclass(frozen=True)
class ReferralInput:
    referrer_kind: str
    clinic: str
    referred_on: date
    course_start_on: date | None
    norddjurs_link: bool
    reachable: bool


def _vault(deps: ServiceDeps) -> CitizenVault:
    return CitizenVault(deps.crypto)


def parse_cpr_input(value: str, deps: ServiceDeps) -> Cpr:
    """The CPR number a person typed, or ``InvalidInput`` with the Danish message."""
    try:
        return parse_cpr(value, today=legal_today(deps.clock))
    except InvalidCpr as exc:
        raise InvalidInput(exc.message_da, field="cpr") from None


class AlreadyRegistered(InvalidInput):
    """The CPR number is registered in the organisation already: ``public_id`` is that
    citizen's, so the page can link to them (the message itself names nobody)."""

    def __init__(self, public_id: str) -> None:
        super().__init__("Borgeren er allerede registreret i din organisation.", field="cpr")
        self.public_id = public_id


def optional_text(value: str | None, field: str, max_len: int) -> str | None:
    """``value`` stripped, or ``None`` if blank; too long is refused naming the field in
    Danish (labels group ``citizen_fields``)."""
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > max_len:
        name = labels.label("citizen_fields", field)
        raise InvalidInput(f"{name} må højst have {max_len} tegn.", field=field)
    return value


def required_text(value: str | None, field: str, max_len: int) -> str:
    cleaned = optional_text(value, field, max_len)
    if cleaned is None:
        raise InvalidInput(f"{labels.label('citizen_fields', field)} skal udfyldes.", field=field)
    return cleaned


def checked_contact(phone: str | None, email: str | None) -> tuple[str | None, str | None]:
    """Phone and e-mail cleaned and checked (each optional)."""
    phone = optional_text(phone, "phone", 20)
    email = optional_text(email, "email", 254)
    if phone and not _PHONE.match(phone):
        raise InvalidInput("Telefonnummeret er ikke gyldigt.", field="phone")
    if email and not _EMAIL.match(email):
        raise InvalidInput("E-mailadressen er ikke gyldig.", field="email")
    return phone, email


@dataclass(frozen=True)
class _SealedCitizen:
    """A citizen checked and sealed, not yet stored."""

    cpr: Cpr
    index: str
    row: Citizen
    wrapped_key: bytes


def _seal_citizen(
    deps: ServiceDeps, actor: Actor, organisation_id: int, data: CitizenInput
) -> _SealedCitizen:
    """Check every field and seal the identity under a new data key, without touching the
    database."""
    cpr = parse_cpr_input(data.cpr, deps)
    name = required_text(data.name, "name", 200)
    phone, email = checked_contact(data.phone, data.email)
    municipality = required_text(data.municipality, "municipality", 100)
    gp_clinic = required_text(data.gp_clinic, "gp_clinic", 200)
    index = deps.crypto.blind_index(organisation_id, cpr.value)
    public_id = uuid.uuid4().hex
    vault = _vault(deps)
    key, wrapped = vault.new_key(public_id)
    row = Citizen(
        public_id=public_id,
        organisation_id=organisation_id,
        cpr_index=index,
        cpr_sealed=vault.seal(key, public_id, "cpr", cpr.value),
        name_sealed=vault.seal(key, public_id, "name", name),
        phone_sealed=vault.seal(key, public_id, "phone", phone) if phone else None,
        email_sealed=vault.seal(key, public_id, "email", email) if email else None,
        municipality=municipality,
        gp_clinic=gp_clinic,
        substitute_cpr=cpr.is_substitute,
        created_at=deps.clock.now(),
        created_by=actor.user_id,
    )
    return _SealedCitizen(cpr, index, row, wrapped)


def _store_citizen(
    session: Session, deps: ServiceDeps, actor: Actor, sealed: _SealedCitizen, dead: Citizen | None
) -> Citizen:
    """Insert the citizen. ``dead`` is the row that held the blind index when the caller
    looked (``repo.holder_and_liveness``) if it was not live: a row whose key is gone
    (brought back by an older backup) can never be read, so it gives up the index, as its
    deletion did. A live holder registered meanwhile by a concurrent request keeps it: the
    insert then fails on the unique index and the caller finds that citizen."""
    citizen = sealed.row
    if dead is not None:
        dead.cpr_index = None
        session.flush()
    session.add(citizen)
    session.flush()
    key = CitizenKey(
        citizen_id=citizen.id,
        purpose=IDENTITY_PURPOSE,
        wrapped_key=sealed.wrapped_key,
        created_at=citizen.created_at,
    )
    session.add(key)
    session.flush()
    set_committed_value(citizen, "identity_key", key)  # the row just written: no read back
    deps.audit.record(
        session,
        actor,
        action="citizen.created",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        details={"substitute_cpr": sealed.cpr.is_substitute},
    )
    return citizen


def register_citizen(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, data: CitizenInput
) -> Citizen:
    """Register a referred citizen in the organisation; refuses a CPR already registered
    there (found through the blind index, so the database never holds the CPR in clear)."""
    sealed = _seal_citizen(deps, actor, organisation_id, data)
    holder, live = repo.holder_and_liveness(session, organisation_id, sealed.index)
    if holder is not None and live:
        raise AlreadyRegistered(holder.public_id)
    return _store_citizen(session, deps, actor, sealed, holder)


def _record_search(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    criterion_hash: str,
    citizen: Citizen | None,
) -> None:
    deps.audit.record(
        session,
        actor,
        action="citizen.searched",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id if citizen else None,
        details={
            "criterion": "cpr",
            "criterion_hash": criterion_hash,
            "found": citizen is not None,
        },
    )


def find_by_cpr(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, cpr_text: str
) -> Citizen | None:
    """Look a citizen up by CPR inside the organisation (blind index). The search is
    audited with its criterion as a keyed hash (``Crypto.search_criterion_hash``, never the
    number nor the blind index) and whether it found someone.

    A number not registered in the organisation but in another is answered exactly as an
    unknown one; the attempt is recorded besides as ``citizen.cross_organisation_probe``
    (outcome deny) in each such organisation's log, so their DPO sees it among rejected
    access attempts, and the searcher's organisation sees only its own not-found search.
    """
    cpr = parse_cpr_input(cpr_text, deps)
    criterion_hash = deps.crypto.search_criterion_hash(cpr.value)
    citizen = repo.by_cpr_index(
        session, organisation_id, deps.crypto.blind_index(organisation_id, cpr.value)
    )
    _record_search(session, deps, actor, criterion_hash, citizen)
    if citizen is None:
        record_probes(session, deps, actor, organisation_id, cpr, via="search")
    return citizen


def submit_referral(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    organisation_id: int,
    citizen_data: CitizenInput,
    referral_data: ReferralInput,
) -> Referral:
    """A referral from a practice system's token, attributed to the token's referrer
    account (``actor``), in that account's organisation only.

    The caller is told nothing about whether the citizen was known: every field is checked
    and the identity sealed whether or not the CPR is already registered (so a known CPR
    with a bad e-mail is refused as a new one would be, and the costly work, key and
    sealing, is the same; only the two inserts of a new citizen differ), then the
    referral joins the citizen already registered or a new one. Two submissions of a
    new CPR at once both end on one citizen (the second waits on the unique index, then
    finds the first)."""
    sealed = _seal_citizen(deps, actor, organisation_id, citizen_data)
    _check_referral(deps, referral_data, sealed.cpr)
    criterion_hash = deps.crypto.search_criterion_hash(sealed.cpr.value)
    holder, live = repo.holder_and_liveness(session, organisation_id, sealed.index)
    citizen = holder if live else None
    _record_search(session, deps, actor, criterion_hash, citizen)
    created = False
    if citizen is None:
        try:
            with session.begin_nested():
                citizen = _store_citizen(session, deps, actor, sealed, holder)
            created = True
        except IntegrityError:
            citizen = repo.by_cpr_index(session, organisation_id, sealed.index)
            if citizen is None:
                raise
    referral = register_referral(session, deps, actor, citizen, referral_data)
    if created:  # all a new citizen holds: its identity key and this referral
        repo.note_new_citizen(session, citizen, [referral], [IDENTITY_PURPOSE])
    return referral


def citizen_in_organisation(session: Session, organisation_id: int, public_id: str) -> Citizen:
    """The live citizen ``public_id`` of the organisation: the one way a request loads a
    citizen by id. An unknown id and another organisation's citizen both raise
    ``NotFound``; the second is a ``ProbeNotFound``, recorded as a rejected
    cross-organisation attempt in that organisation's log (its DPO sees it), not the
    caller's."""
    citizen = repo.by_public_id(session, organisation_id, public_id)
    if citizen is not None:
        return citizen
    foreign = repo.by_public_id_any_organisation(session, public_id)
    if foreign is not None and foreign.organisation_id != organisation_id:
        raise probe_not_found(organisation_id, foreign)
    raise NotFound("citizen")


def referrals(session: Session, citizen: Citizen) -> Sequence[Referral]:
    """The citizen's referrals, oldest first."""
    return repo.referrals_of(session, citizen.id)


def decrypt(deps: ServiceDeps, citizen: Citizen) -> CitizenView:
    """The citizen's sealed fields, opened with their identity key (not audited: the
    use case that shows them records the read)."""
    vault = _vault(deps)
    key = vault.unwrap(citizen.public_id, citizen.wrapped_key)
    pid = citizen.public_id
    if citizen.cpr_sealed is None or citizen.name_sealed is None:
        raise CitizenKeyDestroyed(pid)

    def opt(column: str, sealed: bytes | None) -> str | None:
        return vault.open(key, pid, column, sealed) if sealed is not None else None

    cpr_value = vault.open(key, pid, "cpr", citizen.cpr_sealed)
    return CitizenView(
        public_id=pid,
        cpr=parse_cpr(cpr_value, today=date.max),
        name=vault.open(key, pid, "name", citizen.name_sealed),
        phone=opt("phone", citizen.phone_sealed),
        email=opt("email", citizen.email_sealed),
        municipality=citizen.municipality,
        gp_clinic=citizen.gp_clinic,
        substitute_cpr=citizen.substitute_cpr,
    )


def read_citizen(
    session: Session, deps: ServiceDeps, actor: Actor, citizen: Citizen, purpose: str
) -> CitizenView:
    """Decrypt a citizen's fields for display; audited as a read with its purpose."""
    view = decrypt(deps, citizen)
    deps.audit.record(
        session,
        actor,
        action="citizen.read",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        details={"purpose": purpose},
    )
    return view


def _check_referral(deps: ServiceDeps, data: ReferralInput, cpr: Cpr) -> str:
    """Refuse a referral that cannot be; returns its clinic, cleaned."""
    if data.referrer_kind not in REFERRER_KINDS:
        raise InvalidInput("Ukendt henvisertype.", field="referrer_kind")
    clinic = (
        optional_text(data.clinic, "clinic", 200)
        if data.referrer_kind == "self"
        else required_text(data.clinic, "clinic", 200)
    ) or ""
    today = legal_today(deps.clock)
    if data.referred_on > today:
        raise InvalidInput("Henvisningsdatoen kan ikke ligge i fremtiden.", field="referred_on")
    if data.course_start_on is not None and data.course_start_on < data.referred_on:
        raise InvalidInput(
            "Forløbets startdato kan ikke ligge før henvisningen.", field="course_start_on"
        )
    if data.referred_on < cpr.birth_date:
        raise InvalidInput(
            "Henvisningsdatoen kan ikke ligge før borgerens fødselsdato.", field="referred_on"
        )
    return clinic


def register_referral(
    session: Session, deps: ServiceDeps, actor: Actor, citizen: Citizen, data: ReferralInput
) -> Referral:
    """Record a referral. Age at referral decides data collection (18+); the navigator offer
    is given regardless of age or consent. The cohort follows from the course start date."""
    view = decrypt(deps, citizen)
    clinic = _check_referral(deps, data, view.cpr)
    adult = is_adult_on(view.cpr, data.referred_on)
    cohort = cohort_for(data.course_start_on) if data.course_start_on else None
    referral = Referral(
        public_id=uuid.uuid4().hex,
        citizen_id=citizen.id,
        organisation_id=citizen.organisation_id,
        referrer_kind=data.referrer_kind,
        clinic=clinic,
        referred_on=data.referred_on,
        course_start_on=data.course_start_on,
        cohort=cohort.id if cohort else None,
        adult_at_referral=adult,
        norddjurs_link=data.norddjurs_link,
        reachable=data.reachable,
        created_at=deps.clock.now(),
        created_by=actor.user_id,
    )
    session.add(referral)
    session.flush()
    deps.audit.record(
        session,
        actor,
        action="referral.created",
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        details={
            "referral": referral.public_id,
            "referrer_kind": data.referrer_kind,
            "cohort": referral.cohort,
            "adult_at_referral": adult,
        },
    )
    uow.record(session, uow.CitizenChanged(citizen.id))
    return referral

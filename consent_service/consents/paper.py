"""Paper originals accounted for: the data controller's locations, and each signed
original's custody (stored, taken out, returned, destroyed), audited.

A signed original is the paper form of a recorded given consent (a consent with a form).
Its custody is append-only (``paper_models.PaperCustody``); its state is the newest fact.
The rules: an original can be taken out only when it is in its place, returned only when
it is out, and destroyed once; a destroyed original never comes back. Of two requests
appending to the same original at once one wins: the next ``seq`` is unique per consent,
the loser's row is refused by the database and the request answers 409 (nothing changes).

Originals await destruction at the pilot's end (``retention/schedule.yaml`` pilot_end) or
when their citizen is erased; ``policies/paper.yaml`` says how long they may be out and
how long after that day they must be destroyed (the DPO's list of originals not accounted
for)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.citizens.models import Citizen
from consent_service.clock import LEGAL_TZ
from consent_service.consents import paper_query as query
from consent_service.consents.models import Consent, shown_code
from consent_service.consents.paper_models import (
    DESTROYED,
    RETURNED,
    STORED,
    TAKEN_OUT,
    PaperCustody,
    PaperLocation,
)
from consent_service.consents.paper_policy import paper_rules, refusal
from consent_service.errors import InvalidInput, NotFound, RuleRefusal
from consent_service.retention.schedule import default_schedule
from consent_service.services import ServiceDeps
from consent_service.text import ascii_number

NAME_MAX = 200
PERSON_MAX = 200
NOTE_MAX = 500
NO_PLACE = "Vælg, hvor originalen lægges."

# The actions a navigator records on the citizen's page (destruction has its own step).
HANDLING = (STORED, TAKEN_OUT, RETURNED)


# --- locations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LocationView:
    location: PaperLocation
    originals_here: int  # originals whose newest fact places them here


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("Skriv placeringens navn, fx »Skab 2, Grenaa Sundhedshus«.", "name")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"Navnet må højst være {NAME_MAX} tegn.", "name")
    return name


def locations(session: Session, organisation_id: int) -> list[LocationView]:
    """The organisation's locations (active and retired) with the originals in each."""
    here: dict[int, int] = {}
    for row in query.current_rows(session, organisation_id):
        if row.event in (STORED, RETURNED) and row.location_id is not None:
            here[row.location_id] = here.get(row.location_id, 0) + 1
    rows = query.location_rows(session, organisation_id)
    return [LocationView(loc, here.get(loc.id, 0)) for loc in rows]


def active_locations(session: Session, organisation_id: int) -> list[PaperLocation]:
    return [loc for loc in query.location_rows(session, organisation_id) if loc.retired_at is None]


def location_in_organisation(
    session: Session, organisation_id: int, location_id: int
) -> PaperLocation:
    """The organisation's location ``location_id``; another organisation's is NotFound."""
    loc = session.get(PaperLocation, location_id)
    if loc is None or loc.organisation_id != organisation_id:
        raise NotFound("paper location")
    return loc


def chosen_location(raw: str) -> int:
    """The id of the place a form chose for an original (``location_id``); an empty field or
    anything but an id is refused on the field (``storable_location`` checks the place)."""
    if not raw.strip():
        raise InvalidInput(NO_PLACE, "location_id")
    number = ascii_number(raw, 12)
    if number is None:
        raise InvalidInput("Vælg en af placeringerne.", "location_id")
    return number


def storable_location(session: Session, organisation_id: int, location_id: int) -> PaperLocation:
    """The organisation's location ``location_id`` if an original may be put there now;
    another organisation's, an unknown or a retired one is refused on the form's field."""
    try:
        loc = location_in_organisation(session, organisation_id, location_id)
    except NotFound:
        raise InvalidInput("Vælg en af placeringerne.", "location_id") from None
    if loc.retired_at is not None:
        raise InvalidInput("Placeringen er udgået. Vælg en anden.", "location_id")
    return loc


def _name_taken(session: Session, organisation_id: int, name: str, but: int | None) -> bool:
    return any(
        loc.name.casefold() == name.casefold() and loc.id != but and loc.retired_at is None
        for loc in query.location_rows(session, organisation_id)
    )


def create_location(
    session: Session, deps: ServiceDeps, actor: Actor, organisation_id: int, name: str
) -> PaperLocation:
    name = _clean_name(name)
    if _name_taken(session, organisation_id, name, None):
        raise InvalidInput("Der findes allerede en placering med det navn.", "name")
    loc = PaperLocation(
        organisation_id=organisation_id,
        name=name,
        created_at=deps.clock.now(),
        created_by=actor.user_id or 0,
    )
    session.add(loc)
    session.flush()
    _audit_location(session, deps, actor, loc, action="paper.location_created")
    return loc


def rename_location(
    session: Session, deps: ServiceDeps, actor: Actor, loc: PaperLocation, name: str
) -> None:
    name = _clean_name(name)
    if loc.retired_at is not None:
        raise RuleRefusal("Placeringen er udgået og kan ikke omdøbes.")
    if _name_taken(session, loc.organisation_id, name, loc.id):
        raise InvalidInput("Der findes allerede en placering med det navn.", "name")
    loc.name = name
    session.flush()
    _audit_location(session, deps, actor, loc, action="paper.location_renamed")


def retire_location(session: Session, deps: ServiceDeps, actor: Actor, loc: PaperLocation) -> None:
    """Retire a location: no longer offered. It stays in the history it appears in; a
    location holding originals must be emptied first."""
    if loc.retired_at is not None:
        raise RuleRefusal("Placeringen er allerede udgået.")
    here = {v.location.id: v.originals_here for v in locations(session, loc.organisation_id)}
    if held := here.get(loc.id, 0):
        raise RuleRefusal(
            f"Der ligger {held} original(er) i placeringen. Flyt dem, før placeringen udgår."
        )
    loc.retired_at = deps.clock.now()
    session.flush()
    _audit_location(session, deps, actor, loc, action="paper.location_retired")


def _audit_location(
    session: Session, deps: ServiceDeps, actor: Actor, loc: PaperLocation, *, action: str
) -> None:
    deps.audit.record(
        session,
        actor,
        action=action,
        outcome="success",
        resource_type="paper_location",
        resource_id=str(loc.id),
        organisation_id=loc.organisation_id,
        details={"location": loc.id},
    )


# --- custody -----------------------------------------------------------------------------


def is_signed_original(consent: Consent) -> bool:
    """A recorded given consent with a printed form: there is a signed paper original."""
    return consent.decision == "given" and consent.form_id is not None


@dataclass(frozen=True)
class Custody:
    """An original's custody as the citizen's page shows it."""

    consent_public_id: str
    state: str | None  # the newest fact's event; None: never recorded
    location: str | None  # where it is (stored / returned), else None
    history: tuple[tuple[PaperCustody, str | None], ...]  # (fact, location name)
    due_for_destruction: bool

    @property
    def may(self) -> dict[str, bool]:
        return {event: refusal(self.state, event) is None for event in (*HANDLING, DESTROYED)}


def _after_pilot_end() -> date:  # every original awaits destruction from this day
    return default_schedule().pilot_end + timedelta(days=1)


def destruction_due_on(citizen: Citizen) -> date:
    """The day the original awaits destruction from: the pilot's end, or the citizen's
    erasure if earlier."""
    end = _after_pilot_end()
    if citizen.deleted_at is not None:
        return min(end, citizen.deleted_at.astimezone(LEGAL_TZ).date())
    return end


def custody_view(session: Session, citizen: Citizen, consent: Consent, today: date) -> Custody:
    rows = query.histories_of(session, consent.citizen_id).get(consent.id, ())
    names = {loc.id: loc.name for loc in query.location_rows(session, consent.organisation_id)}
    state = rows[-1].event if rows else None
    where = rows[-1].location_id if rows and state in (STORED, RETURNED) else None
    return Custody(
        consent.public_id,
        state,
        names.get(where) if where is not None else None,
        tuple((r, names.get(r.location_id) if r.location_id else None) for r in rows),
        today >= destruction_due_on(citizen) and state != DESTROYED,
    )


def custody_for_citizen(session: Session, citizen: Citizen, today: date) -> dict[str, Custody]:
    """Each signed original of the citizen by its consent's public id."""
    consents = query.consents_of(session, citizen.id)
    return {
        c.public_id: custody_view(session, citizen, c, today)
        for c in consents
        if is_signed_original(c)
    }


def record(
    session: Session,
    deps: ServiceDeps,
    actor: Actor,
    citizen: Citizen,
    consent: Consent,
    event: str,
    *,
    occurred_on: date,
    person: str,
    location_id: int | None = None,
    note: str = "",
) -> PaperCustody:
    """Append ``event`` to the original's custody, audited in the same transaction."""
    if not is_signed_original(consent):
        raise RuleRefusal("Der er ingen underskrevet original til denne registrering.")
    person = " ".join(person.split())
    note = note.strip()
    loc: PaperLocation | None = None
    if event in (STORED, RETURNED):
        if location_id is None:
            raise InvalidInput(NO_PLACE, "location_id")
        loc = storable_location(session, consent.organisation_id, location_id)
    if not person:
        raise InvalidInput("Skriv, hvem der gør det.", "person")
    if len(person) > PERSON_MAX:
        raise InvalidInput(f"Højst {PERSON_MAX} tegn.", "person")
    if len(note) > NOTE_MAX:
        raise InvalidInput(f"Højst {NOTE_MAX} tegn.", "note")
    if event == TAKEN_OUT and not note:
        raise InvalidInput("Skriv, hvorfor originalen tages ud.", "note")
    if event == DESTROYED and not note:
        raise InvalidInput("Skriv, hvordan originalen er destrueret, fx »makuleret«.", "note")
    rows = query.history(session, consent.id)
    why_not = refusal(rows[-1].event if rows else None, event)
    if why_not:
        raise RuleRefusal(why_not)
    fact = PaperCustody(
        consent_id=consent.id,
        organisation_id=consent.organisation_id,
        seq=(rows[-1].seq if rows else 0) + 1,
        event=event,
        location_id=loc.id if loc else None,
        occurred_on=occurred_on,
        person=person,
        note=note or None,
        recorded_at=deps.clock.now(),
        recorded_by=actor.user_id or 0,
    )
    try:
        with session.begin_nested():
            session.add(fact)
            session.flush()
    except IntegrityError:
        # Another request appended to this original's custody at the same moment.
        raise RuleRefusal(
            "Originalen blev registreret af en anden i samme øjeblik. Se historikken og prøv igen."
        ) from None
    action = {STORED: "paper.stored", TAKEN_OUT: "paper.taken_out",
              RETURNED: "paper.returned"}.get(event, "paper.destroyed")  # fmt: skip
    deps.audit.record(
        session,
        actor,
        action=action,
        outcome="success",
        resource_type="citizen",
        resource_id=citizen.public_id,
        organisation_id=consent.organisation_id,
        details={"consent": consent.public_id, "location": fact.location_id, "seq": fact.seq},
    )
    return fact


def form_code(session: Session, consent: Consent) -> str | None:
    """The short code printed on the original (how a person finds it in the drawer)."""
    form = query.form_of(session, consent.form_id)
    return form.code_shown if form is not None else None


# --- destruction and oversight -------------------------------------------------------------


@dataclass(frozen=True)
class Original:
    """A signed original in a list (worklist, DPO): its consent, citizen, form code and
    where it is."""

    consent: Consent
    citizen: Citizen
    form_code: str | None
    state: str | None
    location: str | None
    since: date | None
    due_on: date


def _originals(
    session: Session, organisation_id: int, *, erased_only: bool = False
) -> list[Original]:
    found = query.given_with_forms(session, organisation_id, erased_only=erased_only)
    if not found:
        return []
    current = {row.consent_id: row for row in query.current_rows(session, organisation_id)}
    names = {loc.id: loc.name for loc in query.location_rows(session, organisation_id)}
    out = []
    for consent, citizen, short_code in found:
        row = current.get(consent.id)
        out.append(
            Original(
                consent,
                citizen,
                shown_code(short_code),
                row.event if row else None,
                names.get(row.location_id) if row and row.location_id else None,
                row.occurred_on if row else None,
                destruction_due_on(citizen),
            )
        )
    return out


def not_destroyed(session: Session, organisation_id: int) -> int:
    """How many of the organisation's signed originals are not recorded as destroyed (the
    paper itself outlives every deletion in the database until someone destroys it)."""
    return sum(1 for o in _originals(session, organisation_id) if o.state != DESTROYED)


def awaiting_destruction(session: Session, organisation_id: int, today: date) -> list[Original]:
    """The organisation's originals due for destruction and not destroyed. Before the
    pilot's end only an erased citizen's originals can be due, so only those are read (the
    worklist asks on every view)."""
    before_end = today < _after_pilot_end()
    return [
        o
        for o in _originals(session, organisation_id, erased_only=before_end)
        if o.state != DESTROYED and today >= o.due_on
    ]


@dataclass(frozen=True)
class Unaccounted:
    """The DPO's view: originals with no custody record, out too long, or past their
    destruction deadline."""

    never_recorded: list[Original]
    out_too_long: list[Original]
    not_destroyed: list[Original]
    max_days_out: int
    destroy_within_days: int

    @property
    def total(self) -> int:
        return len(self.never_recorded) + len(self.out_too_long) + len(self.not_destroyed)


def unaccounted(session: Session, organisation_id: int, today: date) -> Unaccounted:
    rules = paper_rules()
    originals = _originals(session, organisation_id)
    return Unaccounted(
        never_recorded=[o for o in originals if o.state is None],
        out_too_long=[
            o
            for o in originals
            if o.state == TAKEN_OUT
            and o.since is not None
            and (today - o.since).days > rules.max_days_out
        ],
        not_destroyed=[
            o
            for o in originals
            if o.state != DESTROYED and (today - o.due_on).days > rules.destroy_within_days
        ],
        max_days_out=rules.max_days_out,
        destroy_within_days=rules.destroy_within_days,
    )


def destruction_preview(
    session: Session,
    citizen: Citizen,
    consent: Consent,
    today: date,
    person: str,
    how: str,
) -> tuple[str, ...]:
    """What recording the destruction means (the confirmation step); refuses what the
    record would refuse (nothing to destroy, destroyed already, no person or method)."""
    rows = query.history(session, consent.id)
    if not is_signed_original(consent):
        raise RuleRefusal("Der er ingen underskrevet original til denne registrering.")
    why_not = refusal(rows[-1].event if rows else None, DESTROYED)
    if why_not:
        raise RuleRefusal(why_not)
    if not " ".join(person.split()):
        raise InvalidInput("Skriv, hvem der gør det.", "person")
    if not how.strip():
        raise InvalidInput("Skriv, hvordan originalen er destrueret, fx »makuleret«.", "note")
    due = destruction_due_on(citizen)
    lines = [
        "Det registreres, at den underskrevne original er destrueret: af hvem, hvordan og hvornår.",
        "Registreringen kan ikke fortrydes; originalen kan derefter ikke lægges på plads igen.",
        "Scanningen og samtykkeregistreringen bevares efter opbevaringsreglerne.",
    ]
    if today < due:
        lines.append(f"Bemærk: originalen skal efter reglerne først destrueres fra {due:%d-%m-%Y}.")
    return tuple(lines)

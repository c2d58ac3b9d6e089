"""Steps about consents. They decide with the service's own rules
(``consent_service.consents.rules``), never with a copy of them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from pytest_bdd import given, parsers, then, when

from consent_service.consents.rules import (
    ConsentFacts,
    ConsentStatus,
    CoverageReason,
    WithdrawalOutcome,
    can_withdraw,
    consent_covers,
    data_collection_allowed,
    expiring_within,
    status_on,
    validity_end,
)
from consent_service.consents.templates import load_registry, load_template
from tests.bdd.steps.common import DATE, World, danish_date, kind

D = {"day": danish_date}
KIND_WORDS = {"journal": "journal", "trivsel": "wellbeing"}
REASONS = {
    "samtykket er udløbet": CoverageReason.EXPIRED,
    "samtykket endnu ikke er givet": CoverageReason.NOT_YET_SIGNED,
    "samtykket er tilbagekaldt": CoverageReason.WITHDRAWN,
    "samtykket ikke er indført i patientjournalen": CoverageReason.NOT_ENTERED_IN_JOURNAL,
    "borgeren var under 18 år ved henvisningen": CoverageReason.UNDER_18,
    "borgeren har sagt nej": CoverageReason.REFUSED,
    "der ikke er noget samtykke": CoverageReason.NO_CONSENT,
    "samtykket er ugyldiggjort": CoverageReason.INVALIDATED,
}
STATUSES = {
    "anmodet": ConsentStatus.REQUESTED,
    "givet": ConsentStatus.GIVEN,
    "afslået": ConsentStatus.REFUSED,
    "tilbagekaldt": ConsentStatus.WITHDRAWN,
    "udløbet": ConsentStatus.EXPIRED,
    "ugyldiggjort": ConsentStatus.INVALIDATED,
}


# --- Givet -------------------------------------------------------------------------------


@given(
    parsers.re(rf"et (?P<word>journal|trivsel)s?samtykke underskrevet den (?P<day>{DATE})"),
    converters=D,
)
def signed_consent(world: World, word: str, day: date) -> None:
    world.facts = ConsentFacts(
        kind=KIND_WORDS[word], signed_on=day, subject_birth_date=world.birth_date,
        referred_on=world.referred_on,
    )  # fmt: skip


@given(
    parsers.re(rf"borgeren har sagt nej til et journalsamtykke den (?P<day>{DATE})"), converters=D
)
def refused_consent(world: World, day: date) -> None:
    world.facts = ConsentFacts(kind="journal", refused_on=day)


@given("samtykket er indført i patientjournalen samme dag")
def entered_same_day(world: World) -> None:
    world.facts = replace(world.facts, journal_entry_confirmed_on=world.facts.signed_on)


@given(parsers.re(rf"samtykket er indført i patientjournalen den (?P<day>{DATE})"), converters=D)
def entered_on(world: World, day: date) -> None:
    world.facts = replace(world.facts, journal_entry_confirmed_on=day)


@given(
    parsers.re(
        rf"der er (?:indhentet oplysninger|indsamlet trivselsoplysninger) den (?P<day>{DATE})"
    ),
    converters=D,
)
def data_obtained(world: World, day: date) -> None:
    world.facts = replace(world.facts, data_obtained_on=day)


@given(parsers.re(rf"en borger født den (?P<day>{DATE})"), converters=D)
def born_on(world: World, day: date) -> None:
    world.birth_date = day


@given(parsers.re(rf"borgeren er henvist den (?P<day>{DATE})"), converters=D)
def referred_given(world: World, day: date) -> None:
    world.referred_on = day


@given(
    parsers.re(
        rf"en borger på (?P<age>\d+) år, der er henvist til en social navigatør den (?P<day>{DATE})"
    ),
    converters={"day": danish_date, "age": int},
)
def citizen_of_age(world: World, age: int, day: date) -> None:
    world.birth_date = day.replace(year=day.year - age) - timedelta(days=100)
    world.referred_on = day


@given(
    parsers.re(
        r"borgerens (?P<word>journal|trivsel)s?samtykke er "
        r"(?P<situation>ikke givet|afslået|givet|tilbagekaldt|udløbet|ugyldiggjort)"
    )
)
def consent_in_situation(world: World, word: str, situation: str) -> None:
    referred = world.referred_on
    assert referred is not None
    kind_id = KIND_WORDS[word]
    world.described[kind_id] = STATUSES.get(situation, ConsentStatus.REQUESTED)
    if situation == "ikke givet":
        world.facts = ConsentFacts(kind=kind_id)
        return
    if situation == "afslået":
        world.facts = ConsentFacts(kind=kind_id, refused_on=referred)
        return
    # "udløbet": an earlier consent, signed more than a year before the referral.
    signed = referred - timedelta(days=400) if situation == "udløbet" else referred
    facts = ConsentFacts(kind=kind_id, signed_on=signed, journal_entry_confirmed_on=signed)
    if situation == "tilbagekaldt":
        facts = replace(facts, withdrawn_on=referred + timedelta(days=30))
    elif situation == "ugyldiggjort":
        facts = replace(facts, invalidated_on=referred + timedelta(days=10))
    world.facts = facts


# --- Når ---------------------------------------------------------------------------------


@when(parsers.re(rf"borgeren tilbagekalder samtykket den (?P<day>{DATE})"), converters=D)
def withdraw(world: World, day: date) -> None:
    world.withdrawal = can_withdraw(world.facts, kind(world.facts.kind), day)
    if world.withdrawal.allowed:
        world.facts = replace(world.facts, withdrawn_on=day)


@when(parsers.re(rf"navigatøren ser på forløbet den (?P<day>{DATE})"), converters=D)
def look_at_course(world: World, day: date) -> None:
    world.on = day


@when(parsers.re(rf"borgeren henvises den (?P<day>{DATE})"), converters=D)
def referred_when(world: World, day: date) -> None:
    world.referred_on = day


# --- Så ----------------------------------------------------------------------------------


def _check_coverage(world: World, on: date, result: str) -> None:
    coverage = consent_covers(world.facts, kind(world.facts.kind), on)
    if result == "dækket":
        assert coverage.covered, f"not covered on {on}: {coverage.reason}"
        return
    why = result.removeprefix("ikke dækket, fordi ")
    assert not coverage.covered, f"covered on {on}"
    assert coverage.reason is REASONS[why], f"{coverage.reason} on {on}"


@then(
    parsers.re(
        rf"(?:er )?(?:en indhentning|behandling) den (?P<day>{DATE}) (?:(?:er|var) )?"
        r"(?P<result>dækket|ikke dækket, fordi .+)"
    ),
    converters=D,
)
def coverage_on(world: World, day: date, result: str) -> None:
    _check_coverage(world, day, result)


@then(
    parsers.re(
        r"(?:er )?en indhentning (?P<n>\d+) dage efter underskriften (?:er )?"
        r"(?P<result>dækket|ikke dækket, fordi .+)"
    ),
    converters={"n": int},
)
def coverage_days_after(world: World, n: int, result: str) -> None:
    assert world.facts.signed_on is not None
    _check_coverage(world, world.facts.signed_on + timedelta(days=n), result)


@then(parsers.re(rf"(?:er )?den sidste dag, samtykket dækker, den (?P<day>{DATE})"), converters=D)
def last_day(world: World, day: date) -> None:
    assert world.facts.signed_on is not None
    assert validity_end(kind(world.facts.kind), world.facts.signed_on) == day


@then(
    parsers.re(
        rf'(?:har samtykket|samtykket har) status "(?P<name>[a-zæøå]+)" den (?P<day>{DATE})'
    ),
    converters=D,
)
def status_is(world: World, name: str, day: date) -> None:
    assert status_on(world.facts, kind(world.facts.kind), day) is STATUSES[name]


@then(
    parsers.re(
        r"(?:står samtykket|samtykket står) (?P<neg>ikke )?på listen over samtykker, der "
        rf"udløber inden for (?P<days>\d+) dage, den (?P<day>{DATE})"
    ),
    converters={"day": danish_date, "days": int},
)
def on_expiry_list(world: World, neg: str | None, days: int, day: date) -> None:
    expected = not neg
    assert expiring_within(world.facts, kind(world.facts.kind), day, days) is expected


@then(parsers.re("(?:er tilbagekaldelsen registreret)"))
def withdrawal_recorded(world: World) -> None:
    assert world.withdrawal is not None
    assert world.withdrawal.allowed
    assert world.facts.withdrawn_on == world.withdrawal.effective_from


@then("der er ikke indhentet oplysninger på grundlag af samtykket")
def nothing_obtained(world: World) -> None:
    assert world.withdrawal is not None
    assert not world.withdrawal.data_already_obtained
    assert world.withdrawal.outcome is WithdrawalOutcome.STOPS_ALL_USE


@then("de oplysninger, der allerede er indhentet, forbliver lovligt indhentet")
def obtained_stays_lawful(world: World) -> None:
    assert world.withdrawal is not None
    assert world.withdrawal.data_already_obtained
    assert world.withdrawal.earlier_use_remains_lawful
    assert world.withdrawal.outcome is WithdrawalOutcome.STOPS_FURTHER_USE


@then(
    parsers.re(rf"der må ikke indhentes flere oplysninger efter den (?P<day>{DATE})"), converters=D
)
def no_more_after(world: World, day: date) -> None:
    assert world.withdrawal is not None
    assert not world.withdrawal.further_use_allowed
    for later in (day, day + timedelta(days=1), day + timedelta(days=200)):
        coverage = consent_covers(world.facts, kind(world.facts.kind), later)
        assert coverage.reason is CoverageReason.WITHDRAWN


@then(parsers.re(r'forklaringen til borgeren indeholder "(?P<text>.+)"'))
def explanation_contains(world: World, text: str) -> None:
    assert world.withdrawal is not None
    assert text in world.withdrawal.message


@then("behandling før tilbagekaldelsen er fortsat lovlig")
def earlier_processing_lawful(world: World) -> None:
    assert world.withdrawal is not None
    assert world.withdrawal.earlier_use_remains_lawful
    assert world.withdrawal.effective_from == world.facts.withdrawn_on


@then("er der intet samtykke at tilbagekalde")
def nothing_to_withdraw(world: World) -> None:
    assert world.withdrawal is not None
    assert not world.withdrawal.allowed
    assert world.withdrawal.outcome is WithdrawalOutcome.NOT_GIVEN
    assert world.facts.withdrawn_on is None


@then(parsers.re(r"(?:indgår borgeren|borgeren indgår) (?P<neg>ikke )?i dataindsamlingen"))
def data_collection(world: World, neg: str | None) -> None:
    assert world.birth_date is not None
    assert world.referred_on is not None
    assert data_collection_allowed(world.birth_date, world.referred_on) is (not neg)


# --- the wellbeing text ------------------------------------------------------------------


@given(
    parsers.re(
        r"den offentliggjorte danske samtykketekst til trivselsoplysninger, "
        r"version (?P<version>v\d+)"
    )
)
def published_wellbeing_text(world: World, version: str) -> None:
    world.template = load_template("wellbeing", "da", version)


def _text(world: World) -> str:
    assert world.template is not None
    return " ".join(world.template.body.replace("**", "").split())


@then(parsers.re(r'nævner teksten "(?P<word>[a-zæøå]+)" personoplysninger'))
def names_data_category(world: World, word: str) -> None:
    assert f"{word} personoplysninger" in _text(world)


@then(parsers.re(r'nævner teksten retsgrundlaget "(?P<basis>.+)"'))
def names_legal_basis(world: World, basis: str) -> None:
    assert basis in _text(world)
    assert basis.lower() in {b.text_da.lower() for b in kind("wellbeing").legal_bases}


@then(parsers.re(r'(?:indeholder teksten|teksten indeholder) "(?P<text>.+)"'))
def text_contains(world: World, text: str) -> None:
    assert text in _text(world)


@then("svarer tekstens SHA-256 til den, der er registreret som offentliggjort")
def hash_is_published(world: World) -> None:
    template = world.template
    assert template is not None
    published = load_registry().sha256_of(template.kind, template.language, template.version)
    assert template.published
    assert published == template.sha256


@then("samtykketypen angiver de samme tre slags personoplysninger")
def kind_names_the_categories(world: World) -> None:
    assert set(kind("wellbeing").data_categories) == {"ordinary", "confidential", "sensitive"}

"""The legal rules of the consents, over many dates (leap years included)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from consent_service.consents.kinds import (
    DEFAULT_CONSENTS_FILE,
    ConsentKind,
    ConsentKindsError,
    load_consent_kinds,
)
from consent_service.consents.rules import (
    ConsentFacts,
    ConsentStatus,
    CoverageReason,
    WithdrawalOutcome,
    anniversary,
    can_withdraw,
    consent_covers,
    data_collection_allowed,
    expiring_within,
    journal_consent_covers,
    status_on,
    validity_end,
)

KINDS = load_consent_kinds()
JOURNAL = KINDS.kinds["journal"]
WELLBEING = KINDS.kinds["wellbeing"]

days = st.dates(date(2024, 1, 1), date(2040, 12, 31))
leap_days = st.sampled_from([date(y, 2, 29) for y in (2024, 2028, 2032, 2036, 2040)])
signing_days = st.one_of(days, leap_days, st.dates(date(2027, 2, 20), date(2027, 3, 10)))


def journal(signed_on: date, **changes: date | None) -> ConsentFacts:
    """A journal consent signed and entered in the journal the same day."""
    facts = ConsentFacts(kind="journal", signed_on=signed_on, journal_entry_confirmed_on=signed_on)
    return replace(facts, **changes)


# --- validity ----------------------------------------------------------------------------


def test_the_period_is_data() -> None:
    assert JOURNAL.validity.period_years == 1
    assert JOURNAL.validity.last_covered_day == "day_before_anniversary"
    assert WELLBEING.validity.period_years is None


@pytest.mark.parametrize(
    ("signed", "last"),
    [
        (date(2026, 3, 10), date(2027, 3, 9)),
        (date(2026, 1, 1), date(2026, 12, 31)),
        (date(2026, 12, 31), date(2027, 12, 30)),
        (date(2027, 3, 1), date(2028, 2, 29)),  # leap year ahead: 29 Feb is the last day
        (date(2028, 2, 29), date(2029, 2, 28)),  # signed 29 Feb: last day 28 Feb
        (date(2028, 2, 28), date(2029, 2, 27)),
        (date(2028, 3, 1), date(2029, 2, 28)),
    ],
)
def test_last_covered_day(signed: date, last: date) -> None:
    assert validity_end(JOURNAL, signed) == last


def test_wellbeing_has_no_fixed_end() -> None:
    assert validity_end(WELLBEING, date(2026, 3, 10)) is None


@given(signing_days)
def test_364_days_after_signing_is_covered_and_366_is_not(signed: date) -> None:
    facts = journal(signed)
    assert journal_consent_covers(facts, JOURNAL, signed).covered
    assert journal_consent_covers(facts, JOURNAL, signed + timedelta(days=364)).covered
    late = journal_consent_covers(facts, JOURNAL, signed + timedelta(days=366))
    assert not late.covered
    assert late.reason is CoverageReason.EXPIRED


@given(signing_days)
def test_the_validity_is_one_calendar_year_of_days(signed: date) -> None:
    end = validity_end(JOURNAL, signed)
    assert end is not None
    assert (end - signed).days + 1 == (anniversary(signed, 1) - signed).days  # 365 or 366
    assert end < anniversary(signed, 1)
    assert journal_consent_covers(journal(signed), JOURNAL, end).covered
    assert not journal_consent_covers(journal(signed), JOURNAL, end + timedelta(days=1)).covered


@given(leap_days)
def test_signed_29_february_covers_up_to_28_february(signed: date) -> None:
    end = validity_end(JOURNAL, signed)
    assert end == date(signed.year + 1, 2, 28)
    assert status_on(journal(signed), JOURNAL, date(signed.year + 1, 2, 28)) is ConsentStatus.GIVEN
    assert status_on(journal(signed), JOURNAL, date(signed.year + 1, 3, 1)) is (
        ConsentStatus.EXPIRED
    )


@given(signing_days, st.integers(0, 800), st.integers(0, 800))
def test_coverage_is_monotone(signed: date, later: int, earlier: int) -> None:
    """Covered on day d implies covered on every day from signing up to d."""
    facts = journal(signed)
    d = signed + timedelta(days=later)
    e = signed + timedelta(days=min(earlier, later))
    if journal_consent_covers(facts, JOURNAL, d).covered:
        assert journal_consent_covers(facts, JOURNAL, e).covered


@given(signing_days, st.integers(0, 400), st.integers(0, 800), st.integers(0, 800))
def test_covered_days_are_one_unbroken_stretch(
    signed: date, confirmed_after: int, a: int, b: int
) -> None:
    facts = journal(signed, journal_entry_confirmed_on=signed + timedelta(days=confirmed_after))
    lo, hi = sorted((signed + timedelta(days=a), signed + timedelta(days=b)))
    if (
        journal_consent_covers(facts, JOURNAL, lo).covered
        and journal_consent_covers(facts, JOURNAL, hi).covered
    ):
        middle = lo + (hi - lo) / 2
        assert journal_consent_covers(facts, JOURNAL, middle).covered


@given(signing_days, st.integers(1, 2000))
def test_nothing_is_covered_before_signing(signed: date, before: int) -> None:
    coverage = journal_consent_covers(journal(signed), JOURNAL, signed - timedelta(days=before))
    assert coverage.reason is CoverageReason.NOT_YET_SIGNED


# --- journal entry -----------------------------------------------------------------------


@given(signing_days, st.integers(1, 300))
def test_not_usable_before_the_journal_entry_is_confirmed(signed: date, delay: int) -> None:
    entered = signed + timedelta(days=delay)
    facts = journal(signed, journal_entry_confirmed_on=entered)
    before = journal_consent_covers(facts, JOURNAL, entered - timedelta(days=1))
    assert before.reason is CoverageReason.NOT_ENTERED_IN_JOURNAL
    assert journal_consent_covers(facts, JOURNAL, entered).covered
    assert status_on(facts, JOURNAL, signed) is ConsentStatus.GIVEN


def test_never_entered_is_never_usable() -> None:
    facts = journal(date(2026, 3, 10), journal_entry_confirmed_on=None)
    assert journal_consent_covers(facts, JOURNAL, date(2026, 6, 1)).reason is (
        CoverageReason.NOT_ENTERED_IN_JOURNAL
    )


def test_wellbeing_needs_no_journal_entry() -> None:
    facts = ConsentFacts(kind="wellbeing", signed_on=date(2026, 3, 10))
    assert consent_covers(facts, WELLBEING, date(2030, 1, 1)).covered
    with pytest.raises(ValueError, match="not a journal consent"):
        journal_consent_covers(facts, WELLBEING, date(2026, 3, 10))


# --- status ------------------------------------------------------------------------------


def test_status_through_a_life() -> None:
    signed = date(2026, 3, 10)
    facts = journal(signed, withdrawn_on=date(2026, 8, 1))
    assert status_on(facts, JOURNAL, date(2026, 3, 9)) is ConsentStatus.REQUESTED
    assert status_on(facts, JOURNAL, signed) is ConsentStatus.GIVEN
    assert status_on(facts, JOURNAL, date(2026, 8, 1)) is ConsentStatus.WITHDRAWN
    assert status_on(facts, JOURNAL, date(2028, 1, 1)) is ConsentStatus.WITHDRAWN
    assert status_on(journal(signed), JOURNAL, date(2027, 3, 10)) is ConsentStatus.EXPIRED
    refused = ConsentFacts(kind="journal", refused_on=signed)
    assert status_on(refused, JOURNAL, signed) is ConsentStatus.REFUSED
    invalid = replace(facts, invalidated_on=date(2026, 5, 1))
    assert status_on(invalid, JOURNAL, date(2026, 5, 1)) is ConsentStatus.INVALIDATED
    assert consent_covers(invalid, JOURNAL, date(2026, 5, 1)).reason is (CoverageReason.INVALIDATED)


def test_status_names_are_dpv_terms() -> None:
    assert {s.value for s in ConsentStatus} == {
        "requested", "given", "refused", "withdrawn", "expired", "invalidated",
    }  # fmt: skip
    assert ConsentStatus.GIVEN.dpv_iri == "https://w3id.org/dpv#ConsentGiven"


@given(signing_days, st.integers(0, 800), st.integers(0, 800))
def test_given_status_and_coverage_agree(signed: date, withdrawn_after: int, at: int) -> None:
    facts = journal(signed, withdrawn_on=signed + timedelta(days=withdrawn_after))
    on = signed + timedelta(days=at)
    covered = journal_consent_covers(facts, JOURNAL, on).covered
    assert covered == (status_on(facts, JOURNAL, on) is ConsentStatus.GIVEN)


def test_inconsistent_facts_are_refused() -> None:
    with pytest.raises(ValueError, match="signed or refused"):
        ConsentFacts(kind="journal", signed_on=date(2026, 1, 1), refused_on=date(2026, 1, 1))
    with pytest.raises(ValueError, match="needs a signed consent"):
        ConsentFacts(kind="journal", withdrawn_on=date(2026, 1, 1))
    with pytest.raises(ValueError, match="before signed_on"):
        journal(date(2026, 3, 10), data_obtained_on=date(2026, 3, 9))
    with pytest.raises(ValueError, match="judged as"):
        status_on(journal(date(2026, 3, 10)), WELLBEING, date(2026, 3, 10))


# --- withdrawal --------------------------------------------------------------------------


@given(signing_days, st.integers(0, 364))
def test_journal_withdrawal_before_data_is_obtained(signed: date, after: int) -> None:
    on = signed + timedelta(days=after)
    effect = can_withdraw(journal(signed), JOURNAL, on)
    assert effect.allowed
    assert effect.outcome is WithdrawalOutcome.STOPS_ALL_USE
    assert not effect.data_already_obtained
    assert not effect.further_use_allowed
    withdrawn = journal(signed, withdrawn_on=on)
    assert journal_consent_covers(withdrawn, JOURNAL, on).reason is CoverageReason.WITHDRAWN


@given(signing_days, st.integers(0, 300), st.integers(0, 60))
def test_journal_withdrawal_after_data_is_obtained(signed: date, got: int, then: int) -> None:
    obtained = signed + timedelta(days=got)
    on = obtained + timedelta(days=then)
    facts = journal(signed, data_obtained_on=obtained)
    effect = can_withdraw(facts, JOURNAL, on)
    assert effect.allowed  # recorded all the same
    assert effect.outcome is WithdrawalOutcome.STOPS_FURTHER_USE
    assert effect.data_already_obtained
    assert effect.earlier_use_remains_lawful
    assert not effect.further_use_allowed
    assert "lovligt indhentet" in effect.message
    withdrawn = replace(facts, withdrawn_on=on)
    for later in (on, on + timedelta(days=1), on + timedelta(days=200)):
        assert not journal_consent_covers(withdrawn, JOURNAL, later).covered
    # The recorded withdrawal keeps explaining itself.
    again = can_withdraw(withdrawn, JOURNAL, on + timedelta(days=5))
    assert not again.allowed
    assert again.outcome is WithdrawalOutcome.ALREADY_WITHDRAWN
    assert again.message == effect.message


@given(st.dates(date(2026, 1, 1), date(2030, 1, 1)), st.integers(0, 3000))
def test_wellbeing_withdrawal_at_any_time_takes_effect_that_day(signed: date, after: int) -> None:
    on = signed + timedelta(days=after)
    facts = ConsentFacts(kind="wellbeing", signed_on=signed, data_obtained_on=signed)
    effect = can_withdraw(facts, WELLBEING, on)
    assert effect.allowed
    assert effect.effective_from == on
    assert effect.earlier_use_remains_lawful
    assert "artikel 7, stk. 3" in effect.message
    withdrawn = replace(facts, withdrawn_on=on)
    assert not consent_covers(withdrawn, WELLBEING, on).covered
    if on > signed:
        assert consent_covers(withdrawn, WELLBEING, on - timedelta(days=1)).covered


def test_nothing_to_withdraw() -> None:
    refused = ConsentFacts(kind="journal", refused_on=date(2026, 3, 10))
    effect = can_withdraw(refused, JOURNAL, date(2026, 4, 1))
    assert not effect.allowed
    assert effect.outcome is WithdrawalOutcome.NOT_GIVEN
    early = can_withdraw(journal(date(2026, 3, 10)), JOURNAL, date(2026, 3, 9))
    assert not early.allowed


# --- re-consent reminders ----------------------------------------------------------------


@given(signing_days, st.integers(0, 400), st.integers(0, 120))
def test_expiring_within(signed: date, at: int, window: int) -> None:
    facts = journal(signed)
    on = signed + timedelta(days=at)
    end = validity_end(JOURNAL, signed)
    assert end is not None
    expected = on <= end and (end - on).days <= window
    assert expiring_within(facts, JOURNAL, on, window) is expected


def test_expiring_within_sixty_days_by_default() -> None:
    facts = journal(date(2026, 3, 10))  # last day 9 March 2027
    assert not expiring_within(facts, JOURNAL, date(2027, 1, 7))
    assert expiring_within(facts, JOURNAL, date(2027, 1, 8))
    assert not expiring_within(facts, JOURNAL, date(2027, 3, 10))  # already expired
    wellbeing = ConsentFacts(kind="wellbeing", signed_on=date(2026, 3, 10))
    assert not expiring_within(wellbeing, WELLBEING, date(2040, 1, 1))


# --- age ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "referred", "allowed"),
    [
        (date(2008, 3, 10), date(2026, 3, 9), False),
        (date(2008, 3, 10), date(2026, 3, 10), True),
        (date(2008, 2, 29), date(2026, 2, 28), False),
        (date(2008, 2, 29), date(2026, 3, 1), True),
        (date(1950, 6, 1), date(2026, 6, 1), True),
    ],
)
def test_data_collection_only_for_18_plus_at_referral(
    born: date, referred: date, allowed: bool
) -> None:
    assert data_collection_allowed(born, referred) is allowed


def test_no_data_collection_before_a_referral() -> None:
    assert data_collection_allowed(date(1950, 6, 1), None) is False


def test_a_consent_from_someone_under_18_at_referral_covers_nothing() -> None:
    facts = replace(
        journal(date(2026, 4, 1)), subject_birth_date=date(2008, 5, 1), referred_on=date(2026, 3, 1)
    )
    assert journal_consent_covers(facts, JOURNAL, date(2026, 6, 1)).reason is (
        CoverageReason.UNDER_18
    )
    adult = replace(facts, referred_on=date(2026, 5, 1))
    assert journal_consent_covers(adult, JOURNAL, date(2026, 6, 1)).covered


# --- any consent's facts; invariant 6 (voluntariness) is proven against the services in
# tests/integration/test_voluntariness.py and features/frivillighed.feature -----------------


@st.composite
def any_facts(draw: st.DrawFn) -> ConsentFacts:
    kind = draw(st.sampled_from(["journal", "wellbeing"]))
    decided = draw(days)
    if draw(st.booleans()):
        return ConsentFacts(kind=kind, refused_on=decided)
    if draw(st.booleans()):
        return ConsentFacts(kind=kind)
    later = st.one_of(st.none(), st.integers(0, 900).map(lambda n: decided + timedelta(days=n)))
    return ConsentFacts(
        kind=kind,
        signed_on=decided,
        withdrawn_on=draw(later),
        journal_entry_confirmed_on=draw(later),
        data_obtained_on=draw(later),
        invalidated_on=draw(later),
        subject_birth_date=draw(st.one_of(st.none(), st.dates(date(1920, 1, 1), decided))),
    )


def test_a_minor_takes_no_part_in_data_collection() -> None:
    # The navigator offer stays all the same: tests/integration/test_voluntariness.py.
    assert not data_collection_allowed(date(2010, 1, 1), date(2026, 6, 1))


@given(any_facts(), days)
def test_rules_are_total_over_consistent_facts(facts: ConsentFacts, on: date) -> None:
    kind = KINDS.kinds[facts.kind]
    status = status_on(facts, kind, on)
    coverage = consent_covers(facts, kind, on)
    assert isinstance(status, ConsentStatus)
    assert coverage.covered == (coverage.reason is CoverageReason.COVERED)
    if coverage.covered:
        assert status is ConsentStatus.GIVEN


# --- the kinds file ----------------------------------------------------------------------


def test_kinds_carry_the_legal_bases() -> None:
    assert [b.code for b in JOURNAL.legal_bases] == ["SUL-42d-1", "SUL-43-1", "SUL-44"]
    assert [b.code for b in WELLBEING.legal_bases] == ["GDPR-6-1-a", "GDPR-9-2-a", "DBL-11"]
    assert set(WELLBEING.data_categories) == {"ordinary", "confidential", "sensitive"}
    assert JOURNAL.withdrawal.until == "data_obtained"
    assert WELLBEING.withdrawal.until == "any_time"
    assert JOURNAL.minimum_age == WELLBEING.minimum_age == 18
    assert JOURNAL.requires_journal_entry
    assert JOURNAL.requires_written_form
    assert KINDS.dpo.email == "dpo@rm.dk"


def _with(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_CONSENTS_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "consents.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("    minimum_age: 18\n", "    minimum_age: 18\n    colour: red\n", "kinds.journal.colour"),
        ("period_years: 1", 'period_years: "1"', "kinds.journal.validity.period_years"),
        ("period_years: 1", "period_years: 0", "kinds.journal.validity.period_years"),
        ("until: data_obtained", "until: never", "kinds.journal.withdrawal.until"),
        ("requires_journal_entry: true", "requires_journal_entry: yes please",
         "kinds.journal.requires_journal_entry"),
        ("last_covered_day: day_before_anniversary", "last_covered_day: null",
         "kinds.journal.validity"),
        ("voluntary: true", "voluntary: false", "kinds.journal"),
        ("data_categories: [ordinary, confidential, sensitive]",
         "data_categories: [ordinary, secret]", "kinds.journal.data_categories.1"),
    ],
)  # fmt: skip
def test_the_kinds_file_is_strict_and_errors_name_file_and_field(
    tmp_path: Path, old: str, new: str, field: str
) -> None:
    path = _with(tmp_path, old, new)
    with pytest.raises(ConsentKindsError) as caught:
        load_consent_kinds(path)
    assert str(path) in str(caught.value)
    assert field in str(caught.value)


def test_the_period_is_read_from_the_kind(tmp_path: Path) -> None:
    kinds = load_consent_kinds(_with(tmp_path, "period_years: 1", "period_years: 2"))
    kind: ConsentKind = kinds.kinds["journal"]
    assert validity_end(kind, date(2026, 3, 10)) == date(2028, 3, 9)


@given(signing_days, st.integers(1, 30))
def test_anniversary(day: date, years: int) -> None:
    later = anniversary(day, years)
    assume(later.year <= 9999)
    assert later.year == day.year + years
    assert (later.month, later.day) == (day.month, day.day) or (
        (day.month, day.day, later.month, later.day) == (2, 29, 3, 1)
    )

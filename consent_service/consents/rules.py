"""The legal rules of the two consents, as pure functions of dates and plain records.

No I/O, no clock: every function takes the day it decides for. The consent kinds (period,
withdrawal rule, minimum age) come from ``policies/consents.yaml`` through
:class:`~consent_service.consents.kinds.ConsentKind`; nothing here hard-codes them.

Sources: seed 002, sections "Samtykke" and "Trivselsdata"; Sundhedsloven § 42 d, stk. 1,
§ 43, stk. 1 and § 44; GDPR art. 6(1)(a), 7(3), 9(2)(a); Databeskyttelsesloven § 11.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from consent_service.citizens.cpr import ADULT_AGE, age_on
from consent_service.consents.kinds import ConsentKind

DPV = "https://w3id.org/dpv#"


class ConsentStatus(StrEnum):
    """A consent's state on a day, named after the W3C Data Privacy Vocabulary (DPV)
    consent-status terms (dpv:ConsentRequested, dpv:ConsentGiven, ...)."""

    REQUESTED = "requested"
    GIVEN = "given"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    INVALIDATED = "invalidated"

    @property
    def dpv_iri(self) -> str:
        return f"{DPV}Consent{self.value.capitalize()}"


class CoverageReason(StrEnum):
    COVERED = "covered"
    NO_CONSENT = "no_consent"
    REFUSED = "refused"
    NOT_YET_SIGNED = "not_yet_signed"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    NOT_ENTERED_IN_JOURNAL = "not_entered_in_journal"
    UNDER_18 = "under_18"
    INVALIDATED = "invalidated"


class WithdrawalOutcome(StrEnum):
    """What a withdrawal on a given day does."""

    STOPS_ALL_USE = "stops_all_use"  # nothing obtained yet, and nothing may be
    STOPS_FURTHER_USE = "stops_further_use"  # data obtained stays lawful; no more after
    NOT_GIVEN = "not_given"  # there is no given consent to withdraw on that day
    ALREADY_WITHDRAWN = "already_withdrawn"


@dataclass(frozen=True)
class ConsentFacts:
    """What is known about one consent: the dates of what happened to it.

    ``data_obtained_on`` is the first day data was obtained (journal) or collected
    (wellbeing) under it. The subject's birth date and referral date are optional; when
    the birth date is known, the minimum age is checked at referral (or, without a
    referral date, at signing).
    """

    kind: str
    signed_on: date | None = None
    refused_on: date | None = None
    withdrawn_on: date | None = None
    journal_entry_confirmed_on: date | None = None
    data_obtained_on: date | None = None
    invalidated_on: date | None = None
    subject_birth_date: date | None = None
    referred_on: date | None = None

    def __post_init__(self) -> None:
        if self.signed_on is not None and self.refused_on is not None:
            raise ValueError("a consent is either signed or refused, not both")
        after_signing = {
            "withdrawn_on": self.withdrawn_on,
            "journal_entry_confirmed_on": self.journal_entry_confirmed_on,
            "data_obtained_on": self.data_obtained_on,
        }
        for name, day in after_signing.items():
            if day is None:
                continue
            if self.signed_on is None:
                raise ValueError(f"{name} needs a signed consent")
            if day < self.signed_on:
                raise ValueError(f"{name} lies before signed_on")


@dataclass(frozen=True)
class Coverage:
    """Whether a consent allows obtaining data on a day, and why (not)."""

    covered: bool
    reason: CoverageReason


@dataclass(frozen=True)
class WithdrawalEffect:
    """What withdrawing a consent on ``effective_from`` means.

    ``message`` is the Danish explanation shown to the navigator and the citizen.
    """

    allowed: bool
    outcome: WithdrawalOutcome
    effective_from: date | None
    data_already_obtained: bool
    earlier_use_remains_lawful: bool
    further_use_allowed: bool
    message: str


def _check_kind(facts: ConsentFacts, kind: ConsentKind) -> None:
    if facts.kind != kind.id:
        raise ValueError(f"facts of a '{facts.kind}' consent judged as '{kind.id}'")


def anniversary(day: date, years: int) -> date:
    """The same calendar date ``years`` later. The anniversary of 29 February in a year
    without one is 1 March (the convention also used for age, see ``cpr.age_on``)."""
    target = day.year + years
    if day.month == 2 and day.day == 29 and not calendar.isleap(target):
        return date(target, 3, 1)
    return day.replace(year=target)


def validity_end(kind: ConsentKind, signed_on: date) -> date | None:
    """The last day (inclusive) a consent signed on ``signed_on`` covers; None when the
    kind has no fixed expiry (wellbeing: GDPR consent holds until withdrawn).

    Journal consent, Sundhedsloven § 44, stk. 2 ("bortfalder senest 1 år efter, at det er
    givet") and seed 002 ("oplysningerne kun kan indhentes i et år fra samtykkets
    afgivelse"): with ``last_covered_day: day_before_anniversary`` the consent covers the
    signing day up to and including the day before the same date one year later. Signed
    29 February: the anniversary is 1 March, so the last covered day is 28 February.
    """
    rule = kind.validity
    if rule.period_years is None:
        return None
    end = anniversary(signed_on, rule.period_years)
    if rule.last_covered_day == "day_before_anniversary":
        end -= timedelta(days=1)
    return end


def _is_under_age(facts: ConsentFacts, kind: ConsentKind) -> bool:
    """The minimum age of the kind, checked at referral (seed 002, Målgruppe: only
    citizens 18+ take part in data collection)."""
    if facts.subject_birth_date is None:
        return False
    at = facts.referred_on or facts.signed_on or facts.refused_on
    if at is None:
        return False
    return age_on(facts.subject_birth_date, at) < kind.minimum_age


def status_on(facts: ConsentFacts, kind: ConsentKind, on: date) -> ConsentStatus:
    """The consent's DPV status on the day ``on``.

    - invalidated from ``invalidated_on`` on, whatever else happened;
    - refused from ``refused_on`` on; requested before a decision;
    - given from ``signed_on`` until it is withdrawn or expires, whichever comes first:
      withdrawn from ``withdrawn_on`` (that day included); expired from the day after
      :func:`validity_end`.

    Whether the journal entry is confirmed does not change the status; it decides
    whether the consent may be used (:func:`journal_consent_covers`).
    """
    _check_kind(facts, kind)
    if facts.invalidated_on is not None and on >= facts.invalidated_on:
        return ConsentStatus.INVALIDATED
    if facts.refused_on is not None and on >= facts.refused_on:
        return ConsentStatus.REFUSED
    if facts.signed_on is None or on < facts.signed_on:
        return ConsentStatus.REQUESTED
    # Withdrawn or expired, whichever happened first (expired on a tie: a withdrawal on
    # the day after the last covered day withdraws nothing that was still in force).
    endings: list[tuple[date, ConsentStatus]] = []
    end = validity_end(kind, facts.signed_on)
    if end is not None:
        endings.append((end + timedelta(days=1), ConsentStatus.EXPIRED))
    if facts.withdrawn_on is not None:
        endings.append((facts.withdrawn_on, ConsentStatus.WITHDRAWN))
    reached = [ending for ending in endings if on >= ending[0]]
    if reached:
        return min(reached, key=lambda ending: ending[0])[1]
    return ConsentStatus.GIVEN


def consent_covers(facts: ConsentFacts, kind: ConsentKind, on: date) -> Coverage:
    """Whether the consent allows obtaining (or processing) data on the day ``on``.

    Usable only if the subject was of the kind's minimum age, the consent was signed on or
    before ``on``, not refused, withdrawn or invalidated on or before ``on``, ``on`` lies
    within the validity period, and, for a kind that requires it, the journal entry was
    confirmed on or before ``on``.
    """
    _check_kind(facts, kind)
    if facts.invalidated_on is not None and on >= facts.invalidated_on:
        return Coverage(False, CoverageReason.INVALIDATED)
    if _is_under_age(facts, kind):
        return Coverage(False, CoverageReason.UNDER_18)
    if facts.refused_on is not None and on >= facts.refused_on:
        return Coverage(False, CoverageReason.REFUSED)
    if facts.signed_on is None:
        return Coverage(False, CoverageReason.NO_CONSENT)
    if on < facts.signed_on:
        return Coverage(False, CoverageReason.NOT_YET_SIGNED)
    if facts.withdrawn_on is not None and on >= facts.withdrawn_on:
        return Coverage(False, CoverageReason.WITHDRAWN)
    end = validity_end(kind, facts.signed_on)
    if end is not None and on > end:
        return Coverage(False, CoverageReason.EXPIRED)
    if kind.requires_journal_entry and (
        facts.journal_entry_confirmed_on is None or on < facts.journal_entry_confirmed_on
    ):
        # Sundhedsloven § 44: the consent is entered in the patient record.
        return Coverage(False, CoverageReason.NOT_ENTERED_IN_JOURNAL)
    return Coverage(True, CoverageReason.COVERED)


def journal_consent_covers(facts: ConsentFacts, kind: ConsentKind, on: date) -> Coverage:
    """Whether a journal consent (Sundhedsloven § 42 d, stk. 1 and § 43, stk. 1) allows
    obtaining and disclosing journal data on ``on``: signed, entered in the patient
    journal (§ 44), not withdrawn on or before ``on``, and ``on`` within the year of
    validity (§ 44, stk. 2; see :func:`validity_end`)."""
    if not kind.requires_journal_entry:
        raise ValueError(f"'{kind.id}' is not a journal consent kind")
    return consent_covers(facts, kind, on)


def _danish(day: date) -> str:
    return f"{day.day}. {_MONTHS_DA[day.month - 1]} {day.year}"


_MONTHS_DA = (
    "januar", "februar", "marts", "april", "maj", "juni",
    "juli", "august", "september", "oktober", "november", "december",
)  # fmt: skip


def _withdrawal_message(kind: ConsentKind, on: date, obtained: bool) -> str:
    if kind.withdrawal.until == "data_obtained":
        if obtained:
            return (
                f"Samtykket er tilbagekaldt med virkning fra {_danish(on)}. Oplysninger, der "
                "blev indhentet før tilbagekaldelsen, er lovligt indhentet og bliver ikke "
                "slettet af den grund; der må ikke indhentes flere oplysninger på grundlag "
                "af samtykket."
            )
        return (
            f"Samtykket er tilbagekaldt med virkning fra {_danish(on)}. Der er ikke "
            "indhentet oplysninger, og der må ikke indhentes eller videregives oplysninger "
            "på grundlag af samtykket."
        )
    return (
        f"Samtykket er tilbagekaldt med virkning fra {_danish(on)}. Behandlingen af "
        "oplysningerne stopper fra denne dag; behandling før tilbagekaldelsen er fortsat "
        "lovlig (databeskyttelsesforordningens artikel 7, stk. 3)."
    )


def can_withdraw(facts: ConsentFacts, kind: ConsentKind, on: date) -> WithdrawalEffect:
    """What a withdrawal on ``on`` does (or did, for a consent already withdrawn).

    - Journal consent (seed 002; Sundhedsloven § 42 d and § 43): withdrawable until the
      information is obtained, respectively disclosed. A withdrawal after data was obtained
      is still recorded: what was obtained stays lawfully obtained, and no further data
      may be obtained.
    - Wellbeing consent (GDPR art. 7(3)): withdrawable at any time, with effect from that
      day; processing before it stays lawful, processing after it stops.

    A consent that was never given (or is invalidated) cannot be withdrawn. For a consent
    already withdrawn, the result describes that withdrawal and ``allowed`` is False.
    """
    _check_kind(facts, kind)
    if facts.withdrawn_on is not None:
        when = facts.withdrawn_on
        obtained = facts.data_obtained_on is not None and facts.data_obtained_on <= when
        return WithdrawalEffect(
            allowed=False, outcome=WithdrawalOutcome.ALREADY_WITHDRAWN, effective_from=when,
            data_already_obtained=obtained, earlier_use_remains_lawful=True,
            further_use_allowed=False, message=_withdrawal_message(kind, when, obtained),
        )  # fmt: skip
    status = status_on(facts, kind, on)
    if status not in (ConsentStatus.GIVEN, ConsentStatus.EXPIRED):
        return WithdrawalEffect(
            allowed=False, outcome=WithdrawalOutcome.NOT_GIVEN, effective_from=None,
            data_already_obtained=False, earlier_use_remains_lawful=True,
            further_use_allowed=False,
            message="Der er ikke et givet samtykke at tilbagekalde.",
        )  # fmt: skip
    obtained = facts.data_obtained_on is not None and facts.data_obtained_on <= on
    outcome = WithdrawalOutcome.STOPS_FURTHER_USE if obtained else WithdrawalOutcome.STOPS_ALL_USE
    return WithdrawalEffect(
        allowed=True, outcome=outcome, effective_from=on, data_already_obtained=obtained,
        earlier_use_remains_lawful=True, further_use_allowed=False,
        message=_withdrawal_message(kind, on, obtained),
    )  # fmt: skip


def expiring_within(facts: ConsentFacts, kind: ConsentKind, on: date, days: int = 60) -> bool:
    """Whether a consent given on ``on`` has its last covered day within the next ``days``
    days (``on`` included), so a re-consent should be sought. Never for a kind without
    a fixed expiry, nor for a consent that is not given on ``on``."""
    if days < 0:
        raise ValueError("days must not be negative")
    if status_on(facts, kind, on) is not ConsentStatus.GIVEN or facts.signed_on is None:
        return False
    end = validity_end(kind, facts.signed_on)
    return end is not None and end <= on + timedelta(days=days)


def data_collection_allowed(
    birth_date: date, referral_date: date | None, *, minimum_age: int = ADULT_AGE
) -> bool:
    """Whether the citizen takes part in data collection: 18 or older on the date of
    their (latest) referral (seed 002, Målgruppe; DOMAIN.md "Age at referral decides
    18+"); without a referral (``referral_date`` None), not yet. Younger citizens
    still get the navigator offer: no course action asks this rule (the voluntariness
    property test, ``tests/integration/test_voluntariness.py``, holds that)."""
    if referral_date is None:
        return False
    return age_on(birth_date, referral_date) >= minimum_age


def fresh_form_allowed(
    in_force: ConsentFacts | None, kind: ConsentKind, on: date, warning_days: int
) -> bool:
    """Whether a new form of the kind should be offered on ``on``: when no consent of the
    kind is given that day (none yet, or refused, withdrawn, expired, invalidated), or when
    the one given is due for re-consent (:func:`expiring_within` ``warning_days``). While a
    consent is given and not due, a second one would only duplicate it."""
    if in_force is None or status_on(in_force, kind, on) is not ConsentStatus.GIVEN:
        return True
    return expiring_within(in_force, kind, on, warning_days)

"""The deadline rules of data-subject requests (GDPR art. 12(3); months per Reg. 1182/71
art. 3(2)(c)) as pure functions, and the rule file's validation."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from consent_service.subject_requests import policy, rules


@pytest.mark.parametrize(
    ("received", "deadline"),
    [
        (date(2027, 3, 15), date(2027, 4, 15)),
        (date(2027, 1, 31), date(2027, 2, 28)),  # no 31 February: the month's last day
        (date(2028, 1, 31), date(2028, 2, 29)),  # leap year
        (date(2027, 1, 29), date(2027, 2, 28)),
        (date(2028, 1, 29), date(2028, 2, 29)),
        (date(2027, 3, 31), date(2027, 4, 30)),
        (date(2027, 12, 31), date(2028, 1, 31)),  # over the new year
        (date(2027, 2, 28), date(2027, 3, 28)),  # not the month's last day: same number
    ],
)
def test_one_month_is_the_same_day_next_month_or_its_last_day(
    received: date, deadline: date
) -> None:
    assert rules.one_month_after(received) == deadline


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
def test_one_month_is_never_less_than_28_days_nor_more_than_31(received: date) -> None:
    deadline = rules.one_month_after(received)
    assert 28 <= (deadline - received).days <= 31
    assert deadline.day == received.day or deadline.day < received.day
    assert (deadline.month - received.month) % 12 == 1


def _refusal(today: date, new: date, **kw: object) -> str | None:
    args: dict[str, object] = {
        "is_open": True,
        "already_extended": False,
        "deadline": date(2027, 2, 28),
        "new_deadline": new,
        "today": today,
        "max_extension_months": 2,
    }
    args.update(kw)
    return rules.extension_refusal(**args)  # type: ignore[arg-type]


def test_an_extension_within_the_first_month_up_to_two_months_is_allowed() -> None:
    assert _refusal(date(2027, 2, 1), date(2027, 4, 28)) is None
    assert _refusal(date(2027, 2, 28), date(2027, 3, 1)) is None  # on the deadline itself


def test_an_extension_after_the_deadline_is_refused() -> None:
    why = _refusal(date(2027, 3, 1), date(2027, 4, 1))
    assert why is not None
    assert "bagefter" in why


def test_an_extension_beyond_two_months_or_before_the_deadline_is_refused() -> None:
    too_far = _refusal(date(2027, 2, 1), date(2027, 4, 29))
    assert too_far is not None
    assert "28-04-2027" in too_far
    assert _refusal(date(2027, 2, 1), date(2027, 2, 28)) is not None
    assert _refusal(date(2027, 2, 1), date(2027, 2, 20)) is not None


def test_a_closed_or_extended_request_is_not_extended() -> None:
    assert _refusal(date(2027, 2, 1), date(2027, 3, 1), is_open=False) is not None
    assert _refusal(date(2027, 2, 1), date(2027, 3, 1), already_extended=True) is not None


def test_timing_open_and_answered() -> None:
    deadline = date(2027, 4, 10)
    on_the_day = rules.timing(deadline, None, deadline)
    assert (on_the_day.overdue, on_the_day.days_left) == (False, 0)
    day_after = rules.timing(deadline, None, deadline + timedelta(days=1))
    assert day_after.overdue
    assert day_after.days_left == -1
    assert rules.timing(deadline, None, date(2027, 4, 1)).due_soon(9)
    assert not rules.timing(deadline, None, date(2027, 4, 1)).due_soon(8)
    assert rules.timing(deadline, date(2027, 4, 11), date(2027, 5, 1)).overdue
    assert not rules.timing(deadline, date(2027, 4, 10), date(2027, 5, 1)).overdue


def test_the_rule_file_is_valid_and_names_every_code() -> None:
    loaded = policy.request_rules()
    assert set(loaded.kinds) == set(policy.KINDS)
    assert loaded.deadline_months == 1
    assert loaded.max_extension_months == 2


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"max_extension_months": 3}, "max_extension_months"),
        ({"deadline_months": 2}, "deadline_months"),
        ({"channels": {"letter": "Brev"}}, "channels must be exactly"),
    ],
)
def test_a_broken_rule_file_is_refused_naming_the_field(
    tmp_path: Path, change: dict[str, object], words: str
) -> None:
    data = yaml.safe_load(policy.RULE_FILE.read_text(encoding="utf-8"))
    data.update(change)
    path = tmp_path / "requests.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(policy.RequestRuleError, match=words):
        policy.load_yaml_model(path, policy.RequestRules, "rules", policy.RequestRuleError)

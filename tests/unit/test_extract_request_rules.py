"""What the extract request page offers beyond the four-eyes rule: cancellation while
nothing has left the service, downloads left within the policy's count and window, and
the policy's refusals named per form field (consent_service/extracts/rules.py, policy.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from consent_service.extracts.models import ExtractRequest
from consent_service.extracts.policy import load_extract_policy
from consent_service.extracts.rules import actions_for, downloads_left

PLANNED = date(2027, 3, 1)
NOW = datetime(2027, 3, 2, 9, tzinfo=UTC)


def _request(status: str, downloads: int = 0) -> ExtractRequest:
    executed = status == "executed"
    return ExtractRequest(
        status=status, requested_by=1, decided_by=None if status == "draft" else 2,
        planned_on=PLANNED, manifest="{}" if executed else None, files_deleted_at=None,
        downloads=downloads, download_until=NOW + timedelta(days=14) if executed else None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("status", "cancellable"),
    [("draft", True), ("approved", True), ("executed", False), ("rejected", False),
     ("cancelled", False)],
)  # fmt: skip
def test_only_a_draft_or_an_approved_request_is_cancelled(status: str, cancellable: bool) -> None:
    for user in (1, 2, 3):  # the requester, the approver, another data controller
        assert actions_for(_request(status), user, PLANNED).can_cancel is cancellable


def test_downloads_left_count_down_and_end_with_the_window() -> None:
    assert [downloads_left(_request("executed", n), 3, NOW) for n in range(5)] == [3, 2, 1, 0, 0]
    assert downloads_left(_request("executed"), 3, NOW + timedelta(days=15)) == 0
    assert downloads_left(_request("approved"), 3, NOW) == 0
    used_up = actions_for(_request("executed", 3), 1, PLANNED, max_downloads=3, now=NOW)
    assert not used_up.can_download
    fresh = actions_for(_request("executed", 1), 1, PLANNED, max_downloads=3, now=NOW)
    assert fresh.can_download
    assert fresh.downloads_left == 2
    late = actions_for(
        _request("executed"), 1, PLANNED, max_downloads=3, now=NOW + timedelta(days=15)
    )
    assert not late.can_download
    assert not actions_for(_request("executed"), 3, PLANNED, max_downloads=3, now=NOW).can_download


def test_every_refusal_names_its_field() -> None:
    policy = load_extract_policy()
    assert policy.problems("payment_goal_1_regional", [], [], None) == [
        ("sources", "Vælg mindst én kilde."),
        ("fields", "Vælg mindst ét felt."),
    ]
    [(field, message)] = policy.problems("payment_goal_2_wellbeing", ["wellbeing"], ["who5"], 2)
    assert field == "measurement_years"
    assert "højst 1 år" in message
    assert policy.purposes["payment_goal_2_wellbeing"].measurements == (1,)
    assert policy.purposes["payment_goal_1_regional"].measurements == (1, 2)
    assert [f for f, _ in policy.problems("nope", [], [], 1)] == ["purpose"]

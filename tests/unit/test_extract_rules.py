"""The four-eyes rule of extracts and who handles an approved extract, as the service
refuses with them and the page offers them (consent_service/extracts/rules.py)."""

from __future__ import annotations

from datetime import date

import pytest

from consent_service.extracts.models import ExtractRequest
from consent_service.extracts.rules import actions_for

REQUESTER, APPROVER, OTHER = 1, 2, 3
PLANNED = date(2027, 3, 1)


def _request(status: str, manifest: str | None = None) -> ExtractRequest:
    decided_by = None if status == "draft" else APPROVER
    return ExtractRequest(
        status=status, requested_by=REQUESTER, decided_by=decided_by, planned_on=PLANNED,
        manifest=manifest, files_deleted_at=None,
    )  # fmt: skip


def test_a_draft_is_decided_by_a_second_person_only() -> None:
    draft = _request("draft")
    mine = actions_for(draft, REQUESTER, PLANNED)
    assert not mine.can_decide
    assert mine.awaiting_second_person
    for other in (APPROVER, OTHER):
        theirs = actions_for(draft, other, PLANNED)
        assert theirs.can_decide
        assert not theirs.awaiting_second_person


@pytest.mark.parametrize("user", [REQUESTER, APPROVER])
def test_the_requester_and_the_approver_execute_from_the_planned_day(user: int) -> None:
    approved = _request("approved")
    before = actions_for(approved, user, date(2027, 2, 28))
    assert not before.can_execute
    assert before.executable_from == PLANNED
    assert actions_for(approved, user, PLANNED).can_execute
    assert not actions_for(approved, user, PLANNED).can_decide


def test_nobody_else_executes_or_downloads() -> None:
    approved = _request("approved")
    assert not actions_for(approved, OTHER, PLANNED).can_execute
    assert actions_for(approved, OTHER, date(2027, 2, 1)).executable_from is None
    executed = _request("executed", manifest="{}")
    assert actions_for(executed, REQUESTER, PLANNED).can_download
    assert not actions_for(executed, OTHER, PLANNED).can_download

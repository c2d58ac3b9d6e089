"""Who may do what with an extract request, as pure functions of the request, the person
and the day: the four-eyes rule (DESIGN invariant 5: "only after a second person approved
it") and who handles an approved extract. The service refuses with these rules, and the
page shows what they allow, so neither restates them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from consent_service.extracts.models import ExtractRequest


def is_requester(req: ExtractRequest, user_id: int | None) -> bool:
    """Whether the person asked for the extract: they never decide on it (four eyes)."""
    return user_id == req.requested_by


def handles(req: ExtractRequest, user_id: int | None) -> bool:
    """Whether the person may execute and download the extract: the requester and the
    data controller who approved it, nobody else."""
    return user_id in (req.requested_by, req.decided_by)


@dataclass(frozen=True)
class ExtractActions:
    """What the page offers one person for one request on one day."""

    can_decide: bool  # a draft, and the person is not its requester
    awaiting_second_person: bool  # a draft the person asked for
    can_execute: bool  # approved, handled by the person, and the planned day has come
    executable_from: date | None  # approved and handled by the person, but not yet due
    can_download: bool  # executed, files kept, handled by the person


def actions_for(req: ExtractRequest, user_id: int | None, today: date) -> ExtractActions:
    """What ``user_id`` may do with ``req`` on ``today`` (the Europe/Copenhagen date)."""
    draft = req.status == "draft"
    approved_here = req.status == "approved" and handles(req, user_id)
    return ExtractActions(
        can_decide=draft and not is_requester(req, user_id),
        awaiting_second_person=draft and is_requester(req, user_id),
        can_execute=approved_here and today >= req.planned_on,
        executable_from=req.planned_on if approved_here and today < req.planned_on else None,
        can_download=(
            req.manifest is not None and req.files_deleted_at is None and handles(req, user_id)
        ),
    )

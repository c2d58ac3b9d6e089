"""Who may do what with an extract request, as pure functions of the request, the person
and the day: the four-eyes rule (DESIGN invariant 5: "only after a second person approved
it") and who handles an approved extract. The service refuses with these rules, and the
page shows what they allow, so neither restates them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from consent_service.extracts.models import ExtractRequest

# A request may be cancelled while nothing has left the service: awaiting a decision, or
# approved and not yet executed.
CANCELLABLE = frozenset({"draft", "approved"})


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
    can_download: bool  # executed, files kept, handled by the person, downloads left
    can_cancel: bool = False  # a draft, or approved and not executed (any data controller)
    downloads_left: int = 0  # of the policy's maximum, while the window is open


def downloads_left(req: ExtractRequest, max_count: int, now: datetime | None) -> int:
    """How many more times the executed extract may be fetched at ``now``: none before
    execution, after its files are deleted or after its download window."""
    if req.manifest is None or req.files_deleted_at is not None or req.download_until is None:
        return 0
    if now is not None and now > req.download_until:
        return 0
    return max(max_count - req.downloads, 0)


def actions_for(
    req: ExtractRequest, user_id: int | None, today: date, *, max_downloads: int = 0,
    now: datetime | None = None,
) -> ExtractActions:  # fmt: skip
    """What ``user_id`` may do with ``req`` on ``today`` (the Europe/Copenhagen date);
    with ``max_downloads`` and ``now`` the download counts what is left."""
    draft = req.status == "draft"
    approved_here = req.status == "approved" and handles(req, user_id)
    left = downloads_left(req, max_downloads, now) if max_downloads else 0
    kept = req.manifest is not None and req.files_deleted_at is None
    return ExtractActions(
        can_decide=draft and not is_requester(req, user_id),
        awaiting_second_person=draft and is_requester(req, user_id),
        can_execute=approved_here and today >= req.planned_on,
        executable_from=req.planned_on if approved_here and today < req.planned_on else None,
        can_download=(kept and handles(req, user_id) and (left > 0 if max_downloads else True)),
        can_cancel=req.status in CANCELLABLE,
        downloads_left=left,
    )

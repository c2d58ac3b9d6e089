"""The DPO's log as a person reads it: one row per audited action, in Danish.

A row names the person who acted (their display name, not an id), the action, outcome,
what it concerned and why in Danish (``labels.yaml``; reasons by ``oversight.reasons``),
and folds in the permission decision (``access.allowed``) of the same request, which
otherwise stands as a row of its own beside every action. The raw rows stay in the chain;
the log page shows them with the filter "vis adgangsbeslutninger". The same rows make the
page and the CSV export.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from consent_service import labels, spreadsheet
from consent_service.audit.models import AuditEvent
from consent_service.clock import local_date, local_time
from consent_service.identity.models import User
from consent_service.oversight.reasons import reason_da
from consent_service.oversight.review_query import RejectedGroup

DECISION_ACTION = "access.allowed"
CSV_HEADER = (
    "Nr.", "Tidspunkt", "Bruger", "Handling", "Udfald", "Vedrører", "Begrundelse",
    "Adgangsbeslutning", "Adresse", "Anmodnings-id",
)  # fmt: skip
SERVICE_DA = "Tjenesten selv"


@dataclass(frozen=True)
class LogRow:
    seq: int
    occurred_at: datetime
    occurred_da: str  # ``occurred_at`` in Copenhagen time, to the second (``local_time``)
    actor_user_id: int | None
    who_da: str
    action: str
    action_da: str
    outcome: str
    outcome_da: str
    concerns_da: str
    resource_type: str | None
    resource_id: str | None
    reason_da: str
    source_ip: str
    request_id: str
    decision_da: str  # the folded permission decision of the request, if any


def _who(event: AuditEvent, people: Mapping[int, User]) -> str:
    if event.actor_user_id is not None and event.actor_user_id in people:
        user = people[event.actor_user_id]
        return f"{user.display_name} ({user.username})"
    if event.actor_username:
        if event.actor_username.startswith("?"):
            return "Ukendt brugernavn"
        return f"{event.actor_username} (anden organisation)"
    return SERVICE_DA


def _concerns(event: AuditEvent, people: Mapping[int, User], resources: Mapping[str, str]) -> str:
    kind, ident = event.resource_type, event.resource_id
    if not kind:
        return ""
    kind_da = resources.get(kind, kind)
    if kind == "user":
        user = people.get(int(ident)) if ident and ident.isdigit() else None
        return f"{kind_da}: {user.display_name}" if user else f"{kind_da} uden for din organisation"
    return f"{kind_da} {ident}" if ident else kind_da


def _decision(event: AuditEvent | None, outcomes: Mapping[str, str]) -> str:
    if event is None:
        return ""
    try:
        permission = json.loads(event.details or "{}").get("permission") or ""
    except ValueError:
        permission = ""
    outcome = outcomes.get(event.outcome, event.outcome)
    return f"{outcome} af adgangspolitikken ({permission}, hændelse nr. {event.seq})"


def log_rows(
    events: Sequence[AuditEvent],
    people: Mapping[int, User],
    decisions: Mapping[str, AuditEvent],
    role_names: Mapping[str, str],
) -> list[LogRow]:
    """The events as Danish rows; ``decisions`` by request id fold into their action.
    The label groups are read, and each distinct reason put in Danish, once per page
    rather than once per row (reasons repeat: most rows say "granted")."""
    actions = labels.group("audit_actions")
    outcomes = labels.group("audit_outcomes")
    resources = labels.group("audit_resources")
    roles = dict(role_names)
    reasons: dict[tuple[str | None, str], str] = {}
    rows = []
    for event in events:
        said = (event.reason, event.action)
        if said not in reasons:
            reasons[said] = reason_da(event.reason, event.action, roles)
        folded = None
        if event.action != DECISION_ACTION and event.request_id:
            folded = decisions.get(event.request_id)
        rows.append(
            LogRow(
                seq=event.seq,
                occurred_at=event.occurred_at,
                occurred_da=local_time(event.occurred_at, seconds=True),
                actor_user_id=event.actor_user_id,
                who_da=_who(event, people),
                action=event.action,
                action_da=actions.get(event.action, event.action),
                outcome=event.outcome,
                outcome_da=outcomes.get(event.outcome, event.outcome),
                concerns_da=_concerns(event, people, resources),
                resource_type=event.resource_type,
                resource_id=event.resource_id,
                reason_da=reasons[said],
                source_ip=event.source_ip or "",
                request_id=event.request_id or "",
                decision_da=_decision(folded, outcomes),
            )
        )
    return rows


def csv_bytes(rows: Sequence[LogRow]) -> bytes:
    """The rows as a spreadsheet reads them in Denmark: ``;``, UTF-8 with BOM, Danish
    headers, local times with their zone."""
    cells = [
        (row.seq, row.occurred_da, row.who_da, row.action_da,
         row.outcome_da, row.concerns_da, row.reason_da, row.decision_da, row.source_ip,
         row.request_id)
        for row in rows
    ]  # fmt: skip
    return spreadsheet.csv_text(CSV_HEADER, cells).encode("utf-8")


def rejected_link(group: RejectedGroup, accounts: Mapping[str, User]) -> str:
    """The log filter showing a group of rejected attempts: the action, the days, the
    account by id (never its name) and the address."""
    query = {
        "fra": local_date(group.first_at),
        "til": local_date(group.last_at),
        "handling": group.action,
    }
    user = accounts.get(group.username or "")
    if user is not None:
        query["konto"] = str(user.id)
    if group.source_ip:
        query["adresse"] = group.source_ip
    return "/dpo/log?" + urlencode(query)

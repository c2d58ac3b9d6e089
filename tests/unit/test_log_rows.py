"""Issue 18: the DPO's log page does once per page what does not change from row to row.
Each distinct reason is put in Danish once per page, not once per row; each row's time is
formatted once, the same for the page and the CSV; and ``local_time``, now one strftime,
still reads as before on both sides of a daylight-saving change."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from consent_service.audit.models import AuditEvent
from consent_service.clock import LEGAL_TZ, local_time
from consent_service.oversight import log_view

START = datetime(2027, 3, 27, 22, 0, tzinfo=UTC)  # the night clocks go forward in Denmark


def _event(seq: int, reason: str | None, **extra: object) -> AuditEvent:
    return AuditEvent(
        seq=seq,
        occurred_at=START + timedelta(minutes=37 * seq),
        action=extra.pop("action", "citizen.read"),
        outcome=extra.pop("outcome", "success"),
        reason=reason,
        request_id=f"req-{seq}",
        **extra,
    )


def test_a_reason_is_put_in_danish_once_per_page_however_many_rows_give_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[tuple[str | None, str]] = []
    real = log_view.reason_da

    def counting(reason: str | None, action: str = "", roles: object = None) -> str:
        asked.append((reason, action))
        return real(reason, action, roles)  # type: ignore[arg-type]

    monkeypatch.setattr(log_view, "reason_da", counting)
    events = [_event(i, "granted" if i % 3 else "wrong code") for i in range(1, 31)]
    rows = log_view.log_rows(events, {}, {}, {"navigator": "Navigatør"})
    assert sorted(asked) == [("granted", "citizen.read"), ("wrong code", "citizen.read")]
    assert [r.reason_da for r in rows] == [real(e.reason, e.action, {}) for e in events]


def test_a_rows_time_is_formatted_once_and_the_page_and_csv_show_the_same() -> None:
    decision = _event(99, None, action="access.allowed", outcome="allow")
    decision.details = json.dumps({"permission": "citizen:read"})
    events = [_event(i, None, resource_type="citizen", resource_id=f"c{i}") for i in range(1, 5)]
    rows = log_view.log_rows(events, {}, {"req-2": decision}, {})
    assert [r.occurred_da for r in rows] == [local_time(e.occurred_at, True) for e in events]
    csv = log_view.csv_bytes(rows).decode("utf-8")
    assert all(r.occurred_da in csv for r in rows)
    assert rows[1].decision_da.endswith("(citizen:read, hændelse nr. 99)")
    assert rows[0].decision_da == ""
    assert rows[0].concerns_da.endswith(" c1")


@pytest.mark.parametrize("seconds", [False, True])
def test_local_time_reads_as_before_across_a_daylight_saving_change(seconds: bool) -> None:
    for hours in range(0, 24 * 220, 5):  # the spring and the autumn change
        at = START + timedelta(hours=hours, minutes=7, seconds=9)
        local = at.astimezone(LEGAL_TZ)
        clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
        assert local_time(at, seconds) == f"{local:%d-%m-%Y} kl. {clock} ({local.tzname()})"
    assert local_time(datetime(2027, 3, 28, 1, 15, tzinfo=UTC)) == "28-03-2027 kl. 03:15 (CEST)"
    assert local_time(datetime(2027, 1, 5, 8, 0, 1, tzinfo=UTC), True) == (
        "05-01-2027 kl. 09:00:01 (CET)"
    )

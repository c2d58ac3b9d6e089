"""The alert rules of audit/alerts.yaml over crafted audit events: thresholds and windows,
no duplicates on re-evaluation, acknowledgement once, and e-mail to a local SMTP server."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from consent_service.audit.models import AuditEvent
from consent_service.audit.recorder import SYSTEM, Actor
from consent_service.clock import FixedClock
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.errors import RuleRefusal
from consent_service.oversight.alerts import (
    SmtpSettings,
    acknowledge,
    evaluate_alerts,
    notify,
    open_alerts,
)

MONDAY_10 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Copenhagen


def _record(
    ctx: AppContext,
    clock: FixedClock,
    action: str,
    *,
    username: str = "nav1",
    ip: str = "10.0.0.1",
    resource_id: str | None = None,
    every: timedelta = timedelta(minutes=1),
    times: int = 1,
) -> None:
    actor = Actor(user_id=7, username=username, organisation_id=1, source_ip=ip)
    for _ in range(times):
        with session_scope(ctx.sessions) as session:
            ctx.audit.record(
                session,
                actor,
                action=action,
                outcome="failure" if "failed" in action else "success",
                resource_type="citizen" if resource_id else None,
                resource_id=resource_id,
            )
        clock.advance(every)


def _evaluate(ctx: AppContext) -> list[tuple[str, str, str, int]]:
    with session_scope(ctx.sessions) as session:
        return [
            (a.rule, a.subject_kind, a.subject, a.event_count)
            for a in evaluate_alerts(session, ctx.clock, ctx.audit, SYSTEM)
        ]


def test_five_failures_in_fifteen_minutes_raise_one_alert_per_account_and_address(
    ctx: AppContext, clock: FixedClock
) -> None:
    clock.set(MONDAY_10)
    _record(ctx, clock, "login.password_failed", times=4)
    assert _evaluate(ctx) == []  # four are not enough
    _record(ctx, clock, "login.code_failed")
    assert sorted(_evaluate(ctx)) == [
        ("failed_logins_account", "account", "nav1", 5),
        ("failed_logins_address", "address", "10.0.0.1", 5),
    ]
    assert _evaluate(ctx) == []  # the same events never raise twice


def test_failures_spread_over_more_than_the_window_raise_nothing(
    ctx: AppContext, clock: FixedClock
) -> None:
    clock.set(MONDAY_10)
    _record(ctx, clock, "login.password_failed", times=5, every=timedelta(minutes=5))
    assert _evaluate(ctx) == []


def test_one_address_trying_many_accounts(ctx: AppContext, clock: FixedClock) -> None:
    clock.set(MONDAY_10)
    for n in range(5):
        _record(ctx, clock, "login.password_failed", username=f"?{n:016x}", ip="192.0.2.9")
    assert _evaluate(ctx) == [("failed_logins_address", "address", "192.0.2.9", 5)]


def test_a_user_opening_many_citizens_in_an_hour(ctx: AppContext, clock: FixedClock) -> None:
    clock.set(MONDAY_10)
    for n in range(30):
        _record(ctx, clock, "citizen.read", resource_id=f"c{n}", every=timedelta(seconds=30))
    _record(ctx, clock, "citizen.read", resource_id="c0", every=timedelta(seconds=30))
    assert _evaluate(ctx) == []  # 30 different citizens is within the rule
    _record(ctx, clock, "citizen.read", resource_id="c30", every=timedelta(seconds=30))
    assert _evaluate(ctx) == [("many_citizens_opened", "account", "nav1", 32)]


def test_access_outside_working_hours(ctx: AppContext, clock: FixedClock) -> None:
    clock.set(MONDAY_10)
    _record(ctx, clock, "citizen.read", resource_id="c1")
    assert _evaluate(ctx) == []
    clock.set(datetime(2026, 11, 28, 21, 30, tzinfo=UTC))  # Saturday evening
    _record(ctx, clock, "citizen.read", resource_id="c1", times=2)
    _record(ctx, clock, "login.succeeded")  # not a citizen's data: not counted
    assert _evaluate(ctx) == [("off_hours_access", "account", "nav1", 2)]


def test_acknowledge_once_with_a_comment(ctx: AppContext, clock: FixedClock) -> None:
    clock.set(MONDAY_10)
    _record(ctx, clock, "login.password_failed", times=5)
    _evaluate(ctx)
    dpo = Actor(user_id=99, username="dpo", organisation_id=1)
    with session_scope(ctx.sessions) as session:
        alert = open_alerts(session, 1)[0]
        acknowledge(session, ctx.clock, ctx.audit, dpo, alert.id, "Glemt adgangskode")
        alert_id = alert.id
    with session_scope(ctx.sessions) as session:
        assert alert_id not in [a.id for a in open_alerts(session, 1)]
        with pytest.raises(RuleRefusal):
            acknowledge(session, ctx.clock, ctx.audit, dpo, alert_id, "igen")
    with ctx.sessions() as s:
        acks = s.scalars(select(AuditEvent).where(AuditEvent.action == "alert.acknowledged"))
        assert [e.actor_user_id for e in acks] == [99]


def test_an_alert_belongs_to_the_one_organisation_whose_events_it_counts(
    ctx: AppContext, clock: FixedClock
) -> None:
    """An address failing on two organisations' accounts is nobody's alert (only system-wide
    review sees it); one failing on one organisation's account and on unknown accounts is
    that organisation's."""
    clock.set(MONDAY_10)
    for org, ip in ((1, "192.0.2.1"), (2, "192.0.2.1"), (1, "192.0.2.2"), (None, "192.0.2.2")):
        username = f"nav{org}" if org else "?00"  # None: an account that does not exist
        actor = Actor(user_id=org, username=username, organisation_id=org, source_ip=ip)
        for _ in range(3):
            with session_scope(ctx.sessions) as session:
                ctx.audit.record(
                    session,
                    actor,
                    action="login.password_failed",
                    outcome="failure",
                )
            clock.advance(timedelta(seconds=20))
    with session_scope(ctx.sessions) as session:
        raised = evaluate_alerts(session, ctx.clock, ctx.audit, SYSTEM)
        by_address = {
            a.subject: a.organisation_id for a in raised if a.rule == "failed_logins_address"
        }
    assert by_address == {"192.0.2.1": None, "192.0.2.2": 1}
    with session_scope(ctx.sessions) as session:
        own = {a.subject for a in open_alerts(session, 1)}
        other = {a.subject for a in open_alerts(session, 2)}
        wide = {a.subject for a in open_alerts(session, 2, system_wide=True)}
    assert "192.0.2.2" in own
    assert "192.0.2.1" not in own | other
    assert "192.0.2.1" in wide
    assert "192.0.2.2" not in other | wide


class _SmtpSink(socketserver.StreamRequestHandler):
    """Just enough SMTP to receive one conversation's messages."""

    received: list[bytes]

    def handle(self) -> None:
        self.wfile.write(b"220 localhost test sink\r\n")
        data = False
        message: list[bytes] = []
        for line in self.rfile:
            if data:
                if line == b".\r\n":
                    self.received.append(b"".join(message))
                    message, data = [], False
                    self.wfile.write(b"250 queued\r\n")
                else:
                    message.append(line)
                continue
            verb = line[:4].upper()
            if verb == b"DATA":
                data = True
                self.wfile.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            elif verb == b"EHLO":
                self.wfile.write(b"250 localhost\r\n")
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp_sink() -> Iterator[tuple[int, list[bytes]]]:
    received: list[bytes] = []
    handler = type("Sink", (_SmtpSink,), {"received": received})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


def test_new_alerts_are_mailed_once(
    ctx: AppContext, clock: FixedClock, smtp_sink: tuple[int, list[bytes]]
) -> None:
    port, received = smtp_sink
    smtp = SmtpSettings("127.0.0.1", port, "samtykke@example.dk", "dpo@example.dk")
    clock.set(MONDAY_10)
    with session_scope(ctx.sessions) as session:
        assert notify(session, None, ctx.clock, ctx.audit, SYSTEM) == 0  # e-mail is off
    _record(ctx, clock, "login.password_failed", times=5)
    _evaluate(ctx)
    with session_scope(ctx.sessions) as session:
        assert notify(session, smtp, ctx.clock, ctx.audit, SYSTEM) == 2
    with session_scope(ctx.sessions) as session:
        assert notify(session, smtp, ctx.clock, ctx.audit, SYSTEM) == 0  # not twice
    assert len(received) == 2
    text = b"".join(received).decode()
    assert "nav1" in text
    assert "failed_logins_account" in text
    assert "To: dpo@example.dk" in text

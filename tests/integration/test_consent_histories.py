"""Issue 18: the histories of a citizen's consents are read in one query per transaction,
however many consents the citizen has (``consents.repository.events_by_consent``), and
each consent still gets exactly its own events, in the order recorded."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import select

from consent_service.citizens.models import Citizen
from consent_service.clock import FixedClock
from consent_service.consents import repository as repo
from consent_service.consents.active import states_of
from consent_service.consents.models import ConsentEvent
from consent_service.context import AppContext
from tests.api.test_citizens_consents import print_form, record
from tests.integration.test_round_trips import counted, referred_citizen


def test_a_citizens_consent_histories_are_read_once_whatever_their_number(
    ctx: AppContext, client: TestClient, clock: FixedClock
) -> None:
    token, pid = referred_citizen(ctx, client, clock)
    for _ in range(3):
        form = print_form(client, token, pid, "wellbeing")
        r = record(client, token, pid, "wellbeing", form, date(2027, 3, 1))
        assert r.status_code == 303, r.text
    with ctx.sessions() as s, s.begin():
        citizen_id = s.scalar(select(Citizen.id).where(Citizen.public_id == pid))
        assert citizen_id is not None
        consents = repo.consents_of(s, citizen_id)
        assert len(consents) == 3
        with counted(ctx) as tally:
            states = states_of(s, citizen_id, "wellbeing")
            again = [repo.events_of(s, c) for c in consents]
        reads = [q for q in tally.statements if q.startswith("SELECT consent_event.")]
        assert len(reads) == 1, tally.statements
        assert [st.consent.id for st in states] == [c.id for c in consents]
        for consent, events in zip(consents, again, strict=True):
            own = s.scalars(
                select(ConsentEvent)
                .where(ConsentEvent.consent_id == consent.id)
                .order_by(ConsentEvent.recorded_at, ConsentEvent.id)
            ).all()
            assert list(events) == list(own)
            assert all(e.consent_id == consent.id for e in events)

"""The world the route matrix runs in: an organisation with one logged-in user per role
and every resource some route's path names, built through the pages and the API as the
people would (so a refactoring of the services underneath does not touch it), and the
request each route is tried with.

``build_organisation`` makes one organisation; the matrix makes two (its own and a
stranger) and tries every route with an id against the stranger's resources too.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import count
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from consent_service.audit.models import AuditAlert
from consent_service.citizens.models import Citizen, Referral
from consent_service.clock import FixedClock, legal_today
from consent_service.consents.models import Consent
from consent_service.consents.paper_models import PaperLocation
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.deletion.erasure_models import ErasureProposal
from consent_service.identity.models import AccessProposal, ApiToken, User
from consent_service.subject_requests.models import SubjectRequest
from tests.conftest import Person, current_code, enrolled_person, log_in, organisation
from tests.factories import synthetic_cpr, tiny_png

Route = tuple[str, str]  # (method, path template)
ROLES = ("navigator", "referrer", "data_controller", "dpo", "administrator", "legal_adviser")
# The roles whose logins build an organisation's resources.
BUILDERS = ("navigator", "data_controller", "administrator")
NEW_PASSWORD = "en helt ny og lang sætning om te"  # valid under the password policy
_serial = count(500)


# Refused requests do not keep a session alive, and every fresh code moves the clock on
# by a time step: a login older than this is renewed before it is used for a refusal, well
# inside the 15 minutes' idle timeout.
RENEW_AFTER = timedelta(minutes=10)


@dataclass
class Login:
    """One person's client, logged in once and kept for the whole matrix."""

    person: Person
    client: TestClient
    csrf: str
    logged_in_at: datetime

    def refresh(self, clock: FixedClock) -> None:
        """Log in again (after a change that ended the session, or a jump of the clock)."""
        self.client.cookies.clear()
        self.csrf = log_in(self.client, self.person, clock)
        self.logged_in_at = clock.now()

    def keep_alive(self, clock: FixedClock) -> None:
        """Log in again if the session may have idled out (see ``RENEW_AFTER``)."""
        if clock.now() - self.logged_in_at >= RENEW_AFTER:
            self.refresh(clock)


@dataclass
class Organisation:
    """An organisation with a logged-in user per role and named resources (``ids``)."""

    name: str
    id: int
    logins: dict[str, Login]
    ids: dict[str, str] = field(default_factory=dict)


def fresh_code(person: Person, clock: FixedClock) -> str:
    """A TOTP code of a time step nobody used yet (step-up refuses a reused code)."""
    clock.advance(timedelta(seconds=30))
    return current_code(person, clock)


def _login(app: FastAPI, person: Person, clock: FixedClock) -> Login:
    client = TestClient(app, follow_redirects=False)
    csrf = log_in(client, person, clock)
    return Login(person, client, csrf, clock.now())


def _post(login: Login, url: str, expected: int, **kwargs: Any) -> Response:
    data = {**kwargs.pop("data", {}), "csrf_token": login.csrf}
    r = login.client.post(url, data=data, **kwargs)
    assert r.status_code == expected, f"setting up: POST {url}: {r.status_code} {r.text[:300]}"
    return r


def _located(r: Response) -> str:
    return str(r.headers["location"]).split("?")[0].rsplit("/", 1)[1]


def _citizen(nav: Login, today: date) -> tuple[str, str]:
    """A registered and referred citizen: (public id, CPR number)."""
    cpr = synthetic_cpr(date(1960, 1, 1) + timedelta(days=next(_serial)), 3)
    r = _post(nav, "/borgere/ny", 303, data={
        "cpr": cpr, "name": "Ayşe Yılmaz", "municipality": "Norddjurs",
        "gp_clinic": "Lægehuset Grenaa", "phone": "+45 12 34 56 78",
    })  # fmt: skip
    pid = _located(r)
    _post(nav, f"/borgere/{pid}/henvisning", 303, data={
        "referrer_kind": "gp", "clinic": "Lægehuset Grenaa",
        "referred_on": (today - timedelta(days=3)).isoformat(),
        "course_start_on": today.isoformat(), "norddjurs_link": "true", "reachable": "true",
    })  # fmt: skip
    return pid, cpr


def _referral_of(ctx: AppContext, citizen_pid: str) -> str:
    """The public id of the citizen's (first) referral."""
    with ctx.sessions() as session:
        found = session.scalar(
            select(Referral.public_id)
            .join(Citizen, Citizen.id == Referral.citizen_id)
            .where(Citizen.public_id == citizen_pid)
            .order_by(Referral.id)
        )
        assert found is not None
        return found


def _printed(nav: Login, pid: str, kind: str) -> str:
    """Print a consent form; its form id (from the file name)."""
    r = _post(nav, f"/borgere/{pid}/samtykke/{kind}/udskriv", 200)
    found = re.search(rf'samtykke-{kind}-([^".]+)\.pdf', r.headers["content-disposition"])
    assert found, r.headers["content-disposition"]
    return found.group(1)


def _signed(ctx: AppContext, nav: Login, pid: str, kind: str, today: date) -> str:
    """Print, sign and record a consent of ``kind``; the consent's public id."""
    form_id = _printed(nav, pid, kind)
    _post(nav, f"/borgere/{pid}/samtykke/{kind}/registrer", 303,
          data={"form_id": form_id, "signed_on": today.isoformat(), "witness": "Navigatør"},
          files={"scan": ("scan.png", tiny_png(), "image/png")})  # fmt: skip
    with ctx.sessions() as session:
        consent = session.scalar(select(Consent).where(Consent.form_id == form_id))
        assert consent is not None
        return consent.public_id


def _paper_location(ctx: AppContext, dc: Login, organisation_id: int, name: str) -> str:
    """A place for paper originals, made by the data controller; its id."""
    _post(dc, "/papir/placeringer", 303, data={"name": name})
    with ctx.sessions() as session:
        found = session.scalar(
            select(PaperLocation.id).where(
                PaperLocation.organisation_id == organisation_id, PaperLocation.name == name
            )
        )
        assert found is not None
        return str(found)


def _subject_request(ctx: AppContext, nav: Login, citizen_pid: str, today: date) -> str:
    """A citizen's request registered today on the citizen's page; its public id."""
    day = today.isoformat()
    _post(nav, f"/borgere/{citizen_pid}/anmodninger", 303,
          data={"kind": "access", "channel": "letter", "received_on": day})  # fmt: skip
    with ctx.sessions() as session:
        found = session.scalar(
            select(SubjectRequest.public_id)
            .join(Citizen, Citizen.id == SubjectRequest.citizen_id)
            .where(Citizen.public_id == citizen_pid)
            .order_by(SubjectRequest.id.desc())
        )
        assert found is not None
        return found


def _erasure_proposal(ctx: AppContext, proposer: Login, citizen_pid: str) -> str:
    """A proposal to erase the citizen (henvist ved en fejl); its public id."""
    _post(proposer, f"/borgere/{citizen_pid}/sletning", 303,
          data={"reason": "referred_by_mistake", "note": "Forkert borger"})  # fmt: skip
    with ctx.sessions() as session:
        found = session.scalar(
            select(ErasureProposal.public_id)
            .join(Citizen, Citizen.id == ErasureProposal.citizen_id)
            .where(Citizen.public_id == citizen_pid)
            .order_by(ErasureProposal.id.desc())
        )
        assert found is not None
        return found


def _extract(dc: Login, today: date) -> str:
    r = _post(dc, "/udtraek", 303, data=extract_draft(today))
    return _located(r)


def _approved(dc: Login, clock: FixedClock, public_id: str) -> None:
    _post(dc, f"/udtraek/{public_id}/godkend", 303,
          data={"code": fresh_code(dc.person, clock), "comment": "OK"})  # fmt: skip


# A manifest in the service's format that no key signed: the verification page answers
# it (200) saying the signature is not the service's.
UNSIGNED_MANIFEST = (
    b'{"manifest": {"format": "consent-service-extract-manifest/1", "files": []}, '
    b'"signature": "AAAA"}'
)


def extract_draft(today: date) -> dict[str, Any]:
    """A draft extract request inside the extract policy, planned for today."""
    return {
        "purpose": "payment_goal_1_regional", "cohort": "hold-2", "measurement_years": "1",
        "planned_on": today.isoformat(), "sources": ["sygesikring"],
        "fields": ["gp_contacts", "psychologist_contacts"],
    }  # fmt: skip


def _proposal(ctx: AppContext, admin: Login) -> str:
    """An administrator's proposal of a new navigator (two people: a data controller decides)."""
    username = f"ny{next(_serial)}"
    _post(admin, "/admin/brugere", 303,
          data={"username": username, "display_name": "Ny Navigatør", "role": "navigator",
                "reason": "Ny kollega"})  # fmt: skip
    with ctx.sessions() as session:
        found = session.scalar(select(AccessProposal).where(AccessProposal.username == username))
        assert found is not None
        return str(found.id)


def _locked(ctx: AppContext, user_id: int) -> None:
    """Lock an account as repeated failed codes do (it waits for an administrator)."""
    with session_scope(ctx.sessions) as session:
        user = session.get(User, user_id)
        assert user is not None
        user.needs_admin_unlock = True
        user.locked_until = ctx.clock.now() + timedelta(days=365)


def _alert(ctx: AppContext, organisation_id: int, subject: str) -> str:
    """An open alert of the organisation, stored as the alert rules store one (raising it
    for real takes five failed logins, which the login rate limits would slow down)."""
    now = ctx.clock.now()
    with session_scope(ctx.sessions) as session:
        alert = AuditAlert(
            rule="failed_logins_account", subject_kind="user", subject=subject,
            organisation_id=organisation_id, window_start=now - timedelta(hours=1),
            window_end=now, event_count=5, first_seq=1, last_seq=1, raised_at=now,
        )  # fmt: skip
        session.add(alert)
        session.flush()
        return str(alert.id)


def build_organisation(
    app: FastAPI, ctx: AppContext, clock: FixedClock, name: str, logged_in: tuple[str, ...]
) -> Organisation:
    """One organisation: a person per role (those of ``logged_in`` logged in, at least the
    ``BUILDERS``), a second data controller (the four-eyes partner), target users, and
    every resource a route's path names."""
    people = {role: enrolled_person(ctx, role, org_name=name) for role in ROLES}
    logins = {role: _login(app, people[role], clock) for role in logged_in}
    org = Organisation(name, people["navigator"].organisation_id, logins)
    nav, admin, dc = logins["navigator"], logins["administrator"], logins["data_controller"]
    partner = _login(app, enrolled_person(ctx, "data_controller", org_name=name), clock)
    today = legal_today(clock)
    ids = org.ids

    ids["citizen"], ids["citizen_cpr"] = _citizen(nav, today)
    ids["referral"] = _referral_of(ctx, ids["citizen"])
    ids["consent_export"] = _signed(ctx, nav, ids["citizen"], "wellbeing", today)
    ids["citizen_to_sign"], _ = _citizen(nav, today)
    ids["form_id"] = _printed(nav, ids["citizen_to_sign"], "journal")
    ids["citizen_refusing"], _ = _citizen(nav, today)
    consenting, _ = _citizen(nav, today)
    ids["consent_journal"] = _signed(ctx, nav, consenting, "journal", today)
    ids["consent_withdraw"] = _signed(ctx, nav, consenting, "wellbeing", today)
    invalid, _ = _citizen(nav, today)
    ids["consent_invalidate"] = _signed(ctx, nav, invalid, "wellbeing", today)

    ids["citizen_erasure"], _ = _citizen(nav, today)
    ids["erasure_view"] = _erasure_proposal(ctx, nav, ids["citizen_erasure"])
    for target in ("erasure_approve", "erasure_reject"):
        ids[target] = _erasure_proposal(ctx, nav, _citizen(nav, today)[0])

    ids["location"] = _paper_location(ctx, dc, org.id, "Skab 2, Grenaa Sundhedshus")
    ids["request_extend"] = _subject_request(ctx, nav, ids["citizen"], today)
    ids["request_answer"] = _subject_request(ctx, nav, ids["citizen"], today)
    ids["location_retire"] = _paper_location(ctx, dc, org.id, "Gammelt arkiv")

    ids["extract_view"] = _extract(dc, today)
    ids["extract_approve"] = _extract(partner, today)
    ids["extract_reject"] = _extract(partner, today)
    ids["extract_execute"] = _extract(dc, today)
    _approved(partner, clock, ids["extract_execute"])
    ids["extract_download"] = _extract(dc, today)
    _approved(partner, clock, ids["extract_download"])
    _post(dc, f"/udtraek/{ids['extract_download']}/udfoer", 303)
    ids["extract_cancel"] = _extract(dc, today)

    for target in ("user_change", "user_unlock", "user_reset", "user_role"):
        ids[target] = str(enrolled_person(ctx, "navigator", org_name=name).user_id)
    _locked(ctx, int(ids["user_unlock"]))
    ids["referrer"] = str(people["referrer"].user_id)
    _post(admin, "/admin/api-noegler", 200,
          data={"user_id": ids["referrer"], "label": "Lægehuset", "valid_days": "30"})  # fmt: skip
    with ctx.sessions() as session:
        token = session.scalar(
            select(ApiToken).where(ApiToken.user_id == people["referrer"].user_id)
        )
        assert token is not None
        ids["token"] = str(token.id)
    ids["proposal_approve"] = _proposal(ctx, admin)
    ids["proposal_reject"] = _proposal(ctx, admin)
    ids["alert"] = _alert(ctx, org.id, people["navigator"].username)
    ids["organisation"] = str(org.id)
    # An organisation a system-wide administrator renames (the one running the service
    # keeps its configured name).
    ids["organisation_rename"] = str(organisation(ctx, f"{name} (omdøbes)"))
    partner.client.close()
    return org


# --- the request each route is tried with ----------------------------------------------------

# Which named resource of an organisation fills each path parameter; ``kind`` is a consent
# kind (a rule-file name, not a resource of an organisation).
PATH_RESOURCES: dict[Route, dict[str, str]] = {
    ("POST", "/admin/brugere/{user_id}/aendr"): {"user_id": "user_change"},
    ("POST", "/admin/brugere/{user_id}/laas-op"): {"user_id": "user_unlock"},
    ("POST", "/admin/brugere/{user_id}/nulstil"): {"user_id": "user_reset"},
    ("POST", "/admin/brugere/{user_id}/rolle"): {"user_id": "user_role"},
    ("POST", "/admin/api-noegler/{token_id}/tilbagekald"): {"token_id": "token"},
    ("POST", "/godkendelser/adgang/{proposal_id}/godkend"): {"proposal_id": "proposal_approve"},
    ("POST", "/godkendelser/adgang/{proposal_id}/afvis"): {"proposal_id": "proposal_reject"},
    ("POST", "/borgere/{public_id}/henvisning"): {"public_id": "citizen"},
    ("POST", "/henvisninger/{referral_id}/kontaktet"): {"referral_id": "referral"},
    ("GET", "/borgere/{public_id}"): {"public_id": "citizen"},
    ("GET", "/borgere/{public_id}/ret"): {"public_id": "citizen"},
    ("POST", "/borgere/{public_id}/ret"): {"public_id": "citizen"},
    ("POST", "/borgere/{public_id}/samtykke/{kind}/udskriv"): {"public_id": "citizen"},
    ("POST", "/borgere/{public_id}/samtykke/{kind}/registrer"): {"public_id": "citizen_to_sign"},
    ("GET", "/borgere/{public_id}/blanketter/{form_id}"): {
        "public_id": "citizen_to_sign",
        "form_id": "form_id",
    },
    ("POST", "/borgere/{public_id}/samtykke/{kind}/afslag"): {"public_id": "citizen_refusing"},
    ("POST", "/samtykker/{consent_id}/journal"): {"consent_id": "consent_journal"},
    ("POST", "/samtykker/{consent_id}/tilbagekald"): {"consent_id": "consent_withdraw"},
    ("POST", "/samtykker/{consent_id}/ugyldiggoer"): {"consent_id": "consent_invalidate"},
    ("GET", "/samtykker/{consent_id}/kvittering.pdf"): {"consent_id": "consent_export"},
    ("GET", "/samtykker/{consent_id}/scanning"): {"consent_id": "consent_export"},
    ("GET", "/api/v1/consents/{consent_id}/fhir"): {"consent_id": "consent_export"},
    ("GET", "/api/v1/consents/{consent_id}/iso27560"): {"consent_id": "consent_export"},
    ("POST", "/dpo/alarmer/{alert_id}/kvitter"): {"alert_id": "alert"},
    ("GET", "/udtraek/{public_id}"): {"public_id": "extract_view"},
    ("POST", "/udtraek/{public_id}/godkend"): {"public_id": "extract_approve"},
    ("POST", "/udtraek/{public_id}/afvis"): {"public_id": "extract_reject"},
    ("POST", "/udtraek/{public_id}/udfoer"): {"public_id": "extract_execute"},
    ("POST", "/udtraek/{public_id}/hent"): {"public_id": "extract_download"},
    ("POST", "/udtraek/{public_id}/annuller"): {"public_id": "extract_cancel"},
    ("GET", "/borgere/{public_id}/trivsel"): {"public_id": "citizen"},
    ("POST", "/borgere/{public_id}/trivsel"): {"public_id": "citizen"},
    ("POST", "/papir/placeringer/{location_id}/omdoeb"): {"location_id": "location"},
    ("POST", "/papir/placeringer/{location_id}/udgaa"): {"location_id": "location_retire"},
    ("POST", "/samtykker/{consent_id}/original"): {"consent_id": "consent_export"},
    ("POST", "/samtykker/{consent_id}/original/makuler"): {"consent_id": "consent_journal"},
    ("POST", "/borgere/{public_id}/anmodninger"): {"public_id": "citizen"},
    ("POST", "/anmodninger/{request_id}/forlaeng"): {"request_id": "request_extend"},
    ("POST", "/anmodninger/{request_id}/besvar"): {"request_id": "request_answer"},
    ("GET", "/borgere/{public_id}/sletning"): {"public_id": "citizen_erasure"},
    ("POST", "/borgere/{public_id}/sletning"): {"public_id": "citizen_erasure"},
    ("GET", "/sletning/borgere/{public_id}"): {"public_id": "erasure_view"},
    ("POST", "/sletning/borgere/{public_id}/godkend"): {"public_id": "erasure_approve"},
    ("POST", "/sletning/borgere/{public_id}/afvis"): {"public_id": "erasure_reject"},
}
CONSENT_KIND: dict[Route, str] = {
    ("POST", "/borgere/{public_id}/samtykke/{kind}/udskriv"): "journal",
    ("POST", "/borgere/{public_id}/samtykke/{kind}/registrer"): "journal",
    ("POST", "/borgere/{public_id}/samtykke/{kind}/afslag"): "wellbeing",
}


def unknown_id(param: str) -> str:
    """An id of the right shape that names nothing."""
    numeric = param.endswith("_id") and param not in ("consent_id", "referral_id")
    return "987654321" if numeric else uuid.uuid4().hex


@dataclass
class Call:
    """One request: method, URL and what goes with it."""

    method: str
    url: str
    data: dict[str, Any] | None = None
    files: dict[str, Any] | None = None
    json: dict[str, Any] | None = None
    params: dict[str, Any] | None = None

    def send(self, login: Login) -> Response:
        """Send as ``login``; a state-changing request carries the session's CSRF token
        (in the form, or in the header for JSON)."""
        if self.method == "GET":
            return login.client.get(self.url, params=self.params)
        if self.json is not None:
            return login.client.request(
                self.method, self.url, json=self.json, headers={"x-csrf-token": login.csrf}
            )
        data = {**(self.data or {}), "csrf_token": login.csrf}
        return login.client.request(self.method, self.url, data=data, files=self.files)


Body = Callable[["Organisation", Login, FixedClock], dict[str, Any]]


def _who5(org: Organisation, me: Login, clock: FixedClock) -> dict[str, Any]:
    answers = {f"who5_{i}": "3" for i in range(1, 6)}
    return {"data": {"occasion": "baseline", "answered_on": legal_today(clock).isoformat(),
                     "life_satisfaction": "7", **answers}}  # fmt: skip


def _referral(org: Organisation, me: Login, clock: FixedClock) -> dict[str, Any]:
    return {"json": {
        "cpr": synthetic_cpr(date(1960, 1, 1) + timedelta(days=next(_serial)), 4),
        "name": "Ayşe Yılmaz", "municipality": "Norddjurs", "gp_clinic": "Lægehuset Grenaa",
        "referrer_kind": "gp", "clinic": "Lægehuset Grenaa",
        "referred_on": legal_today(clock).isoformat(), "norddjurs_link": True, "reachable": True,
    }}  # fmt: skip


def _today(clock: FixedClock) -> str:
    return legal_today(clock).isoformat()


# What each route is sent besides its path: a valid form, JSON body or query. A route
# that asks for a fresh code gets one (``fresh_code`` moves the clock to a new step).
BODIES: dict[Route, Body] = {
    ("POST", "/admin/brugere"): lambda o, me, c: {
        "data": {
            "username": f"admin{next(_serial)}",
            "display_name": "Ny Administrator",
            "role": "administrator",
        }
    },
    ("POST", "/admin/brugere/{user_id}/aendr"): lambda o, me, c: {
        "data": {"reason": "Stopper i projektet", "active": "false", "confirmed": "ja"}
    },
    ("POST", "/admin/brugere/{user_id}/laas-op"): lambda o, me, c: {
        "data": {"reason": "Ringede og bekræftede"}
    },
    ("POST", "/admin/brugere/{user_id}/nulstil"): lambda o, me, c: {
        "data": {"kind": "adgangskode", "reason": "Har glemt adgangskoden"}
    },
    ("POST", "/admin/brugere/{user_id}/rolle"): lambda o, me, c: {
        "data": {
            "role": "administrator",
            "reason": "Skifter job",
            "confirmed": "ja",
            # Only the role allowed gets as far as the code: the others' refusals must not
            # move the clock (a refused request does not keep a session alive).
            "code": fresh_code(me.person, c) if me.person.role == "administrator" else "000000",
        }
    },
    ("POST", "/admin/organisationer"): lambda o, me, c: {
        "data": {"name": f"Ny organisation {next(_serial)}"}
    },
    ("GET", "/admin/organisationer/vis"): lambda o, me, c: {
        "params": {"organisation": o.ids["organisation"]}
    },
    ("POST", "/admin/organisationer/omdoeb"): lambda o, me, c: {
        "data": {"organisation": o.ids["organisation_rename"], "name": f"Omdøbt {next(_serial)}"}
    },
    ("POST", "/admin/api-noegler/{token_id}/tilbagekald"): lambda o, me, c: {
        "data": {"confirmed": "ja"}
    },
    ("POST", "/admin/api-noegler"): lambda o, me, c: {
        "data": {"user_id": o.ids["referrer"], "label": "Ny praksis", "valid_days": "30"}
    },
    ("POST", "/godkendelser/adgang/{proposal_id}/godkend"): lambda o, me, c: {
        "data": {"code": fresh_code(me.person, c), "comment": "OK"}
    },
    ("POST", "/godkendelser/adgang/{proposal_id}/afvis"): lambda o, me, c: {
        "data": {"reason": "Ikke aftalt"}
    },
    ("POST", "/konto/adgangskode"): lambda o, me, c: {
        "data": {
            "current_password": me.person.password,
            "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD,
            "code": fresh_code(me.person, c),
        }
    },
    ("POST", "/konto/gendannelseskoder"): lambda o, me, c: {
        "data": {"code": fresh_code(me.person, c)}
    },
    ("POST", "/borgere/soeg"): lambda o, me, c: {"data": {"cpr": o.ids["citizen_cpr"]}},
    ("POST", "/borgere/ny"): lambda o, me, c: {
        "data": {
            "cpr": synthetic_cpr(date(1960, 1, 1) + timedelta(days=next(_serial)), 5),
            "name": "Jens Ærø",
            "municipality": "Norddjurs",
            "gp_clinic": "Lægehuset Grenaa",
        }
    },
    ("POST", "/borgere/{public_id}/ret"): lambda o, me, c: {
        "data": {
            "name": "Ayşe Yılmaz",
            "municipality": "Norddjurs",
            "gp_clinic": "Lægehuset Grenaa",
            "phone": f"+45 12 34 {next(_serial) % 100:02d} 78",
            "reason": "Nyt telefonnummer",
        }
    },
    ("POST", "/borgere/{public_id}/henvisning"): lambda o, me, c: {
        "data": {
            "referrer_kind": "gp",
            "clinic": "Lægehuset Grenaa",
            "referred_on": _today(c),
            "norddjurs_link": "true",
            "reachable": "true",
        }
    },
    ("POST", "/api/v1/referrals"): _referral,
    ("POST", "/henvisninger/{referral_id}/kontaktet"): lambda o, me, c: {
        "data": {"contacted_on": _today(c), "note": "Ringede, aftalt møde"}
    },
    ("POST", "/henvis"): lambda o, me, c: {
        "data": {
            **{k: v for k, v in _referral(o, me, c)["json"].items() if k != "clinic"},
            "norddjurs_link": "true",
            "reachable": "true",
        }
    },
    ("POST", "/borgere/{public_id}/samtykke/{kind}/registrer"): lambda o, me, c: {
        "data": {"form_id": o.ids["form_id"], "signed_on": _today(c), "witness": "Navigatør"},
        "files": {"scan": ("scan.png", tiny_png(), "image/png")},
    },
    ("POST", "/borgere/{public_id}/samtykke/{kind}/afslag"): lambda o, me, c: {
        "data": {"decided_on": _today(c)}
    },
    ("POST", "/samtykker/{consent_id}/journal"): lambda o, me, c: {
        "data": {"entered_on": _today(c)}
    },
    ("POST", "/samtykker/{consent_id}/tilbagekald"): lambda o, me, c: {
        "data": {"withdrawn_on": _today(c), "channel": "phone", "confirmed": "ja"}
    },
    ("POST", "/samtykker/{consent_id}/ugyldiggoer"): lambda o, me, c: {
        "data": {"reason": "recorded_in_error", "confirmed": "ja"}
    },
    ("POST", "/dpo/log/borger"): lambda o, me, c: {"data": {"cpr": o.ids["citizen_cpr"]}},
    ("POST", "/dpo/alarmer/{alert_id}/kvitter"): lambda o, me, c: {
        "data": {"comment": "Brugeren havde glemt sin adgangskode"}
    },
    ("GET", "/dpo/eksport"): lambda o, me, c: {
        "params": {"fra": (legal_today(c) - timedelta(days=1)).isoformat(), "til": _today(c)}
    },
    ("GET", "/dpo/vidner/kontrolpunkt"): lambda o, me, c: {"params": {"vidne": o.ids["witness"]}},
    ("POST", "/dpo/indsigt"): lambda o, me, c: {
        "data": {"cpr": o.ids["citizen_cpr"], "version": "dpo", "format": "side"}
    },
    ("POST", "/sletning"): lambda o, me, c: {
        "data": {"confirm": "SLET", "code": fresh_code(me.person, c)}
    },
    ("POST", "/sletning/samtykkeposter"): lambda o, me, c: {
        "data": {"confirm": "SLET", "code": fresh_code(me.person, c)}
    },
    ("POST", "/udtraek"): lambda o, me, c: {"data": extract_draft(legal_today(c))},
    ("GET", "/udtraek/daekning/maaling"): lambda o, me, c: {"params": {"maaling": "hold-2-2"}},
    ("GET", "/udtraek/daekning/nyt-samtykke.csv"): lambda o, me, c: {
        "params": {"maaling": "hold-2-2"}
    },
    ("POST", "/udtraek/daekning/dato"): lambda o, me, c: {
        "data": {
            "maaling": "hold-1-1",
            "dato": "2027-11-01",
            "begrundelse": "Registerejerens frist",
        }
    },
    ("GET", "/api/v1/extracts/coverage"): lambda o, me, c: {
        "params": {"cohort": "hold-2", "measurement": 1, "planned_on": _today(c)}
    },
    ("POST", "/regelsamling/godkend"): lambda o, me, c: {
        "data": {
            "code": fresh_code(me.person, c) if me.person.role == "legal_adviser" else "0",
            "comment": "Gennemgået",
        }
    },
    ("POST", "/udtraek/{public_id}/godkend"): lambda o, me, c: {
        "data": {"code": fresh_code(me.person, c), "comment": "OK"}
    },
    # Only a call that reaches the code spends a time step (the allowed role, on its own
    # organisation's request): the refusals and the other organisation's ids run first,
    # while the sessions are fresh, and every step moves the clock towards the idle timeout.
    ("POST", "/udtraek/{public_id}/afvis"): lambda o, me, c: {
        "data": {
            "code": fresh_code(me.person, c)
            if me.person.role == "data_controller" and me.person.organisation_id == o.id
            else "0",
            "comment": "Forkert hold",
        }
    },
    ("POST", "/udtraek/{public_id}/annuller"): lambda o, me, c: {
        "data": {"reason": "Planlagt til en forkert dato", "confirmed": "ja"}
    },
    ("POST", "/udtraek/verificer"): lambda o, me, c: {
        "files": {"manifest": ("manifest.json", UNSIGNED_MANIFEST, "application/json")}
    },
    ("POST", "/borgere/{public_id}/trivsel"): _who5,
    ("POST", "/papir/placeringer"): lambda o, me, c: {"data": {"name": f"Skab {next(_serial)}"}},
    ("POST", "/papir/placeringer/{location_id}/omdoeb"): lambda o, me, c: {
        "data": {"name": "Skab 2 (aflåst), Grenaa Sundhedshus"}
    },
    ("POST", "/samtykker/{consent_id}/original"): lambda o, me, c: {
        "data": {
            "action": "stored",
            "location_id": o.ids["location"],
            "person": "Nina Navigatør",
            "occurred_on": _today(c),
        }
    },
    ("POST", "/borgere/{public_id}/anmodninger"): lambda o, me, c: {
        "data": {"kind": "erasure", "channel": "phone", "received_on": _today(c)}
    },
    ("POST", "/anmodninger/{request_id}/forlaeng"): lambda o, me, c: {
        "data": {
            "new_deadline": (legal_today(c) + timedelta(days=40)).isoformat(),
            "reason": "Mange samtidige anmodninger",
        }
    },
    ("POST", "/anmodninger/{request_id}/besvar"): lambda o, me, c: {
        "data": {"outcome": "answered", "answered_on": _today(c), "note": "Kopi sendt"}
    },
    ("POST", "/borgere/{public_id}/sletning"): lambda o, me, c: {
        "data": {"reason": "referred_by_mistake", "note": "Henvist til den forkerte navigatør"}
    },
    # Only the allowed role on its own organisation's proposal reaches the code (a fresh
    # code moves the clock; the refusals and foreign ids must not).
    ("POST", "/sletning/borgere/{public_id}/godkend"): lambda o, me, c: {
        "data": {
            "code": fresh_code(me.person, c)
            if me.person.role == "data_controller" and me.person.organisation_id == o.id
            else "0",
            "comment": "Bekræftet",
        }
    },
    ("POST", "/sletning/borgere/{public_id}/afvis"): lambda o, me, c: {
        "data": {"comment": "Borgeren er i målgruppen"}
    },
    ("POST", "/samtykker/{consent_id}/original/makuler"): lambda o, me, c: {
        "data": {
            "person": "Nina Navigatør",
            "note": "makuleret",
            "occurred_on": _today(c),
            "confirmed": "ja",
        }
    },
}


def path_ids(route: Route, org: Organisation | None) -> dict[str, str]:
    """The route's path parameters filled from ``org``'s resources (or with unknown ids
    when ``org`` is None); a consent kind stays a kind."""
    ids = {
        param: org.ids[resource] if org is not None else unknown_id(param)
        for param, resource in PATH_RESOURCES.get(route, {}).items()
    }
    if route in CONSENT_KIND:
        ids["kind"] = CONSENT_KIND[route]
    return ids


def call_for(
    route: Route, me: Login, clock: FixedClock, body_from: Organisation,
    ids: dict[str, str],
) -> Call:  # fmt: skip
    """The request ``me`` sends on ``route``: the path filled with ``ids``, the body made
    for ``body_from``."""
    method, template = route
    body = BODIES.get(route, lambda o, m, c: {})(body_from, me, clock)
    return Call(method, template.format(**ids), **body)

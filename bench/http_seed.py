"""The data of the HTTP benchmark (``http_load.py``), made with the service's own functions
in the bench process, as the application login, before the server starts.

- one organisation and an administrator (``bootstrap_admin``), who acts in the seed;
- per virtual user: a navigator, a DPO and a referrer, each made with ``create_user`` and
  then given the state the first login leaves (a password of their own, TOTP enrolled:
  what ``tests/conftest.py`` ``enrolled_person`` does), and one API token per referrer
  (``create_api_token``), plus one more token that every client shares in that mode;
- citizens (a few hundred) with a referral and a given, journal-confirmed consent, for
  the citizen page, the worklist and the DPO log;
- a pool of printed, unrecorded consent forms (``print_form``) on other citizens, two per
  citizen (one per kind), for the "record a consent" requests: each records one form.

Two slow steps are done once and reused, in the seed only (``_computed_once``): the
argon2 hash of a user's password (0.6 s each here) and a form's PDF rendering (~90 ms).
No measured request reads a stored PDF, and each sealed PDF has a real form's size.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.citizens import referrals
from consent_service.citizens import service as citizens
from consent_service.citizens.models import Citizen
from consent_service.clock import legal_today
from consent_service.consents import form_pdf, printed
from consent_service.consents import service as consents
from consent_service.context import AppContext
from consent_service.db import session_scope
from consent_service.identity import passwords, totp
from consent_service.identity import users as identity
from consent_service.identity.models import User
from consent_service.identity.tokens import create_api_token

PASSWORD = "lang og sikker sætning om kaffe og bench"  # noqa: S105 - the bench users
KINDS = ("journal", "wellbeing")
WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
CLINIC = "Lægehuset Grenaa"
NEW = 10  # referrals not yet contacted: on the worklist
CLIENTS_ORGANISATION = "Bench praksissystemer"


@dataclass(frozen=True)
class Person:
    username: str
    totp_secret: str


@dataclass
class Seeded:
    """What the virtual users need: who logs in, the tokens, the citizens, the forms."""

    navigators: list[Person] = field(default_factory=list)
    dpos: list[Person] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)  # one per client
    shared_token: str = ""
    citizens: list[str] = field(default_factory=list)  # public ids, for the page
    forms: list[tuple[str, str, str]] = field(default_factory=list)  # (citizen, kind, form id)


def _mod11_ok(digits: str) -> bool:
    return sum(int(d) * w for d, w in zip(digits, WEIGHTS, strict=True)) % 11 == 0


def synthetic_cprs(start: int = 0) -> Iterator[str]:
    """CPR-shaped numbers that cannot be a real person's (births 1940-1979 whose serial
    fails the modulus-11 check every number issued before 2007 passes), as the tests'
    factory makes them (restated: a benchmark does not import the tests)."""
    day = date(1940, 1, 1) + timedelta(days=start)
    while day.year < 1980:
        head = day.strftime("%d%m%y")
        for serial in range(1000, 4000):
            digits = f"{head}{serial:04d}"
            if not _mod11_ok(digits):
                yield digits
        day += timedelta(days=1)


def referral_body(cpr: str, today: date) -> dict[str, Any]:
    """The JSON a practice system sends to POST /api/v1/referrals."""
    return {
        "cpr": cpr,
        "name": "Ayşe Yılmaz",
        "municipality": "Norddjurs",
        "gp_clinic": CLINIC,
        "referrer_kind": "gp",
        "clinic": CLINIC,
        "referred_on": today.isoformat(),
        "course_start_on": "2027-05-03",
        "norddjurs_link": True,
        "reachable": True,
    }


def _enrolled(
    session: Session, ctx: AppContext, actor: Actor, org_id: int, role: str, name: str, pw: str
) -> tuple[User, Person]:
    """A user as ``create_user`` makes them, then as their first login leaves them."""
    user, _ = identity.create_user(
        session, ctx.deps, actor, organisation_id=org_id, username=name,
        display_name=f"Bench {role} {name}", role=role,
    )  # fmt: skip
    secret = totp.new_secret()
    user.password_hash = pw
    user.must_change_password = False
    user.totp_secret_sealed = ctx.crypto.seal_totp_secret(user.id, secret)
    user.totp_enrolled_at = ctx.clock.now()
    session.flush()
    return user, Person(name, secret)


@contextmanager
def _computed_once() -> Iterator[None]:
    """The seed's two slow steps done once and reused, the seed only: the argon2 hash of
    ``create_user``'s one-time password (each user then gets the hash of ``PASSWORD``)
    and the PDF rendering of ``print_form`` (the measured requests never read either)."""
    pdfs: list[bytes] = []
    hashes: list[str] = []
    render, hasher = form_pdf.render_form, passwords.hash_password

    def render_once(data: Any) -> bytes:
        if not pdfs:
            pdfs.append(render(data))
        return pdfs[0]

    def hash_once(password: str) -> str:
        if not hashes:
            hashes.append(hasher(password))
        return hashes[0]

    # Where print_form and create_user look them up (each module imported the name).
    setattr(printed, "render_form", render_once)  # noqa: B010
    setattr(identity, "hash_password", hash_once)  # noqa: B010
    try:
        yield
    finally:
        setattr(printed, "render_form", render)  # noqa: B010
        setattr(identity, "hash_password", hasher)  # noqa: B010


def _citizen(
    session: Session, ctx: AppContext, actor: Actor, org_id: int, cpr: str, *, contacted: bool
) -> Citizen:
    """A citizen with a referral; ``contacted``: the navigator has called them, so the
    referral has left the worklist's new referrals (as most have, in a running pilot)."""
    today = legal_today(ctx.clock)
    c = citizens.register_citizen(
        session, ctx.deps, actor, org_id,
        citizens.CitizenInput(cpr=cpr, name="Åse Ærø Østergård", phone="+45 12 34 56 78",
                              email=None, municipality="Norddjurs", gp_clinic=CLINIC),
    )  # fmt: skip
    referral = citizens.register_referral(
        session, ctx.deps, actor, c,
        citizens.ReferralInput(referrer_kind="gp", clinic=CLINIC,
                               referred_on=today - timedelta(days=14),
                               course_start_on=date(2027, 5, 3),
                               norddjurs_link=True, reachable=True),
    )  # fmt: skip
    if contacted:
        referrals.contact_referral(
            session, ctx.deps, actor, org_id, referral.public_id, today, "Ringet op"
        )
    return c


def seed(
    ctx: AppContext, *, users: int, citizens_n: int, forms_n: int, scan: bytes
) -> tuple[Seeded, Iterator[str]]:
    """Everything the run needs; returns it and the CPR numbers not yet used (for the
    referrals the API writes)."""
    with _computed_once():
        return _seed(ctx, users=users, citizens_n=citizens_n, forms_n=forms_n, scan=scan)


def _seed(
    ctx: AppContext, *, users: int, citizens_n: int, forms_n: int, scan: bytes
) -> tuple[Seeded, Iterator[str]]:
    out = Seeded()
    cprs = synthetic_cprs()
    pw = passwords.hash_password(PASSWORD)  # one argon2 hash for all
    with session_scope(ctx.sessions) as session:
        made = identity.bootstrap_admin(session, ctx.deps, Actor(username="bench"), "benchadmin")
        assert made is not None, "the scratch database already had an administrator"
        admin = made[0]
        admin_actor = Actor().as_user(admin.id, admin.username, admin.organisation_id)
        org_id = admin.organisation_id
        nav_users = []
        for i in range(users):
            user, person = _enrolled(session, ctx, admin_actor, org_id, "navigator", f"nav{i}", pw)
            nav_users.append(user)
            out.navigators.append(person)
            out.dpos.append(_enrolled(session, ctx, admin_actor, org_id, "dpo", f"dpo{i}", pw)[1])
        # The practice systems' referrals land in their own organisation, so the
        # navigators' worklist does not grow with the run's writes.
        clients = identity.create_organisation(session, ctx.deps, admin_actor, CLIENTS_ORGANISATION)
        holders = [
            _enrolled(session, ctx, admin_actor, clients.id, "referrer", f"ref{i}", pw)[0]
            for i in range(users + 1)
        ]
        for i, holder in enumerate(holders):
            token = create_api_token(
                session, ctx.deps, admin_actor, user=holder, label=f"Praksissystem {i}",
                scopes=["referral:submit"], valid_days=30,
            )  # fmt: skip
            if i < users:
                out.tokens.append(token)
            else:
                out.shared_token = token
        # The citizens are registered, referred and signed by the first navigator.
        nav_actor = Actor().as_user(nav_users[0].id, nav_users[0].username, org_id)
    today = legal_today(ctx.clock)
    for start in range(0, citizens_n, 50):
        with session_scope(ctx.sessions) as session:
            for i in range(start, min(citizens_n, start + 50)):
                c = _citizen(session, ctx, nav_actor, org_id, next(cprs), contacted=i >= NEW)
                form, _ = printed.print_form(session, ctx.deps, nav_actor, c, "journal")
                consent = consents.record_signed(
                    session, ctx.deps, nav_actor, c, "journal", form_id=form.form_id,
                    signed_on=today, witness="Navigatør", scan=scan,
                )  # fmt: skip
                consents.confirm_journal_entry(session, ctx.deps, nav_actor, c, consent, today)
                out.citizens.append(c.public_id)
    for start in range(0, forms_n, 100):
        with session_scope(ctx.sessions) as session:
            for _ in range(start, min(forms_n, start + 100), len(KINDS)):
                c = _citizen(session, ctx, nav_actor, org_id, next(cprs), contacted=True)
                for kind in KINDS:
                    form, _ = printed.print_form(session, ctx.deps, nav_actor, c, kind)
                    out.forms.append((c.public_id, kind, form.form_id))
    secrets.SystemRandom().shuffle(out.forms)
    return out, cprs

"""The pages each role reaches, checked by the accessibility test (in a browser) and by the
page-words test (no raw code, path or numbered person): every page of the role's menu,
in the menu's order, and the pages outside the menu the role reaches."""

from __future__ import annotations

from dataclasses import dataclass

from consent_service.clock import FixedClock
from consent_service.context import AppContext
from tests.scenario import Pilot


@dataclass(frozen=True)
class Visit:
    """A page to check: its address (``{citizen}`` is the seeded citizen's id) and whether
    it is a page of the role's menu."""

    path: str
    in_menu: bool = True
    # A page another helper owns that still fails: the violation it has (strict xfail,
    # so the list shows when it is fixed).
    fails: str | None = None


# Every page of each role's menu (in the menu's order), and the pages outside the menu the
# role reaches. A page another helper is still building may be marked xfail(strict=True)
# with the violation it has, so it shows here when it is fixed.
PAGES: dict[str, tuple[Visit, ...]] = {
    "navigator": (
        Visit("/"),
        Visit("/borgere"),
        Visit("/arbejdsliste"),
        Visit("/anmodninger"),
        Visit("/konto"),
        Visit("/borgere/ny", in_menu=False),
        Visit("/borgere/{citizen}", in_menu=False),
        Visit("/borgere/{citizen}/sletning", in_menu=False),
    ),
    "referrer": (
        Visit("/"),
        Visit("/henvis"),
        Visit("/mine-henvisninger"),
        Visit("/konto"),
    ),
    "data_controller": (
        Visit("/"),
        Visit("/udtraek"),
        Visit("/udtraek/daekning"),
        Visit("/arbejdsliste/hold"),
        Visit("/sletning"),
        Visit("/papir/placeringer"),
        Visit("/udtraek/verificer"),
        Visit("/godkendelser/adgang"),
        Visit("/regelsamling"),
        Visit("/konto"),
        Visit("/udtraek/daekning/maaling?maaling=hold-1-2", in_menu=False),
        Visit("/sletning/borgere", in_menu=False),
    ),
    "dpo": (
        Visit("/"),
        Visit("/dpo"),
        Visit("/dpo/log"),
        Visit("/dpo/afvisninger"),
        Visit("/dpo/alarmer"),
        Visit("/dpo/indsigt"),
        Visit("/anmodninger"),
        Visit("/udtraek/verificer"),
        Visit("/regelsamling"),
        Visit("/konto"),
        Visit("/borgere/{citizen}/sletning", in_menu=False),
    ),
    "administrator": (
        Visit("/"),
        Visit("/admin/brugere"),
        Visit("/admin/organisationer"),
        Visit("/admin/api-noegler"),
        Visit("/godkendelser/adgang"),
        Visit("/konto"),
    ),
    "legal_adviser": (
        Visit("/"),
        Visit("/regelsamling"),
        Visit("/konto"),
    ),
}


def seeded_citizen(ctx: AppContext, clock: FixedClock) -> str:
    """A citizen with a referral and a given journal consent; returns the citizen's id."""
    pilot = Pilot.start(ctx, clock)
    day = pilot.today
    pid = pilot.citizen(name="Åse Ærø Østergård")
    pilot.refer(pid, day)
    pilot.sign(pid, "journal", day)
    pilot.at(day, hour=11)
    return pid

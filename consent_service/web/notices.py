"""Danish confirmations shown after a successful form (the form pattern's redirect).

A form that succeeds redirects (303) with ``?besked=<key>``; the page frame shows the
sentence for a known key and ignores any other value, so the address carries no personal
data and a forged key shows nothing. Keys are added here as pages need them.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse

NOTICE_PARAM = "besked"

NOTICES: dict[str, str] = {
    "citizen-registered": "Borgeren er registreret.",
    "rulebook-approved": "Regelsamlingen er godkendt, som den står nu.",
    "citizen-corrected": "Oplysningerne er rettet. Historikken viser før og efter.",
    "referral-registered": "Henvisningen er registreret.",
    "referral-contacted": "Henvisningen er markeret som kontaktet.",
    "referral-sent": "Henvisningen er sendt. Du kan følge den her.",
    "consent-recorded": "Samtykket er registreret.",
    "consent-refused": "Afslaget er registreret.",
    "journal-confirmed": "Journalnotatet er bekræftet.",
    "consent-withdrawn": "Tilbagekaldelsen er registreret.",
    "consent-invalidated": "Registreringen er markeret som ugyldig.",
    "wellbeing-recorded": "Besvarelsen er registreret.",
    "paper-location-created": "Placeringen er oprettet.",
    "paper-location-renamed": "Placeringen har fået sit nye navn.",
    "paper-location-retired": "Placeringen er udgået.",
    "paper-stored": "Det er registreret, hvor originalen ligger.",
    "paper-taken_out": "Det er registreret, at originalen er taget ud.",
    "paper-returned": "Det er registreret, at originalen er lagt tilbage.",
    "paper-destroyed": "Destruktionen af originalen er registreret.",
    "request-registered": "Anmodningen er registreret. Fristen står i listen over anmodninger.",
    "request-extended": "Fristen er forlænget. Husk at give borgeren besked med begrundelsen.",
    "request-answered": "Svaret på anmodningen er registreret.",
    "request-refused": "Afvisningen af anmodningen er registreret.",
    "request-answered-late": (
        "Svaret er registreret. Det blev givet efter fristen og står som overskredet."
    ),
    "erasure-proposed": "Forslaget om sletning er sendt til godkendelse hos en dataansvarlig.",
    "erasure-carried-out": (
        "Sletningen er godkendt og gennemført. Siden viser, hvad der er slettet og bevaret."
    ),
    "erasure-rejected": "Forslaget om sletning er afvist. Intet er slettet.",
    "user-changed": "Ændringen af brugeren er gemt.",
    "user-unlocked": "Brugeren er låst op og kan logge ind igen.",
    "proposal-made": "Forslaget er sendt til godkendelse hos en dataansvarlig.",
    "proposal-rejected": "Forslaget er afvist.",
    "token-revoked": "API-nøglen er tilbagekaldt.",
    "measurement-planned": "Den nye måledato er gemt. Dækningen er regnet ud på den.",
    "alert-acknowledged": "Alarmen er kvitteret med din kommentar.",
    "checkpoint-signed": (
        "Kædens hoved er signeret: et nyt kontrolpunkt står øverst under seneste checkpoints."
    ),
    "extract-requested": "Anmodningen er oprettet. En anden dataansvarlig skal godkende den.",
    "extract-approved": "Anmodningen er godkendt.",
    "extract-rejected": "Anmodningen er afvist.",
    "extract-cancelled": "Anmodningen er annulleret.",
    "extract-executed": "Udtrækket er udført. Filerne kan nu hentes.",
    "organisation-created": "Organisationen er oprettet. Opret nu dens brugere.",
    "organisation-renamed": "Organisationen har fået sit nye navn.",
    "role-changed": "Rollen er skiftet, og brugerens sessioner er afsluttet.",
}


def redirect(url: str, key: str) -> RedirectResponse:
    """Redirect (303) to ``url`` showing the notice ``key`` (which must be in ``NOTICES``)."""
    if key not in NOTICES:
        raise KeyError(key)
    separator = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{separator}{urlencode({NOTICE_PARAM: key})}", status_code=303)


def notice_from(request: Request) -> str | None:
    """The notice named in the address, if it is a known one."""
    return NOTICES.get(request.query_params.get(NOTICE_PARAM, ""))

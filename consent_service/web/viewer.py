"""Who a page's header names, kept on the request for its error page.

``require`` stores the signed-in person here as soon as it has authenticated them
(``request.state.viewer``), as plain values copied out of the request's transaction: an
error page rendered after a rollback, or by the outermost fail-safe after the session is
closed, can still show the menu without loading anything or authenticating again. A
request that never authenticated (a public page) has no viewer, and its error page no
menu. Only an address no route matches (a 404 before any route ran) looks the browser
session up itself, read-only (``from_cookie``), so a mistyped address keeps the menu.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from consent_service.context import AppContext
from consent_service.identity import sessions
from consent_service.identity.models import User, UserSession
from consent_service.web.cookies import SESSION_COOKIE


@dataclass(frozen=True)
class ViewerUser:
    """What the header shows of the person: name and role (``base.html``)."""

    display_name: str
    role: str


@dataclass(frozen=True)
class Viewer:
    """The ``me`` of an error page: what ``base.html`` and ``menu(me)`` read."""

    user: ViewerUser
    csrf_token: str


def viewer_of(user: User, row: UserSession) -> Viewer:
    """The header's view of a signed-in person and their browser session."""
    return Viewer(ViewerUser(user.display_name, user.role), row.csrf_token)


def remember(request: Request, user: User, row: UserSession | None) -> None:
    """Keep the person of a browser session for the request's error page (an API token
    has no page and no menu)."""
    if row is not None:
        request.state.viewer = viewer_of(user, row)


def current(request: Request) -> Viewer | None:
    """The viewer ``require`` kept for this request, if it authenticated anyone."""
    found = getattr(request.state, "viewer", None)
    return found if isinstance(found, Viewer) else None


def from_cookie(request: Request) -> Viewer | None:
    """The person of the request's browser session, for a request no route authenticated
    (an unknown address). Read-only: the session is rolled back, so its idle clock is not
    moved and an expired one is ended by the next real request, not here."""
    ctx: AppContext = request.app.state.ctx
    with ctx.sessions() as session:
        try:
            found = sessions.active_session(
                session, ctx.identity, request.cookies.get(SESSION_COOKIE)
            )
            if found.row is None or found.user is None:
                return None
            return viewer_of(found.user, found.row)
        finally:
            session.rollback()

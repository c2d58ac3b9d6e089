"""The menu: each link shown to whoever the access policy lets open it.

A link names only its address and its Danish label. Whether a person sees it follows from
the permission its route declares (``require(...)``) and the role's grants in
``policies/access.yaml``, so the menu never restates who may do what: change a grant and
the menu follows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi.routing import APIRoute

from consent_service.access.policy import AccessPolicy
from consent_service.web.deps import declared_permission, iter_routes

# (address, label) in the order shown; every address is a page (GET route) of the app.
MENU: tuple[tuple[str, str], ...] = (
    ("/borgere", "Borgere"),
    ("/arbejdsliste", "Arbejdsliste"),
    ("/henvis", "Henvis borger"),
    ("/mine-henvisninger", "Mine henvisninger"),
    ("/udtraek", "Udtræk"),
    ("/udtraek/daekning", "Dækning"),
    ("/arbejdsliste/hold", "Opgaver pr. hold"),
    ("/sletning", "Sletning"),
    ("/papir/placeringer", "Papiroriginaler"),
    ("/dpo", "Overblik"),
    ("/dpo/log", "Log"),
    ("/dpo/afvisninger", "Afviste forsøg"),
    ("/dpo/alarmer", "Alarmer"),
    ("/dpo/indsigt", "Indsigt"),
    ("/udtraek/verificer", "Kontrol af udtræk"),
    ("/admin/brugere", "Brugere"),
    ("/admin/organisationer", "Organisationer"),
    ("/admin/api-noegler", "API-nøgler"),
    ("/godkendelser/adgang", "Godkendelser"),
    ("/regelsamling", "Regelsamling"),
)


def page_permissions(routes: Iterable[Any]) -> dict[str, str]:
    """The permission each page (GET route) of the app declares, by address."""
    found: dict[str, str] = {}
    for path, route in iter_routes(routes):
        if isinstance(route, APIRoute) and route.methods and "GET" in route.methods:
            permission = declared_permission(route.dependant)
            if permission:
                found[path] = permission
    return found


def menu_for(policy: AccessPolicy, permissions: dict[str, str], role: str) -> list[tuple[str, str]]:
    """The links of ``MENU`` whose page the role's grants open."""
    return [
        (href, label)
        for href, label in MENU
        if href in permissions and policy.role_may(role, permissions[href])
    ]

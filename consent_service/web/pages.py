"""Home pages per role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from consent_service.web.deps import Principal, require
from consent_service.web.gate import GatedRoute
from consent_service.web.templating import page

router = APIRouter(route_class=GatedRoute)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, me: Annotated[Principal, require("home:view")]) -> Response:
    policy = request.app.state.ctx.policy
    return page(
        request, "home.html", me=me, can_manage_users=policy.role_may(me.user.role, "users:read")
    )

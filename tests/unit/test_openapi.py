"""How the API description is derived from the routes (no database: a toy app)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from consent_service.web.deps import public
from consent_service.web.openapi import PROBLEM_MEDIA_TYPE, describe


def _limited() -> None:
    return None


_limited.__responses__ = (429,)  # type: ignore[attr-defined]


class Body(BaseModel):
    text: str


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/side", response_class=HTMLResponse, dependencies=[public("a page")])
    def page() -> str:
        return "<p>a page</p>"

    @app.get("/healthz", dependencies=[public("probe")])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/things/{thing}", dependencies=[public("toy")])
    def thing(thing: str, q: Annotated[int, Query()] = 1) -> dict[str, Any]:
        return {}

    @app.post("/api/v1/things", dependencies=[public("toy"), Depends(_limited)])
    def add(body: Body) -> dict[str, Any]:
        return {}

    return app


def test_only_api_paths_are_operations() -> None:
    spec = describe(_app())
    assert set(spec["paths"]) == {"/api/v1/things/{thing}", "/api/v1/things"}
    assert "Body" in spec["components"]["schemas"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "ValidationError" not in spec["components"]["schemas"]


def test_statuses_follow_the_route() -> None:
    spec = describe(_app())
    read = spec["paths"]["/api/v1/things/{thing}"]["get"]["responses"]
    assert set(read) == {"200", "400", "404", "422", "500", "503"}  # public: no 401/403
    write = spec["paths"]["/api/v1/things"]["post"]["responses"]
    assert set(write) == {"200", "400", "413", "422", "429", "500", "503"}
    assert "Retry-After" in write["429"]["headers"]
    for responses in (read, write):
        for status, response in responses.items():
            if int(status) >= 400:
                assert list(response["content"]) == [PROBLEM_MEDIA_TYPE]

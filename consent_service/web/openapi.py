"""The OpenAPI description of the JSON API, and of nothing else.

Pages (HTML for people) are not operations of the API: the description keeps only paths
under ``/api/``, so a page can never slip into it, whatever its response class. Every
operation documents the errors it can actually answer, as ``application/problem+json``
(RFC 9457, ``web/problems.py``), derived from the route rather than written by hand:

- every operation: 400 (text the service refuses, in the path, query or body:
  ``web/textguard.py`` checks every request), 500 (unhandled error) and 503 (database busy
  or unavailable);
- a route with a permission (``require``): 401 and 403, and its security schemes
  (a bearer API token, or the session cookie plus the CSRF header on unsafe methods);
- a route with parameters or a body: 422; with a body also 413;
- a route with path parameters: 404;
- statuses a dependency declares in ``__responses__`` (e.g. a rate limit: 429), and those
  a route declares in ``responses=`` (documented with the problem schema unless it gives
  its own content).

The description is public (it holds no data) at :data:`DESCRIPTION_PATH`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from consent_service.web.cookies import SESSION_COOKIE
from consent_service.web.deps import PUBLIC, declared_permission, iter_routes

API_PREFIX = "/api/"
DESCRIPTION_PATH = "/api/v1/openapi.json"
PROBLEM_MEDIA_TYPE = "application/problem+json"
SAFE_METHODS = frozenset({"get", "head", "options"})

# Operations behind a rate limit (web/ratelimit.py answers 429 with Retry-After).
RATE_LIMITED = frozenset({("post", "/api/v1/referrals")})

STATUS_TEXT = {
    400: "The request holds text the service refuses (e.g. control characters).",
    401: "No valid session or API token.",
    403: "The access policy does not allow this (or the CSRF token is missing or wrong).",
    404: "No such resource in your organisation.",
    409: "Refused by a rule of the service.",
    413: "The request body is larger than this operation accepts.",
    422: "The parameters or the body are not valid (see `errors`).",
    429: "Too many requests; try again after `Retry-After` seconds.",
    500: "The request failed and nothing was saved; quote the request id.",
    503: "The service cannot write now (database busy or unavailable); try again later.",
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
        "required": False,
    }
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": (
        "An error as RFC 9457 problem details. Never holds the refused input (it may be a "
        "CPR number): fields are named, values are not."
    ),
    "type": "object",
    "required": ["type", "title", "status", "detail", "request_id"],
    "properties": {
        "type": {"type": "string", "format": "uri-reference", "default": "about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "format": "uri-reference"},
        "request_id": {
            "type": ["string", "null"],
            "description": "The id of the request (also in the X-Request-ID header).",
        },
        "field": {"type": "string", "description": "The field a rule refused, if one."},
        "errors": {
            "type": "array",
            "description": "One entry per refused parameter or body field.",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

SECURITY_SCHEMES: dict[str, Any] = {
    "apiToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "cst_...",
        "description": (
            "An API token for a practice system, issued by an administrator of the "
            "organisation (Administration > API-nøgler) with its scopes; only on /api/."
        ),
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "The session of a person logged in with password and TOTP code.",
    },
    "csrf": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "The session's CSRF token; needed with the session on unsafe methods.",
    },
}

DESCRIPTION = """\
The JSON API of the consent service of Sociale henvisninger Norddjurs.

Authenticate with a bearer API token (`Authorization: Bearer cst_...`, issued by an
administrator, scoped) or, for people, the session cookie of a completed login (with
`X-CSRF-Token` on unsafe methods). Every error is `application/problem+json` (RFC 9457)
with the request's id; it never repeats the refused input.
"""


def _statuses(method: str, path: str, route: APIRoute) -> set[int]:
    statuses = {400, 500, 503}
    if declared_permission(route.dependant) not in (None, PUBLIC):
        statuses |= {401, 403}
    params = route.dependant.path_params
    if params:
        statuses.add(404)
    if params or route.dependant.query_params or route.dependant.header_params:
        statuses.add(422)
    if route.body_field is not None:
        statuses |= {413, 422}
    statuses |= set(_declared_by_dependencies(route.dependant))
    if (method, path) in RATE_LIMITED:
        statuses.add(429)
    return statuses


def _declared_by_dependencies(dependant: Any) -> Iterator[int]:
    for dep in dependant.dependencies:
        yield from getattr(dep.call, "__responses__", ())
        yield from _declared_by_dependencies(dep)


def _problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description or STATUS_TEXT.get(status, "Error"),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status in (429, 503):
        response["headers"] = RETRY_AFTER
    return response


def _security(method: str) -> list[dict[str, list[str]]]:
    cookie: dict[str, list[str]] = {"session": []}
    if method not in SAFE_METHODS:
        cookie["csrf"] = []
    return [{"apiToken": []}, cookie]


def _document(operation: dict[str, Any], method: str, path: str, route: APIRoute) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in sorted(_statuses(method, path, route)):
        declared = responses.get(str(status))
        if declared is None or not declared.get("content") or status == 422:
            responses[str(status)] = _problem_response(
                status, declared.get("description") if declared and status != 422 else None
            )
    operation["responses"] = dict(sorted(responses.items()))
    if declared_permission(route.dependant) not in (None, PUBLIC):
        operation["security"] = _security(method)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _prune_schemas(spec: dict[str, Any]) -> None:
    """Keep only the component schemas the API's paths reach (pages have form models)."""
    schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
    reached: set[str] = set()
    todo = list(_refs(spec["paths"]))
    while todo:
        name = todo.pop()
        if name in reached or name not in schemas:
            continue
        reached.add(name)
        todo.extend(_refs(schemas[name]))
    for name in list(schemas):
        if name not in reached:
            del schemas[name]


def api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) of every route of the JSON API."""
    for path, route in iter_routes(app.routes):
        if isinstance(route, APIRoute) and path.startswith(API_PREFIX):
            yield path, route


def describe(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI description of the JSON API of ``app`` (built once, then cached)."""
    cached: dict[str, Any] | None = getattr(app.state, "api_description", None)
    if cached is not None:
        return cached
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=DESCRIPTION,
        routes=app.routes,
    )
    spec["paths"] = {p: ops for p, ops in spec.get("paths", {}).items() if p.startswith(API_PREFIX)}
    routes = {
        (method.lower(), path): route
        for path, route in api_routes(app)
        for method in route.methods or ()
    }
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            _document(operation, method, path, routes[(method, path)])
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    _prune_schemas(spec)
    components["securitySchemes"] = SECURITY_SCHEMES
    app.state.api_description = spec
    return spec

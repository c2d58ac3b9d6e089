"""Text is checked at the edge: every path, query parameter, form field and JSON string of
every request passes ``consent_service.text`` before any route sees it.

A pure ASGI middleware, so it covers every route by construction, also routes added
later. The path and query are checked before the app is called. A body is checked when
the app first reads it, which on every route but the public ones (login) is after the
route gate has checked the session and permission (web/gate.py): nothing is read for a
request refused anyway. Small urlencoded, JSON and multipart bodies (the body limit in
front of it bounds them) are buffered, parsed with the very parsers the app uses, and
refused with 400 (a Danish page naming the field, or problem+json with ``errors`` per
field). Otherwise the body is handed on unchanged; only if NFC normalisation changes a
form or JSON value is it re-encoded. Multipart bodies too large to buffer (scan uploads)
are checked in the endpoint (``SafeText`` there).
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, HTTPException
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent_service.text import text_problem
from consent_service.web import problems

# Bodies up to this size are buffered and checked; larger urlencoded or JSON bodies are
# refused (413), larger multipart bodies pass to the endpoint, which checks its fields.
MAX_CHECKED_BODY = 1024 * 1024
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FIELD_NAME = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")
# Danish labels of fields people type into (the rest are named by their form name).
FIELD_LABELS_DA = {
    "username": "brugernavn",
    "password": "adgangskode",
    "new_password": "ny adgangskode",
    "repeat_password": "gentag adgangskode",
    "code": "kode",
    "display_name": "navn",
    "name": "navn",
    "reason": "begrundelse",
    "comment": "kommentar",
    "label": "navn på nøglen",
    "cpr": "CPR-nummer",
    "municipality": "bopælskommune",
    "gp_clinic": "lægepraksis",
    "clinic": "klinik",
    "phone": "telefon",
    "email": "e-mail",
    "witness": "modtaget af",
    "form_id": "blanket-id",
    "purpose": "formål",
    "confirm": "bekræftelse",
    "scan": "scanning (filnavn)",
}
_REASON_EN = {
    "indeholder et nul-tegn": "contains a NUL character",
    "indeholder et kontroltegn": "contains a control character",
    "indeholder et tegn, der vender skriveretningen": "contains a bidirectional override",
    "indeholder et ugyldigt tegn (halvt surrogatpar)": "contains an unpaired surrogate",
    "må kun være én linje (ingen tabulator eller linjeskift)": "must be a single line",
}


class _Refusal:
    def __init__(self) -> None:
        self.errors: list[tuple[str, str, str]] = []  # (location, field name, Danish reason)

    def check(self, location: str, name: str, value: str) -> None:
        name_problem = text_problem(name)
        shown = name if name_problem is None and _FIELD_NAME.fullmatch(name) else "?"
        if name_problem is not None:
            self.errors.append((location, shown, name_problem))
            return
        problem = text_problem(value)
        if problem is not None:
            self.errors.append((location, shown, problem))

    def walk_json(self, value: Any, path: str) -> None:
        if isinstance(value, str):
            self.check("body", path or "body", value)
        elif isinstance(value, dict):
            for key, item in value.items():
                key_problem = text_problem(key)
                if key_problem is not None:
                    self.errors.append(("body", "?", key_problem))
                    continue
                self.walk_json(item, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.walk_json(item, f"{path}.{i}" if path else str(i))


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def _nfc_json(value: Any) -> Any:
    if isinstance(value, str):
        return _nfc(value)
    if isinstance(value, dict):
        return {_nfc(k): _nfc_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nfc_json(v) for v in value]
    return value


def _media_type(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-type":
            raw: bytes = value
            return raw.decode("latin-1").split(";", 1)[0].strip().lower()
    return None


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _is_json(media_type: str | None) -> bool:
    # As FastAPI decides: no content type, application/json or application/*+json.
    if media_type is None:
        return True
    main, _, sub = media_type.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _with_body(scope: Scope, body: bytes) -> Scope:
    headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    return {**scope, "headers": headers}


class TextGuard:
    """Refuses a request whose text breaks ``consent_service.text``'s rule, before the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = _Refusal()
        path_problem = text_problem(scope.get("path", ""))
        if path_problem is not None:
            refusal.errors.append(("path", "adresse", path_problem))
        query = scope.get("query_string", b"").decode("latin-1")
        # As Starlette parses it (QueryParams), so we check exactly what routes will see.
        for name, value in parse_qsl(query, keep_blank_values=True):
            refusal.check("query", name, value)
        if refusal.errors or scope.get("method") not in _BODY_METHODS:
            if refusal.errors:
                await self._refuse(scope, receive, send, refusal)
                return
            await self.app(scope, receive, send)
            return

        media_type = _media_type(scope)
        if media_type == "application/x-www-form-urlencoded" or _is_json(media_type):
            pass
        elif media_type != "multipart/form-data":
            await self.app(scope, receive, send)
            return
        checked = False

        async def checked_receive() -> Message:
            """The body, checked, when the app first asks for it: after the route gate
            has checked the session and permission (web/gate.py), so nothing is read for
            a request that is refused anyway. A refusal is raised as ``TextRefusedBody``,
            an HTTPException, which FastAPI's body reading lets through to its handler."""
            nonlocal checked
            if checked:
                return await receive()
            checked = True
            if media_type == "multipart/form-data":
                # Small forms only; a scan is checked in its endpoint (``SafeText``).
                length = _content_length(scope)
                if length is None or length > MAX_CHECKED_BODY:
                    return await receive()
            chunks: list[bytes] = []
            more = True
            while more:
                message = await receive()  # the body limit (web/bodylimit.py) bounds it
                if message["type"] == "http.disconnect":
                    return message
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            body = b"".join(chunks)
            refusal = _Refusal()
            if media_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                body, normal_scope = await self._check_form(scope, body, media_type, refusal)
            elif body:
                body, normal_scope = self._check_json(scope, body, refusal)
            else:
                normal_scope = scope
            if refusal.errors:
                raise TextRefusedBody(refusal)
            if normal_scope is not scope:
                scope["headers"] = normal_scope["headers"]  # the re-encoded body's length
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, checked_receive, send)

    async def _check_form(
        self, scope: Scope, body: bytes, media_type: str, refusal: _Refusal
    ) -> tuple[bytes, Scope]:
        sent = False

        async def once() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            form: FormData = await Request(scope, once).form()
        except Exception:  # malformed: the app refuses it the same way with its own 400
            return body, scope
        try:
            changed = False
            pairs: list[tuple[str, str]] = []
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    refusal.check("body", name, value.filename or "")
                    continue
                refusal.check("body", name, value)
                normal = _nfc(value)
                changed = changed or normal != value or _nfc(name) != name
                pairs.append((_nfc(name), normal))
        finally:
            await form.close()
        if changed and not refusal.errors and media_type == "application/x-www-form-urlencoded":
            body = urlencode(pairs).encode("ascii")
            scope = _with_body(scope, body)
        return body, scope

    def _check_json(self, scope: Scope, body: bytes, refusal: _Refusal) -> tuple[bytes, Scope]:
        try:
            data = json.loads(body)
        except ValueError:  # not JSON (or not UTF-8): the app answers 422 itself
            return body, scope
        # Checked only, never re-encoded: a JSON body is validated against its schema as
        # the client sent it (a schema pattern must mean the same before and after), and
        # the schema's text type (``SafeText``, ``Line``) normalises to NFC itself.
        refusal.walk_json(data, "")
        return body, scope

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, refusal: _Refusal) -> None:
        response = refusal_response(Request(scope, receive), refusal)
        await response(scope, receive, send)


def refusal_response(request: Request, refusal: _Refusal) -> Response:
    """The 400 of refused text: problem+json with ``errors`` per field for the API, a
    Danish page naming the fields for people."""
    response: Response
    if problems.is_api(request):
        errors = [
            {
                "field": f"{location}.{name}" if location != "path" else "path",
                "message": _REASON_EN.get(reason, reason),
            }
            for location, name, reason in refusal.errors[:20]
        ]
        response = problems.problem(
            request,
            400,
            "Invalid text",
            "Text must not contain NUL or other control characters, bidirectional "
            "overrides or isolates (U+202A-U+202E, U+2066-U+2069) or unpaired surrogates.",
            {"errors": errors},
        )
    else:
        sentences = []
        for _location, name, reason in refusal.errors[:5]:
            if name == "adresse":
                sentences.append(f"Adressen {reason}.")
            elif name == "?":
                sentences.append(f"Et felt {reason}.")
            else:
                sentences.append(f"Feltet »{FIELD_LABELS_DA.get(name, name)}« {reason}.")
        message = " ".join(sentences) + " Ret det og prøv igen. Intet er gemt."
        response = problems.error_page(request, 400, message)
    return response


class TextRefusedBody(HTTPException):
    """Raised from the checked ``receive``: the body's text is refused (400)."""

    def __init__(self, refusal: _Refusal) -> None:
        super().__init__(status_code=400, detail="invalid text")
        self.refusal = refusal


def install(app: FastAPI) -> None:
    """The answer to a body refused after the gate (``TextRefusedBody``)."""

    async def refused(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, TextRefusedBody):  # registered for that class only
            raise exc
        return refusal_response(request, exc.refusal)

    app.add_exception_handler(TextRefusedBody, refused)

"""One form pattern for every page form.

A page form is posted; the endpoint reads its fields as text (bounded), hands them to a
service, and then either

- succeeds: redirects (303) to the page that shows the result, with a notice key
  (``notices.redirect(url, "consent-recorded")``): the page says "Samtykket er registreret";
- or fails: renders the same page again with status 400 (``FormState.failed``): the menu,
  an error summary at the top linking to each field, each message beside its field
  (``aria-invalid``, ``aria-describedby``), every value typed kept, and for a file field a
  note that the file must be chosen again (a browser cannot be given a file back).

Templates draw fields with the macros of ``_forms.html`` (``field``, ``select``, ``date``,
``checkbox``, ``file``, ``textarea``, ``error_summary``), passing the ``FormState``; a page
with several forms gives each its own ``prefix`` so ids stay unique.

Dates: a page proposes the Copenhagen date (``clock.legal_today``) and accepts ISO
(``2026-03-01``, what ``<input type=date>`` sends) or Danish ``01-03-2026``; anything else is
a field error, never a 422 page that loses the form (``parse_date``).

Destructive actions (withdraw, invalidate, deactivate, delete) take two posts: the first,
without ``confirmed``, answers with a confirmation page (``confirmation``) that repeats the
fields hidden and says what will happen; only the second, with ``confirmed=ja``, acts. No
script is needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import HTMLResponse

from consent_service.web.formstate import FormState, parse_choice, parse_date
from consent_service.web.templating import page

__all__ = [
    "CONFIRMED",
    "Confirmation",
    "FormState",
    "confirmation",
    "failed",
    "is_confirmed",
    "parse_choice",
    "parse_date",
]

CONFIRMED = "ja"


def failed(
    request: Request, template: str, form: FormState, status_code: int = 400, **context: object
) -> HTMLResponse:
    """The same page again, with the form's errors and values (status 400 by default)."""
    return page(request, template, status_code=status_code, form=form, **context)


@dataclass(frozen=True)
class Confirmation:
    """The confirmation step of a destructive action: what will happen, and the fields to
    post again with ``confirmed=ja``."""

    title: str
    lines: tuple[str, ...]
    action: str
    fields: Mapping[str, str]
    button: str
    cancel_href: str
    warning: str | None = None


def confirmation(request: Request, me: object, step: Confirmation) -> HTMLResponse:
    """The page asking the person to confirm ``step`` (status 200; nothing is changed)."""
    return page(request, "confirm.html", me=me, step=step, confirmed_value=CONFIRMED)


def is_confirmed(value: str | None) -> bool:
    return value == CONFIRMED

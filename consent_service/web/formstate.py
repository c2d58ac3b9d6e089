"""A form's state as a page shows it: values typed, errors per field, files to choose
again (the form pattern is described in ``web/forms.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from consent_service.errors import InvalidInput, RuleRefusal

_DANISH_DATE = re.compile(r"^(\d{1,2})[-./](\d{1,2})[-./](\d{4})$")


@dataclass
class FormState:
    """What a form shows: the values typed, the errors per field, the files to choose again.

    ``errors`` is ordered as the fields appear (the summary lists them in that order); the
    key ``""`` is an error about the whole form (shown in the summary without a link)."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    files_to_choose_again: list[str] = field(default_factory=list)
    prefix: str = ""
    refused_by_rule: bool = False

    @classmethod
    def of(cls, prefix: str = "", **values: object) -> FormState:
        """The form as typed; ``None`` becomes empty, dates become ISO."""
        kept = {
            name: "" if value is None else _as_text(value)
            for name, value in values.items()
            if name != "csrf_token"
        }
        return cls(values=kept, prefix=prefix)

    def id_of(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def value(self, name: str, default: object = "") -> str:
        if name in self.values:
            return self.values[name]
        return "" if default is None else _as_text(default)

    def error(self, name: str) -> str | None:
        return self.errors.get(name)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)

    def add(self, name: str, message: str) -> FormState:
        self.errors.setdefault(name, message)
        return self

    def fail(self, exc: InvalidInput | RuleRefusal, fallback_field: str = "") -> FormState:
        """Record a service's refusal beside the field it names (``InvalidInput.field``),
        else beside ``fallback_field``, else on the whole form."""
        if isinstance(exc, RuleRefusal):
            self.refused_by_rule = True
        name = getattr(exc, "field", None) or fallback_field
        return self.add(name, exc.message)

    @property
    def status_code(self) -> int:
        """The status a failed form answers with: 409 when a rule refused the action, else
        400 (a mistake in the form)."""
        return 409 if self.refused_by_rule else 400

    def lose_files(self, *names: str) -> FormState:
        """The file fields the person must choose again (a page cannot re-fill them)."""
        for name in names:
            if name not in self.files_to_choose_again:
                self.files_to_choose_again.append(name)
        return self


def _as_text(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else ""
    return str(value)


def parse_date(form: FormState, name: str, *, required: bool = True) -> date | None:
    """The date typed in ``name`` (ISO or dd-mm-åååå), or ``None`` with a field error."""
    raw = form.value(name).strip()
    if not raw:
        if required:
            form.add(name, "Skriv en dato.")
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        pass
    match = _DANISH_DATE.match(raw)
    if match:
        day, month, year = (int(g) for g in match.groups())
        try:
            return date(year, month, day)
        except ValueError:
            form.add(name, "Datoen findes ikke. Skriv den som dd-mm-åååå.")
            return None
    form.add(name, "Skriv datoen som dd-mm-åååå.")
    return None


def parse_choice(
    form: FormState, name: str, choices: Iterable[str], message: str = "Vælg en af mulighederne."
) -> str | None:
    """The value chosen in ``name`` if it is one of ``choices``, else a field error."""
    raw = form.value(name)
    if raw in set(choices):
        return raw
    form.add(name, message)
    return None

"""What identity operations raise. A person sees one generic message for every failed
login step (``LoginFailed``), so nothing reveals whether an account exists, is locked,
or which factor was wrong; the audit log holds the cause."""

from __future__ import annotations


class LoginFailed(Exception):
    """A login step failed. The person sees one generic message; the audit log the cause."""


class PasswordRejected(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class UserInputError(Exception):
    """Bad input to an identity operation, with a Danish message for the page and, when
    one field is wrong, that field's form name (the page shows the message beside it)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

from __future__ import annotations

from pydantic import BaseModel


class AccountRead(BaseModel):
    username: str
    display_name: str
    role: str
    organisation_id: int

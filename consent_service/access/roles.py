"""The roles a user may hold: a policy concept, named by the access policy file
(``policies/access.yaml``) and stored on each user (``identity.models.User.role``)."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    NAVIGATOR = "navigator"
    REFERRER = "referrer"
    DATA_CONTROLLER = "data_controller"
    DPO = "dpo"
    ADMINISTRATOR = "administrator"
    LEGAL_ADVISER = "legal_adviser"

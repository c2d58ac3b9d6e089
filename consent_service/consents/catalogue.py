"""One view of the consent kinds (``policies/consents.yaml``) and their published texts
(``templates/consent/``), for the lifecycle, the pages and the exports.

Nothing here restates a rule: every answer is read from the two reviewed sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from consent_service.consents.kinds import ConsentKind, ConsentKinds, default_consent_kinds
from consent_service.consents.templates import ConsentTemplate, cached_template, current_template

DEFAULT_LANGUAGE = "da"


@dataclass(frozen=True)
class ConsentCatalogue:
    definitions: ConsentKinds

    @property
    def kinds(self) -> dict[str, ConsentKind]:
        return self.definitions.kinds

    def current_template(self, kind: str, language: str = DEFAULT_LANGUAGE) -> ConsentTemplate:
        """The newest published text of a kind, the one a new form is printed with."""
        return current_template(kind, language)

    def template(self, kind: str, language: str, version: str) -> ConsentTemplate:
        """The exact text a recorded consent was signed on."""
        return cached_template(kind, language, version)

    def name(self, kind: str) -> str:
        return self.kinds[kind].name_da

    def purpose(self, kind: str) -> str:
        return self.kinds[kind].purpose_da

    def data_categories(self, kind: str) -> tuple[str, ...]:
        return tuple(self.kinds[kind].data_categories)

    def legal_bases(self, kind: str) -> list[tuple[str, str]]:
        return [(basis.code, basis.text_da) for basis in self.kinds[kind].legal_bases]

    def withdrawal_method(self, kind: str) -> str:
        return self.kinds[kind].withdrawal.method_da

    @property
    def controller_contact(self) -> str:
        # contact_da already names the controller and its address: say them once.
        return self.definitions.controller.contact_da

    @property
    def dpo_contact(self) -> str:
        return self.definitions.dpo_contact_da


@cache
def catalogue() -> ConsentCatalogue:
    """The catalogue of the deployed policy and texts, loaded once per process."""
    return ConsentCatalogue(default_consent_kinds())

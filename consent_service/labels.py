"""The one source of the Danish words shown for stored codes: ``policies/labels.yaml``.

Each group maps a code to its label. ``label(group, code)`` raises ``KeyError`` for an
unknown group or code (a test walks the pages and fails on it; a page never shows a raw
code). Codes whose names live in another rule file (roles, consent kinds, cohorts, extract
sources and fields) are read from that file by its own loader; this module holds the rest.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from consent_service.rulefile import load_yaml_model

DEFAULT_LABELS_FILE = Path(__file__).resolve().parents[1] / "policies" / "labels.yaml"


class LabelsError(ValueError):
    """The labels file is missing or invalid."""


class LabelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    groups: dict[str, dict[str, str]]

    @field_validator("groups")
    @classmethod
    def _labels_are_words(cls, groups: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for name, codes in groups.items():
            if not codes:
                raise ValueError(f"group {name!r} is empty")
            for code, text in codes.items():
                if not text.strip():
                    raise ValueError(f"{name}.{code} has no label")
        return groups


def load_labels(path: Path = DEFAULT_LABELS_FILE) -> LabelsFile:
    return load_yaml_model(path, LabelsFile, "labels file", LabelsError)


@cache
def _default() -> LabelsFile:
    return load_labels()


def group(name: str) -> dict[str, str]:
    """Every code of the group with its Danish label, in the file's order."""
    return dict(_default().groups[name])


def label(name: str, code: str) -> str:
    """The Danish label of ``code`` in group ``name`` (``KeyError`` if there is none)."""
    return _default().groups[name][code]

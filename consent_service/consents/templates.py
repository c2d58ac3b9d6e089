"""Consent texts: Markdown files with a small YAML front matter, one per kind, language
and version, under ``templates/consent/<kind>/<language>/<version>.md``.

A published version is immutable: ``templates/consent/PUBLISHED.yaml`` records the SHA-256
of its exact bytes, and loading a published text whose bytes differ is an error. A
changed text is a new version. The hash is also what a signed form refers to, so the
controller can show which text a citizen consented to (GDPR art. 7(1)).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, model_validator

from consent_service.rulefile import safe_yaml

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "consent"
REGISTRY_FILE = "PUBLISHED.yaml"
_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
_VERSION = r"^v[1-9][0-9]{0,3}$"
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.DOTALL)


class TemplateError(ValueError):
    """A consent text is missing, malformed, or does not match its place or registry."""


class TemplateIntegrityError(TemplateError):
    """A published consent text's bytes no longer match the hash it was published with."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FrontMatter(_Strict):
    kind: StrictStr = Field(pattern=_NAME_PATTERN)
    version: StrictStr = Field(pattern=_VERSION)
    language: StrictStr = Field(pattern=r"^[a-z]{2}$")
    title: StrictStr = Field(min_length=1)


class PublishedVersion(_Strict):
    kind: StrictStr = Field(pattern=_NAME_PATTERN)
    language: StrictStr = Field(pattern=r"^[a-z]{2}$")
    version: StrictStr = Field(pattern=_VERSION)
    sha256: StrictStr = Field(pattern=r"^[0-9a-f]{64}$")

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.language, self.version)


class PublishedRegistry(_Strict):
    published: tuple[PublishedVersion, ...]

    @model_validator(mode="after")
    def _unique(self) -> PublishedRegistry:
        keys = [p.key for p in self.published]
        if len(keys) != len(set(keys)):
            raise ValueError("a kind, language and version is published once")
        return self

    def sha256_of(self, kind: str, language: str, version: str) -> str | None:
        return next((p.sha256 for p in self.published if p.key == (kind, language, version)), None)

    def versions(self, kind: str, language: str) -> list[str]:
        """Published versions of a kind in a language, oldest first."""
        found = [p.version for p in self.published if (p.kind, p.language) == (kind, language)]
        return sorted(found, key=lambda v: int(v[1:]))


@dataclass(frozen=True)
class ConsentTemplate:
    kind: str
    language: str
    version: str
    title: str
    body: str  # the Markdown after the front matter
    text: str  # the whole file, as published
    sha256: str  # of the file's exact bytes
    published: bool


def template_path(kind: str, language: str, version: str, root: Path) -> Path:
    """Where a text lives; refuses anything but plain names, so no path leaves ``root``."""
    ok = (
        re.fullmatch(_NAME_PATTERN, kind)
        and re.fullmatch(r"^[a-z]{2}$", language)
        and re.fullmatch(_VERSION, version)
    )
    if not ok:
        raise TemplateError("kind, language or version is not a plain name")
    return root / kind / language / f"{version}.md"


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '<top>'}: {e['msg']}" for e in exc.errors()
    )


def load_registry(root: Path = DEFAULT_TEMPLATES_DIR) -> PublishedRegistry:
    """The registry of published versions and their hashes."""
    path = root / REGISTRY_FILE
    try:
        raw: Any = safe_yaml(path.read_text(encoding="utf-8"))
        return PublishedRegistry.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path}: cannot read the registry: {exc}") from exc
    except ValidationError as exc:
        raise TemplateError(f"{path}: invalid registry: {_errors(exc)}") from exc


def parse_template(content: bytes, source: str) -> tuple[FrontMatter, str]:
    """Split a text into its front matter and its Markdown body."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateError(f"{source}: not UTF-8") from exc
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise TemplateError(f"{source}: no front matter between '---' lines")
    try:
        meta = FrontMatter.model_validate(safe_yaml(match.group(1)))
    except yaml.YAMLError as exc:
        raise TemplateError(f"{source}: front matter is not YAML: {exc}") from exc
    except ValidationError as exc:
        raise TemplateError(f"{source}: invalid front matter: {_errors(exc)}") from exc
    return meta, match.group(2)


def load_template(
    kind: str, language: str, version: str, *, root: Path = DEFAULT_TEMPLATES_DIR
) -> ConsentTemplate:
    """Load one consent text with the SHA-256 of its exact bytes.

    Raises :class:`TemplateIntegrityError` if the version is published and its bytes
    changed since, and :class:`TemplateError` if the file is missing or its front matter
    disagrees with where it lives.
    """
    path = template_path(kind, language, version, root)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise TemplateError(f"{path}: cannot read consent text: {exc.strerror}") from exc
    digest = hashlib.sha256(content).hexdigest()
    expected = load_registry(root).sha256_of(kind, language, version)
    if expected is not None and expected != digest:
        raise TemplateIntegrityError(
            f"{path}: published {kind}/{language}/{version} has changed (sha256 {digest}, "
            f"published {expected}); publish the change as a new version"
        )
    meta, body = parse_template(content, str(path))
    if (meta.kind, meta.language, meta.version) != (kind, language, version):
        raise TemplateError(f"{path}: front matter names another kind, language or version")
    return ConsentTemplate(
        kind=kind, language=language, version=version, title=meta.title, body=body,
        text=content.decode("utf-8"), sha256=digest, published=expected is not None,
    )  # fmt: skip


def current_template(
    kind: str, language: str = "da", *, root: Path = DEFAULT_TEMPLATES_DIR
) -> ConsentTemplate:
    """The newest published version of a kind's text in a language."""
    versions = load_registry(root).versions(kind, language)
    if not versions:
        raise TemplateError(f"no published consent text for {kind}/{language}")
    return load_template(kind, language, versions[-1], root=root)


@cache
def cached_template(kind: str, language: str, version: str) -> ConsentTemplate:
    """:func:`load_template` from the default folder, once per process."""
    return load_template(kind, language, version)

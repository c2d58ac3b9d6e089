"""Consent texts: published versions are immutable, and each text says what the law
requires it to say (seed 002, "Samtykke" and "Trivselsdata")."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from consent_service.consents.templates import (
    DEFAULT_TEMPLATES_DIR,
    TemplateError,
    TemplateIntegrityError,
    current_template,
    load_registry,
    load_template,
)

# The hashes the texts were published with. Changing a published text must fail here;
# publish a new version instead. Never edit or remove a line below.
PUBLISHED = {
    ("journal", "da", "v1"): "a2b1bbc4b212b35122f99715b4ae70a2a07e52ec0c4e35cac71b9dc7bd7be781",
    ("wellbeing", "da", "v1"): "83fd76f8e260f4776f1ec26b16842263fb20c400e2fd25e0e50fdd1a93ef3f4c",
}

COMMON = [
    "Formål",
    "resultatopfølgning",
    "resultatbetalingen",
    "tilbagekalde",
    "personligt, på telefon eller med brev",
    "Tilbuddet om en social navigatør afhænger ikke af, om du giver samtykke",
    "Region Midtjylland, Skottenborg 26, 8800 Viborg",
    "databeskyttelsesrådgiveren i Region Midtjylland, dpo@rm.dk",
    "kun inden for den dataansvarlige myndighed, Region Midtjylland",
    "Datatilsynet",
]
REQUIRED = {
    "journal": [
        *COMMON,
        "Hvilke oplysninger drejer det sig om",
        "sundhedsloven § 42 d, stk. 1",
        "sundhedsloven § 43, stk. 1",
        "sundhedsloven § 44",
        "skriftligt",
        "indført i din patientjournal",
        "gælder i **ét år**",
        "den 29. februar, er den sidste dag den 28. februar",
        "indtil oplysningerne er indhentet hhv. videregivet",
    ],
    "wellbeing": [
        *COMMON,
        "**almindelige**, **fortrolige** og **følsomme** personoplysninger",
        "databeskyttelsesforordningens artikel 6, stk. 1, litra a",
        "databeskyttelsesforordningens artikel 9, stk. 2, litra a",
        "databeskyttelseslovens § 11",
        "til enhver tid tilbagekalde",
        "virker fra den dag, du tilbagekalder",
        "Behandling før tilbagekaldelsen er fortsat lovlig",
        "WHO-5",
    ],
}


@pytest.mark.parametrize(("key", "sha256"), sorted(PUBLISHED.items()))
def test_published_texts_never_change(key: tuple[str, str, str], sha256: str) -> None:
    kind, language, version = key
    path = DEFAULT_TEMPLATES_DIR / kind / language / f"{version}.md"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256, (
        f"{path} was published and must not change; publish a new version"
    )
    assert load_registry().sha256_of(kind, language, version) == sha256
    assert load_template(kind, language, version).sha256 == sha256


def test_every_registered_version_is_pinned_here() -> None:
    registered = {p.key: p.sha256 for p in load_registry().published}
    assert registered == PUBLISHED


@pytest.mark.parametrize("kind", sorted(REQUIRED))
def test_text_contains_the_required_elements(kind: str) -> None:
    template = current_template(kind, "da")
    flat = " ".join(template.body.split())
    missing = [phrase for phrase in REQUIRED[kind] if phrase not in flat]
    assert not missing, f"{kind} text lacks: {missing}"
    assert template.published
    assert template.title
    assert not template.body.lstrip().startswith("#")  # the title is in the front matter


def test_template_values() -> None:
    template = load_template("journal", "da", "v1")
    raw = (DEFAULT_TEMPLATES_DIR / "journal" / "da" / "v1.md").read_bytes()
    assert template.text.encode("utf-8") == raw
    assert not template.body.startswith("---")
    assert (template.kind, template.language, template.version) == ("journal", "da", "v1")


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "consent"
    shutil.copytree(DEFAULT_TEMPLATES_DIR, root)
    return root


def test_a_changed_published_file_is_refused_at_load(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "wellbeing" / "da" / "v1.md"
    path.write_bytes(path.read_bytes().replace("følsomme".encode(), b"andre", 1))
    with pytest.raises(TemplateIntegrityError, match="publish the change as a new version"):
        load_template("wellbeing", "da", "v1", root=root)


def test_even_a_trailing_newline_counts(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "journal" / "da" / "v1.md"
    path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(TemplateIntegrityError):
        load_template("journal", "da", "v1", root=root)


def test_an_unpublished_draft_loads_but_is_not_current(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    draft = (root / "journal" / "da" / "v1.md").read_text(encoding="utf-8")
    (root / "journal" / "da" / "v2.md").write_text(
        draft.replace("version: v1", "version: v2"), encoding="utf-8"
    )
    loaded = load_template("journal", "da", "v2", root=root)
    assert not loaded.published
    assert current_template("journal", "da", root=root).version == "v1"


@pytest.mark.parametrize(
    ("kind", "language", "version"),
    [("../journal", "da", "v1"), ("journal", "../da", "v1"), ("journal", "da", "v1/../v1"),
     ("journal", "da", "1"), ("Journal", "da", "v1")],
)  # fmt: skip
def test_names_cannot_leave_the_folder(kind: str, language: str, version: str) -> None:
    with pytest.raises(TemplateError, match="plain name"):
        load_template(kind, language, version)


def test_front_matter_must_match_the_place(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    text = (root / "journal" / "da" / "v1.md").read_text(encoding="utf-8")
    (root / "journal" / "da" / "v3.md").write_text(text, encoding="utf-8")  # says v1
    with pytest.raises(TemplateError, match="another kind, language or version"):
        load_template("journal", "da", "v3", root=root)
    (root / "journal" / "da" / "v4.md").write_text("no front matter", encoding="utf-8")
    with pytest.raises(TemplateError, match="no front matter"):
        load_template("journal", "da", "v4", root=root)


def test_missing_text(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="cannot read"):
        load_template("journal", "da", "v9")
    with pytest.raises(TemplateError, match="no published"):
        current_template("journal", "en")

"""The rulebook mapping (policies/rulebook.yaml) is a reviewed rule file: every feature in
features/ is mapped to a law, every rule file it names exists, and a broken mapping stops
the start with one line naming the file and the field. Features are read with the
official Gherkin parser; a diff escapes nothing itself (the page's autoescape does)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from consent_service.config import REPO_ROOT
from consent_service.rulebook import book

ROOT = REPO_ROOT


def test_every_feature_file_is_mapped_and_every_named_rule_file_exists() -> None:
    spec = book.load_rulebook(ROOT)
    features = {p.name for p in (ROOT / "features").glob("*.feature")}
    assert set(spec.features) == features
    for name, mapping in spec.features.items():
        assert mapping.laws, name
        for rule in mapping.rules:
            assert (ROOT / rule).is_file(), f"{name}: {rule}"
    # Every law the issue names has a group, in the order the page shows.
    assert list(spec.laws.values()) == [
        "Sundhedsloven § 42 d", "Sundhedsloven § 43", "Sundhedsloven § 44",
        "Databeskyttelsesforordningen art. 6", "Databeskyttelsesforordningen art. 7",
        "Databeskyttelsesforordningen art. 9", "Databeskyttelsesforordningen art. 12",
        "Databeskyttelsesforordningen art. 15",
        "Databeskyttelsesforordningen art. 17", "Databeskyttelsesloven § 11",
        "Projektets egne regler",
    ]  # fmt: skip


def test_the_covered_files_are_the_features_the_policies_and_the_consent_texts() -> None:
    covered = book.covered_files(ROOT, book.load_rulebook(ROOT))
    assert "policies/rulebook.yaml" in covered
    assert "retention/schedule.yaml" in covered
    assert "templates/consent/journal/da/v1.md" in covered
    assert all(("features/" + n) in covered for n in book.load_rulebook(ROOT).features)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for folder in ("features", "policies", "retention", "templates"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def _edit_mapping(root: Path, change: object) -> None:
    path = root / "policies/rulebook.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)  # type: ignore[operator]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_an_unmapped_feature_stops_the_start(copy: Path) -> None:
    (copy / "features/ny.feature").write_text(
        "# language: da\nEgenskab: Ny\n  Scenarie: x\n    Givet y\n", encoding="utf-8"
    )
    with pytest.raises(book.RulebookError, match=r"rulebook.yaml: invalid rulebook: .*ny.feature"):
        book.load_rulebook(copy)


def test_a_missing_rule_file_or_an_unknown_law_stops_the_start(copy: Path) -> None:
    _edit_mapping(copy, lambda d: d["features"]["cpr.feature"]["rules"].append("policies/no.yaml"))
    with pytest.raises(book.RulebookError, match=r"cpr.feature.rules: no file policies/no.yaml"):
        book.load_rulebook(copy)
    _edit_mapping(copy, lambda d: d["features"]["cpr.feature"].update(rules=[], laws=["gdpr_99"]))
    with pytest.raises(book.RulebookError, match=r"unknown law 'gdpr_99'"):
        book.load_rulebook(copy)
    outside = {"laws": ["dbl_11"], "rules": ["../etc/passwd"]}
    _edit_mapping(copy, lambda d: d["features"]["cpr.feature"].update(outside))
    with pytest.raises(book.RulebookError, match="is no path in the repository"):
        book.load_rulebook(copy)


def test_a_feature_that_does_not_parse_stops_the_start(copy: Path) -> None:
    (copy / "features/cpr.feature").write_text(
        "# language: da\nEgenskab: x\n  Scenarie: y\n    Givet z\n  | a |\nHokuspokus\n",
        encoding="utf-8",
    )
    with pytest.raises(book.RulebookError, match="cannot parse the feature"):
        book.load_rulebook(copy)


def test_features_are_read_with_rules_background_and_examples() -> None:
    feature = book.parse_feature(
        (ROOT / "features/maaling_datoer.feature").read_text(encoding="utf-8"),
        "maaling_datoer.feature",
    )
    outline = feature.scenarios[0]
    assert outline.rule == "Udtræksdatoen følger af holdets sidste startdato"
    assert outline.examples[0].header == ("måling", "dato")
    assert ("Hold 1:1", "1. oktober 2027") in outline.examples[0].rows
    udtraek = book.parse_feature(
        (ROOT / "features/udtraek.feature").read_text(encoding="utf-8"), "udtraek.feature"
    )
    assert udtraek.background[0].keyword == "Givet"


def test_a_diff_names_inserted_and_deleted_lines() -> None:
    lines = book.diff_lines("a\nb\nc\n", "a\nB <b>\nc\n")
    kinds = [(line.kind, line.text) for line in lines]
    assert ("del", "b") in kinds
    assert ("ins", "B <b>") in kinds
    assert book.diff_lines("same\n", "same\n") == []

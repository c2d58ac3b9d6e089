"""The rule files are read with libyaml's parser (``rulefile.safe_yaml``): every reviewed
YAML file of the repository must read the same with it as with PyYAML's pure-Python safe
loader, and it must stay a safe loader (no Python objects from a file)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from consent_service.rulefile import safe_yaml

ROOT = Path(__file__).resolve().parents[2]
RULE_DIRS = ("policies", "retention", "audit", "templates/consent")
FILES = sorted(p for d in RULE_DIRS for p in (ROOT / d).rglob("*.yaml"))


def test_there_are_rule_files_to_compare() -> None:
    assert {p.parent.name for p in FILES} >= {"policies", "retention", "audit", "consent"}
    assert len(FILES) >= 12


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_rule_file_reads_the_same_as_with_the_pure_python_loader(path: Path) -> None:
    raw = path.read_bytes()
    expected = yaml.load(raw, Loader=yaml.SafeLoader)
    assert expected  # a file with content
    assert safe_yaml(raw) == expected
    assert safe_yaml(raw.decode("utf-8")) == expected


def test_front_matter_of_the_consent_texts_reads_the_same() -> None:
    texts = sorted((ROOT / "templates" / "consent").rglob("*.md"))
    assert texts
    for text in texts:
        head = text.read_text(encoding="utf-8").split("---\n")[1]
        assert safe_yaml(head) == yaml.load(head, Loader=yaml.SafeLoader)


def test_it_is_still_a_safe_loader() -> None:
    with pytest.raises(yaml.YAMLError):
        safe_yaml("!!python/object/apply:os.system ['true']")
    assert safe_yaml("a: 2027-03-01\nb: 'x'") == yaml.safe_load("a: 2027-03-01\nb: 'x'")

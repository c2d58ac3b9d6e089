"""The retention schedule validates, covers every category, and the deletion procedure is
exactly what the schedule generates."""

from __future__ import annotations

from pathlib import Path

import pytest

from consent_service.retention.schedule import (
    PROCEDURE,
    RetentionError,
    load_schedule,
    render_procedure,
)


def test_procedure_is_generated_from_the_schedule() -> None:
    expected = render_procedure(load_schedule())
    assert PROCEDURE.read_text(encoding="utf-8") == expected, (
        "retention/PROCEDURE.md is out of date: run `consent-service retention procedure`"
    )


def test_every_category_is_in_the_procedure() -> None:
    schedule = load_schedule()
    text = PROCEDURE.read_text(encoding="utf-8")
    for name, category in schedule.categories.items():
        assert f"(`{name}`)" in text
        assert category.reason in text


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.replace("  sessions:", "  sessionz:"), "categories missing: sessions"),
        (lambda s: s.replace("keep: {months: 6}", "keep: {months: 6, days: 1}"), "exactly one"),
        (lambda s: s.replace("    consent_kind: wellbeing\n", ""), "consent_kind is required"),
        (lambda s: s.replace("method: segment_purge", "method: shred"), "audit_events.method"),
        (lambda s: s.replace("pilot_end: 2028-06-30", "pilot_end: soon"), "pilot_end"),
    ],
)
def test_a_broken_schedule_is_refused_with_the_field(
    tmp_path: Path, edit: object, message: str
) -> None:
    source = (PROCEDURE.parent / "schedule.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "schedule.yaml"
    broken.write_text(edit(source), encoding="utf-8")  # type: ignore[operator]
    with pytest.raises(RetentionError, match=message):
        load_schedule(broken)

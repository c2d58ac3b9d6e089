"""Issue 18: a page template is compiled once per process and not looked up on disk again
for each request (``web.templating``: the templates change only with a deployment)."""

from __future__ import annotations

from typing import Any

import jinja2.loaders
import pytest

from consent_service.web.templating import TEMPLATES


def test_a_page_template_once_loaded_is_not_checked_on_disk_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = TEMPLATES.env
    first = env.get_template("base.html")

    def no_disk(*_: Any) -> float:
        raise AssertionError("a loaded template was checked on disk again")

    monkeypatch.setattr(jinja2.loaders.os.path, "getmtime", no_disk)
    assert env.get_template("base.html") is first

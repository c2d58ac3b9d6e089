"""The log redaction step, on its own."""

from __future__ import annotations

from consent_service.logging import REDACTED, redaction_processor


def _run(**event: object) -> dict[str, object]:
    return dict(redaction_processor(None, "info", dict(event)))


def test_sensitive_keys_are_dropped() -> None:
    out = _run(event="x", password="hunter2hunter2", code="123456", token="abc", cpr="x")
    assert out["password"] == out["code"] == out["token"] == out["cpr"] == REDACTED


def test_cpr_numbers_in_free_text_are_masked() -> None:
    for cpr in ("0101901234", "010190-1234", "010190 1234"):
        out = _run(event=f"looked up {cpr} today")
        assert cpr not in str(out["event"])


def test_codes_and_tokens_in_free_text_are_masked() -> None:
    out = _run(event="code 654321 and token Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA")
    assert "654321" not in str(out["event"])
    assert "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA" not in str(out["event"])


def test_nested_values_are_masked() -> None:
    out = _run(event="x", details={"password": "p", "note": "cpr 0101901234"})
    assert out["details"] == {"password": REDACTED, "note": f"cpr {REDACTED}"}


def test_harmless_values_stay() -> None:
    out = _run(event="request", route="/login", status=200, duration_ms=12.5)
    assert out["route"] == "/login"
    assert out["status"] == 200

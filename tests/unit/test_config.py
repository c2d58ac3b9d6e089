"""Configuration: a missing or malformed key is one clear line, never a traceback."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import SecretStr

from consent_service.config import ConfigError, Settings


def _keys(**override: str) -> dict[str, SecretStr]:
    keys = {
        n: base64.b64encode(os.urandom(32)).decode()
        for n in ("master_key", "index_key", "signing_key")
    }
    keys.update(override)
    return {k: SecretStr(v) for k, v in keys.items()}


def test_good_keys_load() -> None:
    keys = Settings(**_keys()).keys
    assert len(keys.master) == 32
    assert "redacted" in repr(keys)


def test_missing_key() -> None:
    settings = Settings(**{k: v for k, v in _keys().items() if k != "index_key"})
    with pytest.raises(ConfigError, match="CONSENT_INDEX_KEY is not set"):
        _ = settings.keys


def test_malformed_key() -> None:
    with pytest.raises(ConfigError, match="CONSENT_MASTER_KEY is not valid base64"):
        _ = Settings(**_keys(master_key="not base64!!")).keys


def test_short_key() -> None:
    short = base64.b64encode(b"x" * 16).decode()
    with pytest.raises(ConfigError, match="CONSENT_SIGNING_KEY must decode to 32 bytes, not 16"):
        _ = Settings(**_keys(signing_key=short)).keys


def test_error_never_contains_the_key() -> None:
    bad = base64.b64encode(b"secret-material!").decode()
    with pytest.raises(ConfigError) as info:
        _ = Settings(**_keys(master_key=bad)).keys
    assert bad not in str(info.value)


def test_cookies_are_secure_except_on_localhost() -> None:
    assert not Settings(host="127.0.0.1").cookies_secure
    assert Settings(host="0.0.0.0").cookies_secure  # noqa: S104


def _witness_vkey(name: str = "witness.example/w1") -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from consent_service.witness.note import ALG_COSIGNATURE_V1, make_verifier

    key = Ed25519PrivateKey.generate().public_key()
    return make_verifier(name, key, ALG_COSIGNATURE_V1).vkey


def _load_with_witnesses(monkeypatch: pytest.MonkeyPatch, tmp_path: object, value: str) -> Settings:
    from consent_service.config import load_settings

    monkeypatch.setenv("CONSENT_ENV_FILE", f"{tmp_path}/none.env")
    monkeypatch.setenv("CONSENT_WITNESSES", value)
    return load_settings()


def test_witnesses_are_read_as_json_with_their_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    vkey = _witness_vkey()
    settings = _load_with_witnesses(
        monkeypatch, tmp_path, f'[{{"url": "https://w.example/", "key": "{vkey}"}}]'
    )
    assert [(w.url, w.key, w.name) for w in settings.witnesses] == [
        ("https://w.example/", vkey, "witness.example/w1")
    ]
    assert (settings.witness_timeout_seconds, settings.witness_stale_hours) == (10.0, 24)
    assert settings.checkpoint_email_to is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('[{"url": "https://w.example/", "key": "w+1234"', "CONSENT_WITNESSES is not valid JSON"),
        (
            '[{"url": "ftp://w.example/", "key": "VKEY"}]',
            "CONSENT_WITNESSES[0].url: a witness URL must be http:// or https://",
        ),
        (
            '[{"url": "https://w.example/", "key": "w+1234+AAAA"}]',
            "CONSENT_WITNESSES[0].key: not a witness verifier key",
        ),
        (
            '[{"url": "https://w.example/", "key": "VKEY", "timeout": 3}]',
            r"CONSENT_WITNESSES\[0\].timeout: Extra inputs",
        ),
        (
            '[{"url": "https://a.example/", "key": "VKEY"}, {"url": "https://b/", "key": "VKEY"}]',
            "CONSENT_WITNESSES: two witnesses have the same key name",
        ),
    ],
)
def test_a_mistyped_witness_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("[0]", r"\[0\]")):
        _load_with_witnesses(monkeypatch, tmp_path, value.replace("VKEY", _witness_vkey()))

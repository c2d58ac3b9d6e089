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

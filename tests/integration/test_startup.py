"""The service refuses to start, in one clear line, when misconfigured; and touches no data."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from consent_service.config import Settings
from consent_service.context import AppContext
from consent_service.startup import StartupError, check_database
from tests.conftest import make_settings, owner_engine


def test_a_good_database_passes(ctx: AppContext) -> None:
    check_database(ctx.engine, ctx.crypto)


def test_a_wrong_master_key_is_refused(settings: Settings, test_keys: dict[str, str]) -> None:
    other = base64.b64encode(os.urandom(32)).decode()
    wrong = make_settings(settings.database_url, {**test_keys, "master_key": other})
    ctx = AppContext.build(wrong)
    with pytest.raises(StartupError, match="CONSENT_MASTER_KEY is not the key"):
        check_database(ctx.engine, ctx.crypto)
    ctx.engine.dispose()


def test_a_wrong_index_key_is_refused(settings: Settings, test_keys: dict[str, str]) -> None:
    other = base64.b64encode(os.urandom(32)).decode()
    ctx = AppContext.build(make_settings(settings.database_url, {**test_keys, "index_key": other}))
    with pytest.raises(StartupError, match="CONSENT_INDEX_KEY is not the key"):
        check_database(ctx.engine, ctx.crypto)
    ctx.engine.dispose()


def test_an_unknown_migration_is_refused(ctx: AppContext) -> None:
    owner = owner_engine(ctx)  # only migrate's login may write alembic_version
    with owner.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff0000'"))
    owner.dispose()
    with pytest.raises(StartupError, match="ffff0000, which this version does not know"):
        check_database(ctx.engine, ctx.crypto)


def test_an_empty_database_is_refused(tmp_path: Path, test_keys: dict[str, str]) -> None:
    ctx = AppContext.build(make_settings(f"sqlite:///{tmp_path}/empty.db", test_keys))
    with pytest.raises(StartupError, match="has no schema: run `consent-service migrate`"):
        check_database(ctx.engine, ctx.crypto)
    ctx.engine.dispose()


def test_an_unreachable_database_is_refused(test_keys: dict[str, str]) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    ctx = AppContext.build(make_settings(url, test_keys))
    with pytest.raises(StartupError, match=r"unreachable .*CONSENT_DATABASE_URL"):
        check_database(ctx.engine, ctx.crypto)
    ctx.engine.dispose()


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    full_env.update(env)
    full_env["CONSENT_ENV_FILE"] = str(cwd / "absent.env")
    return subprocess.run(
        [sys.executable, "-m", "consent_service.cli", *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _env(settings: Settings, keys: dict[str, str]) -> dict[str, str]:
    return {
        "CONSENT_DATABASE_URL": settings.database_url,
        **{f"CONSENT_{k.upper()}": v for k, v in keys.items()},
    }


def test_serve_with_a_missing_key_prints_one_line(
    settings: Settings, test_keys: dict[str, str], tmp_path: Path
) -> None:
    env = _env(settings, test_keys)
    del env["CONSENT_SIGNING_KEY"]
    result = _cli(["serve"], env, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]]
    assert "CONSENT_SIGNING_KEY is not set" in lines[0]
    assert "Traceback" not in result.stderr


def test_serve_with_a_wrong_key_touches_no_data(
    ctx: AppContext, settings: Settings, test_keys: dict[str, str], tmp_path: Path
) -> None:
    with ctx.engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one()
    env = _env(settings, test_keys) | {
        "CONSENT_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()
    }
    result = _cli(["serve"], env, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "consent-service: CONSENT_MASTER_KEY is not the key this database was created with"
    )
    with ctx.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one() == before


def test_cli_bootstrap_create_unlock_and_verify(
    settings: Settings, test_keys: dict[str, str], tmp_path: Path
) -> None:
    env = _env(settings, test_keys)
    first = _cli(["bootstrap-admin"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "One-time set-up password" in first.stdout
    password = first.stdout.split("\n\n")[1].strip()
    assert len(password) >= 20
    again = _cli(["bootstrap-admin"], env, tmp_path)
    assert "exists already" in again.stdout
    # A role that reads citizens' data needs two people (``users propose``) ...
    refused = _cli(
        ["create-user", "--username", "nina", "--name", "Nina", "--role", "navigator"],
        env,
        tmp_path,
    )
    assert refused.returncode == 1
    assert "users propose" in refused.stdout
    # ... except the organisation's first data controller, who has nobody to approve them.
    made = _cli(
        ["create-user", "--username", "nina", "--name", "Nina", "--role", "data_controller"],
        env,
        tmp_path,
    )
    assert made.returncode == 0, made.stderr
    unlocked = _cli(
        ["unlock-user", "--username", "nina", "--reason", "test of the CLI"], env, tmp_path
    )
    assert unlocked.returncode == 0, unlocked.stderr
    verified = _cli(["audit", "verify"], env, tmp_path)
    assert verified.returncode == 0
    assert "audit log intact" in verified.stdout
    # The one-time passwords differ per run: never a fixed default.
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        hashes = conn.execute(text("SELECT password_hash FROM app_user")).scalars().all()
    engine.dispose()
    assert len(set(hashes)) == 2


def test_audit_verify_detects_an_edit_made_with_sqlite3(
    ctx: AppContext, settings: Settings, test_keys: dict[str, str], tmp_path: Path
) -> None:
    if not settings.is_sqlite:
        pytest.skip("the sqlite3 command-line edit is the SQLite case")
    env = _env(settings, test_keys)
    assert _cli(["bootstrap-admin"], env, tmp_path).returncode == 0
    path = settings.database_url.removeprefix("sqlite:///")
    subprocess.run(
        [
            "sqlite3",
            path,
            "DROP TRIGGER audit_event_no_update; "
            "UPDATE audit_event SET actor_username = 'someone' WHERE seq = 1;",
        ],
        check=True,
        capture_output=True,
    ) if _has_sqlite3() else _edit_with_module(path)
    result = _cli(["audit", "verify"], env, tmp_path)
    assert result.returncode == 1
    assert "event 1: altered" in result.stdout


def _has_sqlite3() -> bool:
    from shutil import which

    return which("sqlite3") is not None


def _edit_with_module(path: str) -> None:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_event_no_update")
    conn.execute("UPDATE audit_event SET actor_username = 'someone' WHERE seq = 1")
    conn.commit()
    conn.close()


def test_settings_never_show_keys() -> None:
    s = Settings(master_key=SecretStr("c2VjcmV0"))
    assert "c2VjcmV0" not in repr(s)


def test_serve_with_an_invalid_policy_prints_one_line(
    settings: Settings, test_keys: dict[str, str], tmp_path: Path
) -> None:
    policy_dir = tmp_path / "policies"
    policy_dir.mkdir()
    text = (Path(__file__).resolve().parents[2] / "policies" / "access.yaml").read_text()
    (policy_dir / "access.yaml").write_text(text.replace("  dpo:\n    da:", "  auditor:\n    da:"))
    env = _env(settings, test_keys) | {"CONSENT_POLICY_DIR": str(policy_dir)}
    result = _cli(["serve"], env, tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "unknown role 'auditor'" in result.stderr

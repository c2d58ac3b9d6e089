"""Alembic migrations, shipped inside the package; configured in code, no alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from consent_service.migrations.privileges import apply_privileges

HERE = Path(__file__).resolve().parent


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head", *, app_role: str | None = None) -> None:
    """``alembic upgrade``, then, in the same transaction, the privileges step
    (``privileges.apply_privileges``): run as the owner; ``app_role`` is the application
    login's role on PostgreSQL (None: no grants, e.g. for a database no service uses)."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        if revision == "head":
            apply_privileges(conn, app_role)

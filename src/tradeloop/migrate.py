"""Alembic wiring: one migration chain for SQLite and PostgreSQL, shipped inside the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


class NotMigrated(RuntimeError):
    pass


def alembic_config(url: str) -> Config:
    root = Path(str(resources.files("tradeloop") / "migrations"))
    cfg = Config()
    cfg.set_main_option("script_location", str(root))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision(url: str) -> str:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def assert_migrated(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    current = current_revision(engine)
    head = head_revision(url)
    if current != head:
        state = "is empty (no tables)" if current is None else f"is at revision {current}, code needs {head}"
        raise NotMigrated(
            f"The database {engine.url.render_as_string(hide_password=True)} {state}. "
            "Run `tradeloop db upgrade` (with the same --data-dir / TRADELOOP_DATABASE_URL) first."
        )

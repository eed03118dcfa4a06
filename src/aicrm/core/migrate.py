"""Schema migrations (Alembic), run by ``aicrm db upgrade`` and automatically on first use."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from aicrm.core.db import get_engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("aicrm") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(*, engine: Engine | None = None, revision: str = "head") -> str | None:
    """Bring the schema to ``revision``; returns the revision now in force."""
    engine = engine or get_engine()
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return current_revision(engine)


def ensure_schema(*, engine: Engine | None = None) -> None:
    """Upgrade the schema when it is behind the code (cheap when already current)."""
    engine = engine or get_engine()
    if current_revision(engine) != head_revision(engine):
        upgrade(engine=engine)

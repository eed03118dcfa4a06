"""The store: migrations create exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from aicrm.core.config import DEFAULT_SECRET, Settings
from aicrm.core.db import session_scope
from aicrm.core.migrate import current_revision, ensure_schema, head_revision
from aicrm.core.models import Base, Role

REQUIRED_TABLES = {
    "customers", "products", "orders", "order_lines", "interactions", "feedback", "conversations", "messages",
    "tickets", "campaigns", "campaign_members", "campaign_responses", "consents", "users", "roles", "audit_log",
    "model_runs", "customer_scores",
}


def test_upgrade_store__schema_matches_models_and_roles_seeded(engine):
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert REQUIRED_TABLES <= set(inspect(engine).get_table_names())
    assert current_revision(engine) == head_revision(engine)
    ensure_schema(engine=engine)  # a current store is left alone
    with session_scope(engine) as s:
        assert set(s.execute(select(Role.name)).scalars()) == {"admin", "manager", "analyst", "agent"}


def test_settings__refuse_default_secret_outside_local_mode():
    assert Settings(mode="local").secret_key == DEFAULT_SECRET
    with pytest.raises(ValueError, match="AICRM_SECRET_KEY"):
        Settings(mode="production")
    assert Settings(mode="production", secret_key="s3cret-value").mode == "production"

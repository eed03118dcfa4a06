"""``aicrm users create`` and ``aicrm users list`` through the real CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aicrm.auth import service
from aicrm.cli import app
from aicrm.core.config import get_settings


@pytest.fixture
def cli(db_url, monkeypatch):
    monkeypatch.setenv("AICRM_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_manage_users_cli__create_list_and_sign_in(cli, engine):
    r = cli.invoke(app, ["users", "create", "--email", "Ops@Example.com", "--password", "s3cret-pass", "--role",
                         "manager", "--full-name", "Ops Lead", "--json"])
    assert r.exit_code == 0, r.output
    created = json.loads(r.stdout)
    assert created["email"] == "ops@example.com" and created["role"] == "manager" and created["is_active"]
    r = cli.invoke(app, ["users", "list", "--json"])
    listed = json.loads(r.stdout)
    assert [u["email"] for u in listed] == ["ops@example.com"]
    with Session(engine) as s:
        user = service.authenticate(session=s, email="ops@example.com", password="s3cret-pass")
        assert user.password_hash.startswith("$argon2id$") and "s3cret-pass" not in user.password_hash
    r = cli.invoke(app, ["users", "list"])
    assert "ops@example.com" in r.stdout and "manager" in r.stdout


def test_manage_users_cli__refusals_name_the_problem(cli):
    r = cli.invoke(app, ["users", "create", "--email", "a@example.com", "--password", "long-enough", "--role", "boss"])
    assert r.exit_code == 1 and "--role" in r.output and "Traceback" not in r.output
    r = cli.invoke(app, ["users", "create", "--email", "a@example.com", "--password", "short", "--role", "agent"])
    assert r.exit_code == 1 and "--password" in r.output
    assert cli.invoke(app, ["users", "create", "--email", "a@example.com", "--password", "long-enough",
                            "--role", "agent"]).exit_code == 0
    r = cli.invoke(app, ["users", "create", "--email", "A@example.com", "--password", "long-enough", "--role", "agent"])
    assert r.exit_code == 1 and "already exists" in r.output

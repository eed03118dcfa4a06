"""Shared fixtures: the public datasets in ../shared and a fresh store on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AICRM_SHARED_DIR", REPO.parent / "shared"))
POSTGRES_ADMIN_URL = os.environ.get("AICRM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def dataset_path(*parts: str) -> Path:
    """Path of a file in ../shared/datasets; skips the test with a clear message when it is absent."""
    path = SHARED.joinpath("datasets", *parts)
    if not path.exists():
        pytest.skip(f"needs the public dataset {path} (../shared beside the repo, or set AICRM_SHARED_DIR)")
    return path


@pytest.fixture
def datasets() -> Path:
    return dataset_path()


def _postgres_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:  # any failure to connect means the PostgreSQL variant cannot run here
        return str(exc).strip().splitlines()[0]


@pytest.fixture(scope="session")
def postgres_database():
    """A throw-away PostgreSQL database for this test session, dropped at the end."""
    problem = _postgres_available()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {POSTGRES_ADMIN_URL}: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({problem}); start it to run these tests")
    import psycopg

    name = f"aicrm_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    from aicrm.core.db import make_engine
    from aicrm.core.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine=engine)
    yield engine
    engine.dispose()
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_all(engine) -> None:
    from sqlalchemy import text

    from aicrm.core.models import Base

    # roles are seeded by the migration and stay; everything else starts empty
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name != "roles")
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """A migrated, empty store: once on an SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        from aicrm.core.db import make_engine
        from aicrm.core.migrate import upgrade

        eng = make_engine(f"sqlite:///{tmp_path / 'aicrm.db'}")
        upgrade(engine=eng)
        yield eng
        eng.dispose()
    else:
        eng = request.getfixturevalue("postgres_database")
        _truncate_all(eng)
        yield eng


@pytest.fixture
def db_url(engine) -> str:
    """The URL of the ``engine`` store, for CLI and server tests that take a URL."""
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A private folder for saved models (``AICRM_DATA_DIR``), so tests never write into the working tree."""
    from aicrm.core.config import get_settings

    monkeypatch.setenv("AICRM_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()

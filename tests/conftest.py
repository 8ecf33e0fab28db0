"""Fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``TRADELOOP_TEST_POSTGRES_URL`` (default: the local server, database ``test``).
Each test session creates its own database there and drops it at the end. Outside CI a missing server
skips the PostgreSQL half with a message; under ``CI=true`` it fails.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

# Tests hash many passwords; the production argon2id cost is not what they test.
from argon2 import PasswordHasher  # noqa: E402
from sqlalchemy import create_engine, text

from tradeloop.config import load_settings
from tradeloop.kit import security  # noqa: E402
from tradeloop.kit.db import Database
from tradeloop.kit.tenancy import system_principal
from tradeloop.migrate import upgrade
from tradeloop.models import metadata
from tradeloop.reference.service import load_reference_data

security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

PG_URL = os.environ.get("TRADELOOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = ["sqlite", "postgresql"]
#: Kept between tests: the migrated schema and the reference data.
KEPT_TABLES = {"alembic_version", "hs_codes"} | {t for t in metadata.tables if t.startswith("ref_")}


def _prepare(url: str) -> None:
    upgrade(url)
    db = Database.from_url(url)
    with db.transaction() as s:
        load_reference_data(s, principal=system_principal(label="tests"))
    db.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    _prepare(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url():
    try:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        message = f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}: {str(exc)[:200]}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)
    name = f"tradeloop_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    try:
        _prepare(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
            ), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "tradeloop.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    tables = [t.name for t in reversed(metadata.sorted_tables) if t.name not in KEPT_TABLES]
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def db(database_url):
    database = Database.from_url(database_url)
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path, database_url):
    return load_settings(tmp_path / "data", database_url=database_url, secret_key="test-secret")


@pytest.fixture
def app(settings, db):
    from tradeloop.app import create_app

    return create_app(settings, database=db)


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def world(db):
    """Two exporters, a warehouse operator and users in every role (see tests/factories.py)."""
    from tests.factories import build_world

    return build_world(db)

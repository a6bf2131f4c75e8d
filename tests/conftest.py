"""Shared fixtures: every database test runs on SQLite and on a real PostgreSQL.

PostgreSQL is the server at ``SMARTNUMBERS_TEST_POSTGRES`` (default: the local one on
127.0.0.1:5432); each test run creates its own database there and drops it at the end.
``SMARTNUMBERS_TEST_BACKENDS=sqlite`` limits a quick local run to SQLite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text

from smartnumbers.db import Base, make_engine, session_factory
from smartnumbers.migrate import upgrade

POSTGRES_SERVER = os.environ.get(
    "SMARTNUMBERS_TEST_POSTGRES", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
BACKENDS = os.environ.get("SMARTNUMBERS_TEST_BACKENDS", "sqlite,postgresql").split(",")


def _server_url_for(database: str) -> str:
    base, _, _ = POSTGRES_SERVER.rpartition("/")
    return f"{base}/{database}".replace("postgresql://", "postgresql+psycopg://", 1)


class TemporaryDatabases:
    """Creates empty databases on either backend and removes them afterwards."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory):
        self._tmp = tmp_path_factory
        self._postgres: list[str] = []

    def create(self, backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{self._tmp.mktemp('db') / 'smartnumbers.db'}"
        name = f"smartnumbers_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self._postgres.append(name)
        return _server_url_for(name)

    def drop_all(self) -> None:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
            for name in self._postgres:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def databases(tmp_path_factory) -> Iterator[TemporaryDatabases]:
    dbs = TemporaryDatabases(tmp_path_factory)
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_url(request, databases) -> str:
    """A database per backend, migrated once with the real migrations."""
    url = databases.create(request.param)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def db_url(migrated_url, monkeypatch) -> Iterator[str]:
    """An empty, migrated database; the CLI and serve see it through the settings."""
    engine = make_engine(migrated_url)
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for table in tables:
                conn.execute(table.delete())
        conn.commit()
    engine.dispose()
    monkeypatch.setenv("SMARTNUMBERS_DATABASE_URL", migrated_url)
    monkeypatch.setenv("SMARTNUMBERS_CONFIG", "/nonexistent/smartnumbers.toml")
    yield migrated_url


@pytest.fixture
def session(db_url):
    engine = make_engine(db_url)
    with session_factory(engine)() as s:
        yield s
    engine.dispose()

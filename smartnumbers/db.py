"""The database: SQLite by default, PostgreSQL in production; sync for the CLI, async for serve.

Column types here carry the project's rules into the schema: money as whole micro-francs,
instants as aware UTC.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import BigInteger, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.types import TypeDecorator

from smartnumbers.files import private_folder
from smartnumbers.money import from_micro, to_micro
from smartnumbers.settings import DEFAULT_DATABASE_URL, SettingsError

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Money(TypeDecorator):
    """Decimal CHF stored as whole micro-francs (BIGINT): exact on SQLite and PostgreSQL alike."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money is never a float")
        return to_micro(Decimal(value))

    def process_result_value(self, value: int | None, dialect) -> Decimal | None:
        return None if value is None else from_micro(value)


class UTCDateTime(TypeDecorator):
    """An aware instant, stored as UTC; a naive datetime is a bug and is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: instants are stored as aware UTC")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def plain_url(url: str | SecretStr) -> str:
    """The URL to connect with: the settings keep it secret for its password."""
    return url.get_secret_value() if isinstance(url, SecretStr) else url


def sync_url(url: str | SecretStr) -> str:
    url = plain_url(url)
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


def async_url(url: str | SecretStr) -> str:
    url = sync_url(url)
    return url.replace("sqlite:///", "sqlite+aiosqlite:///", 1) if url.startswith("sqlite:///") else url


def _sqlite_file(url: str, *, create: bool) -> None:
    """A SQLite database is where its URL says. The default URL's folder (``var/``) is the
    product's own and is made, owner only; a folder the operator named must exist, or the command
    stops in one line: SQLite would make an empty database, without tables, wherever a typo
    points. A new database file is readable by its owner only (SQLite gives its -wal and -shm
    files the same mode); without ``create`` a missing one is refused instead."""
    if not url.startswith("sqlite:"):
        return
    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    if path.exists():
        return
    folder = path.parent
    if not folder.is_dir():
        if not (create and url == DEFAULT_DATABASE_URL):
            raise SettingsError(f"SMARTNUMBERS_DATABASE_URL: the folder {folder} does not exist: "
                                "create it, or correct the URL")
        private_folder(folder)
    if not create:
        raise SettingsError(f"SMARTNUMBERS_DATABASE_URL: no database at {path}: "
                            "create it with `smartnumbers db upgrade`, or correct the URL")
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str | SecretStr, *, create: bool = True) -> Engine:
    """The synchronous engine the CLI and migrations use; without ``create`` (a command that
    works on the rows of a migrated database) a SQLite database that does not exist is refused."""
    _sqlite_file(plain_url(url), create=create)
    engine = create_engine(sync_url(url))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_async_engine(url: str | SecretStr) -> AsyncEngine:
    """The asyncio engine of the serve process (aiosqlite or psycopg 3)."""
    _sqlite_file(plain_url(url), create=False)
    engine = create_async_engine(async_url(url))
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def async_session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)

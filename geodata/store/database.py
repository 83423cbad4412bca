"""Where the store lives, the one engine per process, units of work, and the Alembic migrations.

The URL comes from the caller, else ``ATLAS_DATABASE_URL``, else a SQLite file in the user data
folder (created on first use). Every unit of work is a transaction: ``reading`` for reads,
``writing`` for writes. Writes take one store-wide write lock (SQLite: ``BEGIN IMMEDIATE``;
PostgreSQL: a transaction-level advisory lock), so two imports never interleave while readers
never wait: they see the state before a write or after it, never half of one.

Alembic is configured here, without an ``alembic.ini``; the revisions are in ``migrations/``.
A developer adds one after changing ``models.py`` with ``make_revision("what changed", url)``
against a database at head, then reviews the generated file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session

from geodata.store.reports import StoreError

ENV_URL = "ATLAS_DATABASE_URL"
APP_NAME = "vaccine-capacity-atlas"
DEFAULT_FILE = "atlas.sqlite"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Seconds a SQLite writer waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_S = 120.0
#: Execution option that marks a unit of work as a write (see ``_begin_sqlite``).
_WRITE = "atlas_write"
#: Key of the PostgreSQL advisory lock that serialises writers ("ATLAS" in ASCII).
_PG_WRITE_LOCK = 0x41544C4153


def default_url() -> str:
    """The embedded default: a SQLite file in the user data folder, which is created."""
    folder = Path(platformdirs.user_data_dir(APP_NAME))
    folder.mkdir(parents=True, exist_ok=True)
    return sa.URL.create("sqlite", database=str(folder / DEFAULT_FILE)).render_as_string()


def resolve_url(url: str | None = None) -> str:
    """``url`` if given, else ``$ATLAS_DATABASE_URL``, else ``default_url()``."""
    return url or os.environ.get(ENV_URL) or default_url()


def create_engine(url: str) -> sa.Engine:
    """The engine for ``url``: SQLite in WAL mode with real transactions, or PostgreSQL.

    Raises ValueError for other backends.
    """
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database:
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        sa.event.listen(engine, "connect", _connect_sqlite)
        sa.event.listen(engine, "begin", _begin_sqlite)
        return engine
    if backend == "postgresql":
        return sa.create_engine(parsed, pool_pre_ping=True)
    raise ValueError(
        f"{ENV_URL}: unsupported database {backend!r}; use sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST:PORT/DATABASE"
    )


def _connect_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (the driver's own would start transactions late and
    # commit before DDL); WAL lets readers go on while one writer writes.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_sqlite(connection: sa.Connection) -> None:
    # A writer takes the write lock at BEGIN: upgrading a read lock later can fail at once
    # ("database is locked") instead of waiting for the other writer.
    write = connection.get_execution_options().get(_WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextmanager
def reading(engine: sa.Engine) -> Iterator[Session]:
    """A read-only unit of work: a session in one transaction, rolled back at the end."""
    with Session(engine) as session:
        yield session  # closing the session rolls its transaction back


@contextmanager
def writing(engine: sa.Engine) -> Iterator[Session]:
    """A write unit of work under the store-wide write lock; committed when the block ends
    without an exception, rolled back otherwise (also when the process dies)."""
    with Session(engine.execution_options(**{_WRITE: True})) as session, session.begin():
        _take_write_lock(session.connection())
        yield session


def _take_write_lock(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_WRITE_LOCK)))
    # SQLite: BEGIN IMMEDIATE (see _begin_sqlite) holds it already


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic's configuration, in code; ``migrations/env.py`` runs on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


#: Tables that PostGIS creates itself (not ours to migrate).
POSTGIS_TABLES = frozenset({"spatial_ref_sys", "geometry_columns", "geography_columns"})


def include_object(dialect_name: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's filter of what autogenerate compares on ``dialect_name``: not PostGIS's own
    tables, and not the GiST index on SQLite (it is declared for PostgreSQL only)."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and reflected and compare_to is None and name in POSTGIS_TABLES:
            return False
        if type_ == "index" and obj.dialect_kwargs.get("postgresql_using") == "gist":
            return dialect_name == "postgresql"
        return True

    return include


def head_revision() -> str | None:
    """The newest revision in ``migrations/versions``."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at (None: empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` in one transaction, under the write lock."""
    with engine.execution_options(**{_WRITE: True}).begin() as connection:
        _take_write_lock(connection)
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Migrate the database back to ``revision`` ("base": empty) in one transaction."""
    with engine.execution_options(**{_WRITE: True}).begin() as connection:
        _take_write_lock(connection)
        command.downgrade(alembic_config(connection), revision)


def ensure_current(engine: sa.Engine) -> None:
    """Upgrade to head when the database is behind (a new database: creates every table).

    Raises StoreError when a PostgreSQL database lacks PostGIS (creating the extension needs
    rights the application should not have).
    """
    if current_revision(engine) != head_revision():
        _check_postgis(engine)
        upgrade(engine)


def _check_postgis(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as connection:
        found = connection.execute(sa.select(sa.func.to_regtype("geometry"))).scalar()
    if found is None:
        raise StoreError(
            f"{engine.url.render_as_string(hide_password=True)}: PostGIS is missing (no type "
            "'geometry' on the search path); run CREATE EXTENSION postgis in this database as its owner"
        )


def make_revision(message: str, url: str) -> None:
    """Generate a revision from the difference between ``models.py`` and the database at ``url``
    (which must be at head). For developers; review the file before committing it."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            command.revision(alembic_config(connection), message=message, autogenerate=True)
    finally:
        engine.dispose()

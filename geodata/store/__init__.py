"""The survey store: rounds, their facilities and rejected rows, imports, requests, audit log.

SQLite file in the user data folder by default (created on first use, no set-up);
PostgreSQL with PostGIS when ``ATLAS_DATABASE_URL=postgresql+psycopg://...`` is set.
SQLAlchemy 2 models in ``models``, Alembic migrations in ``migrations/``, applied by
``connect``. No dash import: the dashboard reaches the store through ``Store``.

    from geodata import store
    atlas = store.connect()                      # or connect("sqlite:///path/atlas.sqlite")
    report = atlas.import_file("survey.csv", "2021-03", "jane")
    atlas.publish("2021-03", user="jane")
    frame = atlas.facilities("2021-03")          # as records.load_facilities(...).facilities
"""

from __future__ import annotations

from geodata.store import database
from geodata.store.api import Store
from geodata.store.reports import (
    ImportReport,
    PlacementProblem,
    RoundInfo,
    StoreError,
    UnknownRound,
)

__all__ = [
    "ImportReport",
    "PlacementProblem",
    "RoundInfo",
    "Store",
    "StoreError",
    "UnknownRound",
    "connect",
]


def connect(url: str | None = None) -> Store:
    """Open the store at ``url``, else ``$ATLAS_DATABASE_URL``, else the SQLite file in the user
    data folder (``vaccine-capacity-atlas/atlas.sqlite``), migrating it to the newest schema.

    Call it once per process and share the Store. Raises ValueError for an unsupported URL and
    SQLAlchemy's OperationalError when the database cannot be reached.
    """
    engine = database.create_engine(database.resolve_url(url))
    try:
        database.ensure_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine)

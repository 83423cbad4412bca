"""Alembic environment: runs on the connection that geodata.store.database hands over.

SQLite alters tables in batch mode (copy and move), so one revision serves both backends.
There is no offline (SQL script) mode: migrations always run against a database.
"""

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from geodata.store.database import include_object
from geodata.store.models import Base, UtcDateTime


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # A revision must not import application types that may change: UtcDateTime is only
    # conversion code around a plain timezone-aware timestamp column.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through geodata.store (connect() upgrades on first use), "
        "not the alembic command: there is no alembic.ini"
    )
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=_render_item,
    include_object=include_object(connection.dialect.name),
)
with context.begin_transaction():
    context.run_migrations()

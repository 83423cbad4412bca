"""Migrations, where the store lives, and the PostGIS side of the schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from geodata import store
from geodata.store import database
from geodata.store.models import Base

TABLES = {
    "audit_log",
    "facilities",
    "imports",
    "introduction_requests",
    "rejected_rows",
    "rounds",
    "row_problems",
}


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) & (TABLES | {"alembic_version"})


def test_migrations_take_an_empty_database_to_head_and_back(store_url: str) -> None:
    engine = database.create_engine(store_url)
    try:
        assert database.current_revision(engine) is None
        assert _tables(engine) == set()
        database.ensure_current(engine)
        assert database.current_revision(engine) == database.head_revision()
        assert _tables(engine) == TABLES | {"alembic_version"}
        # the migrated schema is exactly what the models declare
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"compare_type": True, "include_object": database.include_object(engine.dialect.name)},
            )
            assert compare_metadata(context, Base.metadata) == []
        database.downgrade(engine, "base")
        assert _tables(engine) == {"alembic_version"}
        assert database.current_revision(engine) is None
        database.upgrade(engine)
        assert _tables(engine) == TABLES | {"alembic_version"}
    finally:
        engine.dispose()


def test_a_second_connection_sees_what_the_first_stored(store_url: str) -> None:
    with store.connect(store_url) as first:
        first.log("ana", "official", "sign-in")
    with store.connect(store_url) as second:
        assert second.audit_log()["user_name"].tolist() == ["ana"]


def test_default_store_is_a_sqlite_file_in_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(database.ENV_URL, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with store.connect() as atlas:
        assert atlas.backend == "sqlite"
        assert atlas.rounds() == []
    assert (tmp_path / "data" / "vaccine-capacity-atlas" / "atlas.sqlite").is_file()


def test_the_environment_variable_chooses_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = tmp_path / "elsewhere" / "chosen.sqlite"
    monkeypatch.setenv(database.ENV_URL, f"sqlite:///{chosen}")
    with store.connect() as atlas:
        assert atlas.url == f"sqlite:///{chosen}"
    assert chosen.is_file()
    with pytest.raises(ValueError, match="unsupported database 'mysql'"):
        store.connect("mysql://somewhere/atlas")


def test_postgis_clients_read_the_sites_as_points(atlas: store.Store, messy_file: Path) -> None:
    if atlas.backend != "postgresql":
        pytest.skip("PostGIS geometry exists on PostgreSQL only; SQLite keeps EWKT text")
    atlas.import_file(messy_file, "messy", "ana")
    with atlas.engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT facility_id, ST_AsText(geom), ST_SRID(geom), latitude, longitude, nuts3_2021, "
                "ST_X(geom), ST_Y(geom) "
                "FROM facilities ORDER BY source_row"
            )
        ).all()
        registered = connection.execute(
            sa.text(
                "SELECT type, srid FROM geometry_columns "
                "WHERE f_table_schema = current_schema() AND f_table_name = 'facilities' "
                "AND f_geometry_column = 'geom'"
            )
        ).all()
        gist = connection.execute(
            sa.text(
                "SELECT indexdef FROM pg_indexes "
                "WHERE schemaname = current_schema() AND indexname = 'ix_facilities_geom'"
            )
        ).scalar_one()
    assert registered == [("POINT", 4326)]
    assert "USING gist (geom)" in gist
    by_id = {row[0]: row[1:] for row in rows}
    assert by_id["M1"][:5] == ("POINT(11.575 48.137)", 4326, 48.137, 11.575, "DE212")
    assert by_id["M7"][:2] == (None, None)  # placed by postcode: no coordinates, no point
    for _text, _srid, lat, lon, _code, x, y in by_id.values():
        assert (x, y) == (lon, lat)  # exactly the stored coordinates (or both None)


def test_a_postgresql_database_without_postgis_is_refused_clearly(store_url: str) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    # the test schema alone on the search path: PostGIS (in public) is out of sight
    url = sa.make_url(store_url)
    schema = url.query["options"].split("=")[1].split(",")[0]  # type: ignore[union-attr]
    alone = url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )
    with pytest.raises(store.StoreError, match="PostGIS is missing"):
        store.connect(alone)

"""Store fixtures: every test runs once per backend, on an empty database of its own.

``sqlite``: a file in the test's tmp_path. ``postgresql``: a fresh schema in the database that
``ATLAS_TEST_DATABASE_URL`` names (it needs the postgis extension; .ci/run sets both up), put
first on the search path through the URL (PostGIS stays reachable in ``public``) and dropped
afterwards; skipped when the variable is unset.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from geodata import store
from geodata.store.models import Base, Facility, Round

TEST_URL_ENV = "ATLAS_TEST_DATABASE_URL"
BACKENDS = ("sqlite", "postgresql")
REPO = Path(__file__).resolve().parents[2]

#: Every field of DATA_MODEL.md in use, at real places (rows as a spreadsheet numbers them):
#: rows 5 and 6 are rejected; row 4 gives Greece by its ISO code (a note) and lies just off the
#: coast ('nearest'); row 7 has swapped coordinates; row 8 is placed by postcode, row 9 by its
#: nuts3 code; row 10 lies in Austria but says DE; row 11 lies in the Atlantic ('unmatched').
MESSY_CSV = """\
facility_id,company,company_id,country,city,postcode,latitude,longitude,nuts3,company_size,cluster,\
stages,platforms,capacity_doses_per_month,available_capacity_pct,lead_time_months,gmp_certified,staff,\
bottlenecks,bottleneck_notes,public_listing,contact_consent,survey_date
M1,Messy One GmbH,DE123456789,DE,München,80331,48.137,11.575,DE212,large,BioM,fill_finish;qc_testing,\
mrna;viral_vector,"1,000,000",25.5,2.5,yes,120,vials_stoppers;skilled_staff,\
"Fictional: vials, stoppers",yes,yes,2021-03-01
M2,Messy Two S.A.,,EL,Athens,,37.98,23.72,,small,,Fill & finish,,,,,no,,,,no,no,2021-03-02
M3,Messy Three,EL999,GR,Patras,,38.2466,21.7346,,micro,,raw_materials,other,0,0,0,,0,financing,,,,
M4,,,DE,,,,,,,,fill_finish,,,,,,,,,,,
M5,Bad Country,,XX,,,50,10,,,,fill_finish,,,,,,,,,,,
M6,Swapped Ltd,,DE,,,11.575,48.137,,,,formulation,,,,,,,,,,,
M7,Postcode Only,DE987,DE,Berlin,10115,,,,medium,,services,protein_subunit,,,,,,,,yes,,2021-03-05
M8,Code Only,,FR,Paris,,,,FR101,,,services,,,,,,,,,,,
M9,Over The Border,,DE,Wien,,48.2082,16.3738,,,,cold_chain_logistics,,,,,,,,,,,
M10,At Sea,,FR,,,45.0,-15.0,,,,services,,,,,,,,,,,
"""


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """``empty_database()``: the URL of a new empty database of the parametrised backend."""
    if request.param == "sqlite":
        names = (f"sqlite:///{tmp_path / 'store' / f'atlas{i}.sqlite'}" for i in itertools.count())
        yield lambda: next(names)
        return
    base = os.environ.get(TEST_URL_ENV)
    if not base:
        pytest.skip(
            f"{TEST_URL_ENV} is not set: point it at a PostgreSQL database with PostGIS, e.g. "
            "postgresql+psycopg://postgres@127.0.0.1:5432/atlas_test (.ci/run creates it)"
        )
    admin = sa.create_engine(base)
    schemas: list[str] = []

    def create() -> str:
        schema = f"test_{uuid.uuid4().hex[:16]}"
        with admin.begin() as connection:
            if (
                connection.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").first()
                is None
            ):
                pytest.fail(f"{TEST_URL_ENV}: the database lacks PostGIS; run CREATE EXTENSION postgis in it")
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        schemas.append(schema)
        url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema},public"})
        return url.render_as_string(hide_password=False)

    try:
        yield create
    finally:
        with admin.begin() as connection:
            for schema in schemas:
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def store_url(empty_database: Callable[[], str]) -> str:
    """The URL of an empty database of the parametrised backend."""
    return empty_database()


@pytest.fixture
def atlas(store_url: str, real_nuts: Path) -> Iterator[store.Store]:
    """A store on an empty database, migrated to head (placement uses the real NUTS files)."""
    with store.connect(store_url) as opened:
        yield opened


@pytest.fixture(scope="session")
def messy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("messy") / "messy.csv"
    path.write_text(MESSY_CSV, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def sample_file() -> Path:
    path = REPO / "data" / "sample_facilities.csv"
    if not path.is_file():
        pytest.skip(f"{path} does not exist")
    return path


@pytest.fixture(scope="session")
def large_file(tmp_path_factory: pytest.TempPathFactory, real_nuts: Path) -> Path:
    """20,000 fictional sites of 2,000 companies (scripts/make_sample_data.py), as CSV."""
    spec = importlib.util.spec_from_file_location(
        "make_sample_data", REPO / "scripts" / "make_sample_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = tmp_path_factory.mktemp("large") / "large.csv"
    module.generate(2000, 20000, 1).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def dump() -> Callable[[store.Store], dict[str, list[tuple[Any, ...]]]]:
    """``dump(store)``: every row of every table, surrogate ids replaced by round names, sorted;
    two stores with equal dumps hold the same information."""
    return _dump


def _dump(atlas: store.Store) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    with atlas.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            columns: list[Any] = [c for c in table.columns if c.name not in ("id", "round_id", "geom")]
            query = sa.select(*columns)
            if "round_id" in table.columns:
                query = query.add_columns(Round.name).join(Round.__table__, Round.id == table.c.round_id)
            if table is Facility.__table__:
                geom = sa.func.ST_AsEWKT(table.c.geom) if atlas.backend == "postgresql" else table.c.geom
                query = query.add_columns(geom)
            out[table.name] = sorted((tuple(row) for row in connection.execute(query)), key=repr)
    return out

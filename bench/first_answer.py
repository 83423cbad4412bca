"""The dashboard's first answer after a round is published: how long until the map shows it.

    python bench/first_answer.py [--sites 100000] [--backend sqlite|postgresql|both]
                                 [--postgres-url URL]

For each backend: a fresh store holds the bundled sample as the round the app started on; a
generated file of ``--sites`` sites (generate(5000, N, 1), as bench/disclosure.py) is imported
and published through ``Store``, as the import page does. Then, in the provider the app holds
(``dashboard.data.Atlas``), it times what the first request after publishing pays:

* ``published``: listing the published rounds (every request does this);
* ``load``: reading the new round's sites back from the store (``Atlas.get``, first call);
* ``first map``: the first map update of the new round for a cluster user (placement in NUTS
  2021, the site index, the disclosure engine's release of every level), NUTS level 2;
* ``next map``: the same update again (cached), and a new filter setting (one release);
* ``prepared``: what publishing on the import page starts in the background (``Atlas.prepare``:
  load, place in both versions, each role group's default view), and the first map update after it.

The PostgreSQL URL defaults to ``$ATLAS_BENCH_DATABASE_URL`` or
postgresql+psycopg://postgres@127.0.0.1:5432/atlas_bench (needs PostGIS; each run uses a schema
of its own, dropped at the end). Needs NUTS_DATA_DIR.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402

from dashboard import views  # noqa: E402
from dashboard.data import SAMPLE_FILE, Atlas  # noqa: E402
from geodata import disclosure, store  # noqa: E402
from geodata.aggregate import Filters  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/atlas_bench"


def generated(n: int, folder: Path) -> Path:
    spec = importlib.util.spec_from_file_location(
        "make_sample_data", REPO / "scripts" / "make_sample_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = folder / f"generated_{n}.csv"
    module.generate(5000, n, 1).to_csv(path, index=False)
    return path


@contextmanager
def database(backend: str, folder: Path, pg_url: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.sqlite'}"
        return
    ensure_database(pg_url)
    admin = sa.create_engine(pg_url)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            sa.make_url(pg_url)
            .update_query_dict({"options": f"-csearch_path={schema},public"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def ensure_database(url: str) -> None:
    """Create the benchmark's database when it does not exist (through the 'postgres' database)."""
    parsed = sa.make_url(url)
    maintenance = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with maintenance.connect() as connection:
            found = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            ).first()
            if found is None:
                connection.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    finally:
        maintenance.dispose()


def timed(what: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = what()
    return time.perf_counter() - started, result


def run(backend: str, path: Path, folder: Path, pg_url: str) -> list[tuple[str, float]]:
    rules = disclosure.Rules(key="bench-key")
    with database(backend, folder, pg_url) as url, store.connect(url) as opened:
        atlas = Atlas(opened, SAMPLE_FILE, rules=rules)
        atlas.start.warm()
        figures = []
        took, _ = timed(lambda: opened.import_file(path, "bench-round", "bench"))
        figures.append(("import (validate, place, write)", took))
        took, _ = timed(lambda: opened.publish("bench-round", user="bench"))
        figures.append(("publish", took))
        took, rounds = timed(atlas.published)
        assert next(r.name for r in rounds) == "bench-round"
        figures.append(("published rounds (each request)", took))
        took, data = timed(lambda: atlas.get(None))
        figures.append(("load the new round (Atlas.get, first)", took))
        assert data.round == "bench-round"
        first = lambda: views.map_update(data, 2021, 2, "facilities", Filters(), "quantiles", 5, "cluster")  # noqa: E731
        took, _ = timed(first)
        figures.append(("first map update, cluster, level 2", took))
        took, _ = timed(first)
        figures.append(("same update again (cached)", took))
        other = Filters(stages=("fill_finish",))
        took, _ = timed(lambda: views.map_update(data, 2021, 2, "capacity", other, "quantiles", 5, "cluster"))
        figures.append(("a new filter setting", took))
        # what the import page does on publishing: prepare the round in the background
        fresh = Atlas(opened, SAMPLE_FILE, rules=rules)
        took, _ = timed(lambda: fresh.prepare("bench-round"))
        figures.append(("prepare after publishing (background)", took))
        prepared = fresh.get(None)
        took, _ = timed(
            lambda: views.map_update(prepared, 2021, 2, "facilities", Filters(), "quantiles", 5, "cluster")
        )
        figures.append(("first map update of a prepared round", took))
        return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sites", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default=os.environ.get("ATLAS_BENCH_DATABASE_URL", DEFAULT_PG))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="atlas-bench-") as tmp:
        folder = Path(tmp)
        path = generated(args.sites, folder)
        print(f"{args.sites:,} generated sites, {path.stat().st_size / 1e6:.1f} MB CSV")
        backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
        for backend in backends:
            try:
                figures = run(backend, path, folder, args.postgres_url)
            except sa.exc.OperationalError as exc:
                print(f"{backend}: skipped, the database cannot be reached ({str(exc).splitlines()[0]})")
                continue
            print(f"\n{backend}")
            for label, seconds in figures:
                print(f"  {label:<40} {seconds * 1000:>10,.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How long importing a survey round into the store takes, on SQLite and on PostgreSQL.

    python bench/import_store.py [--sites 100000] [--backend sqlite|postgresql|both]
                                 [--postgres-url URL] [--reads 3] [--verbose]

Generates ``--sites`` fictional sites (``generate(N // 20, N, 1)``, at least 300 companies, so
generate(5000, 100000, 1) by default, as bench/disclosure.py) as a CSV in a temporary directory
and imports it with ``Store.import_file(..., publish=True)`` into an empty store of each
backend: SQLite, a file in the temporary directory; PostgreSQL, a fresh schema (dropped
afterwards, so a rerun starts empty too) in the database that ``--postgres-url``, else
ATLAS_BENCH_DATABASE_URL, else postgresql+psycopg://postgres@127.0.0.1:5432/atlas_bench names.
That database needs PostGIS; when it cannot be reached or lacks PostGIS, PostgreSQL is skipped
with a line saying why.

Prints one table, seconds and sites/second per backend: opening the empty store (migrations);
the import, total and its phases as its progress lines mark them (validation = checksum, read
and validate; placement = NUTS 2021 and 2024 and building the rows; insert; commit; import
report = reading the report back); importing the same file again (checksum reuse);
``Store.facilities`` read-back and ``Store.rounds()`` (first call, then the median of the other
``--reads`` - 1 calls); the stored size (tables and indexes). Before any timing the bundled
sample is imported into a throw-away SQLite store (the warm-up line says how long), so NUTS
boundaries are loaded and both backends start warm; a first import in a fresh process pays
that on top. ``--verbose`` prints every progress line with its time. Needs NUTS_DATA_DIR.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402

from geodata import store  # noqa: E402

URL_ENV = "ATLAS_BENCH_DATABASE_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/atlas_bench"
ROUND, USER = "bench", "bench"
#: Import phases, each ending at the first progress line that the test accepts
#: (geodata.store.importing's status lines).
PHASES: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("validation", lambda line: " valid rows, " in line),
    ("placement", lambda line: line.startswith("placed ")),
    ("insert", lambda line: line == "committing"),
    ("commit", lambda line: line.startswith("round ") and line.endswith(" stored")),
)


class Unusable(Exception):
    """The PostgreSQL database cannot be used for the benchmark."""


@dataclass
class Result:
    """Seconds per step of one backend, in the order they were taken."""

    backend: str
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    size_mb: float | None = None  # tables and indexes


class Clock:
    """A progress callback that remembers when each status line arrived."""

    def __init__(self, verbose: bool) -> None:
        self.start = time.perf_counter()
        self.lines: list[tuple[float, str]] = []
        self.verbose = verbose

    def __call__(self, message: str) -> None:
        now = time.perf_counter() - self.start
        self.lines.append((now, message))
        if self.verbose:
            print(f"    {now:8.2f} s  {message}", flush=True)

    def at(self, test: Callable[[str], bool]) -> float | None:
        """When the first line that ``test`` accepts arrived."""
        return next((t for t, line in self.lines if test(line)), None)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def warm_up(folder: Path) -> float:
    """Import the bundled sample into a throw-away SQLite store: loads and projects the NUTS
    boundaries placement uses and warms the validation and SQLAlchemy caches."""
    start = time.perf_counter()
    with store.connect(f"sqlite:///{folder / 'warm-up.sqlite'}") as atlas:
        atlas.import_file(REPO / "data" / "sample_facilities.csv", "warm-up", USER)
    return time.perf_counter() - start


@contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    """A URL for a new empty schema in ``base`` (first on the search path, PostGIS stays
    reachable in ``public``), dropped at the end; raises Unusable when it cannot be made."""
    admin = sa.create_engine(base)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        try:
            with admin.begin() as connection:
                postgis = connection.exec_driver_sql(
                    "SELECT 1 FROM pg_extension WHERE extname = 'postgis'"
                ).first()
                if postgis is None:
                    raise Unusable("the database lacks PostGIS; run CREATE EXTENSION postgis in it")
                connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        except sa.exc.OperationalError as error:
            raise Unusable(f"cannot connect ({str(error.orig).strip().splitlines()[0]})") from error
        url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema},public"})
        yield url.render_as_string(hide_password=False)
    finally:
        try:
            with admin.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        except sa.exc.OperationalError:
            pass
        admin.dispose()


def stored_mb(atlas: store.Store) -> float:
    """Size of the store's tables and indexes (SQLite: pages in use, WAL folded in)."""
    if atlas.backend == "sqlite":
        query = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
    else:
        query = (
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        )
    with atlas.engine.connect() as connection:
        size = connection.exec_driver_sql(query).scalar()
    return float(size or 0) / 1e6


def run_backend(backend: str, url: str, path: Path, sites: int, reads: int, verbose: bool) -> Result:
    result = Result(backend)
    took, opened = timed(lambda: store.connect(url))
    assert isinstance(opened, store.Store)
    result.seconds["open empty store (migrate)"] = took
    with opened as atlas:
        clock = Clock(verbose)
        report = atlas.import_file(path, ROUND, USER, publish=True, progress=clock)
        total = time.perf_counter() - clock.start
        previous = 0.0
        for phase, test in PHASES:
            at = clock.at(test)
            if at is None:
                result.notes.append(f"no progress line marks the end of {phase}: not timed")
                continue
            result.seconds[f"  {phase}"] = at - previous
            previous = at
        result.seconds["  import report"] = total - previous
        result.seconds["import (total)"] = total
        if report.round.sites != sites or report.reused:
            result.notes.append(
                f"import stored {report.round.sites} sites ({report.round.rejected} rejected), "
                f"reused={report.reused}; expected {sites} new"
            )

        took, again = timed(lambda: atlas.import_file(path, f"{ROUND}-again", USER, publish=True))
        result.seconds["re-import (checksum reuse)"] = took
        if not (isinstance(again, store.ImportReport) and again.reused and again.round.name == ROUND):
            result.notes.append("the second import of the same file did not reuse the round")

        runs = [timed(lambda: atlas.facilities(ROUND)) for _ in range(max(1, reads))]
        frame = runs[0][1]
        if getattr(frame, "shape", (0,))[0] != report.round.sites:
            result.notes.append(f"facilities() gave {getattr(frame, 'shape', None)}")
        result.seconds["facilities() first"] = runs[0][0]
        if len(runs) > 1:
            result.seconds[f"facilities() median of {len(runs) - 1}"] = statistics.median(
                t for t, _ in runs[1:]
            )
        rounds = [timed(atlas.rounds) for _ in range(max(1, reads))]
        result.seconds["rounds() first"] = rounds[0][0]
        if len(rounds) > 1:
            result.seconds[f"rounds() median of {len(rounds) - 1}"] = statistics.median(
                t for t, _ in rounds[1:]
            )
        result.size_mb = stored_mb(atlas)
    return result


def print_table(results: list[Result], sites: int) -> None:
    steps: list[str] = []
    for result in results:
        steps += [s for s in result.seconds if s not in steps]
    width = max(len(s) for s in steps) + 2
    header = f"{'step':{width}}" + "".join(f" {r.backend + ' s':>14} {'sites/s':>10}" for r in results)
    print(header)
    print("-" * len(header))
    for step in steps:
        line = f"{step:{width}}"
        for result in results:
            took = result.seconds.get(step)
            if took is None:
                line += f" {'-':>14} {'':>10}"
            elif step.startswith("rounds()"):  # not per site
                line += f" {took * 1000:>11.1f} ms {'':>10}"
            elif step.startswith(("open", "  commit")):  # not per site
                line += f" {took:>14.2f} {'':>10}"
            else:
                line += f" {took:>14.2f} {sites / took:>10,.0f}"
        print(line)
    if any(r.size_mb is not None for r in results):
        line = f"{'stored size (MB)':{width}}"
        for result in results:
            size = "-" if result.size_mb is None else f"{result.size_mb:.1f}"
            line += f" {size:>14} {'':>10}"
        print(line)
    for result in results:
        for note in result.notes:
            print(f"{result.backend}: {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default=os.environ.get(URL_ENV) or DEFAULT_POSTGRES_URL)
    parser.add_argument("--reads", type=int, default=3, help="calls of facilities() and rounds()")
    parser.add_argument("--verbose", action="store_true", help="every progress line, timed")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)

    results: list[Result] = []
    with tempfile.TemporaryDirectory() as folder:
        from scripts.make_sample_data import generate

        path = Path(folder) / "generated.csv"
        took, _ = timed(lambda: generate(max(300, args.sites // 20), args.sites, 1).to_csv(path, index=False))
        print(
            f"generated {args.sites:,} sites of {max(300, args.sites // 20):,} companies "
            f"({path.stat().st_size / 1e6:.1f} MB CSV) in {took:.1f} s"
        )
        took = warm_up(Path(folder))
        print(f"warm-up (the bundled sample imported into a throw-away SQLite store): {took:.1f} s")
        for backend in backends:
            start = time.perf_counter()
            if backend == "sqlite":
                url = f"sqlite:///{Path(folder) / 'atlas.sqlite'}"
                results.append(run_backend(backend, url, path, args.sites, args.reads, args.verbose))
            else:
                with ExitStack() as stack:
                    try:
                        url = stack.enter_context(postgres_schema(args.postgres_url))
                    except Unusable as error:
                        shown = sa.make_url(args.postgres_url).render_as_string(hide_password=True)
                        print(f"postgresql: skipped, {shown}: {error}")
                        continue
                    results.append(run_backend(backend, url, path, args.sites, args.reads, args.verbose))
            print(f"{backend}: done in {time.perf_counter() - start:.0f} s", flush=True)
    if results:
        print()
        print_table(results, args.sites)
    return 0


if __name__ == "__main__":
    sys.exit(main())

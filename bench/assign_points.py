"""Throughput of point-to-NUTS assignment and of per-region aggregation.

Usage, from the repository root::

    NUTS_DATA_DIR=/path/to/nuts /work/venv/bin/python bench/assign_points.py [--points 1000000] [--runs 3]

1. geodata.placement.assign_points on N random points (uniform over lon -10..30, lat 35..70,
   fixed seed) against NUTS 2021 level 3 at 1:20M with the default tolerance: points per second
   (first call, which also projects the regions for the 'nearest' search, and the median of the
   further runs) and the within / nearest / unmatched breakdown.
2. The one-off cost of a 100,000-site file (scripts/make_sample_data.generate(5000, 100000, 1)
   written to a temporary CSV): records.load_facilities (read + validate), placement.place,
   SiteIndex.from_placed.
3. geodata.aggregate.aggregate at NUTS levels 0-3, without a filter and with a stage filter,
   called with all_regions = the level's NUTS codes, and without all_regions (no filter): median
   of several runs. These are the true figures; what a role sees comes from geodata.disclosure
   (bench/disclosure.py times that).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from geodata import nuts, placement, records, vocab  # noqa: E402
from geodata.aggregate import Filters, SiteIndex, aggregate  # noqa: E402

SEED = 20210
LON, LAT = (-10.0, 30.0), (35.0, 70.0)
STAGE_FILTER = Filters(stages=("drug_substance",))


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def median_time(fn: Callable[[], object], runs: int) -> float:
    return statistics.median(timed(fn)[0] for _ in range(runs))


def bench_assign(n: int, runs: int) -> None:
    rng = np.random.default_rng(SEED)
    lon = rng.uniform(*LON, n)
    lat = rng.uniform(*LAT, n)
    load_s, regions = timed(lambda: nuts.load(2021, 3, "20M"))
    index_s, _ = timed(lambda: regions.sindex)
    first_s, result = timed(lambda: placement.assign_points(lon, lat, 2021, "20M"))
    again = [timed(lambda: placement.assign_points(lon, lat, 2021, "20M"))[0] for _ in range(runs)]
    counts = result["nuts_match"].value_counts()
    nearest = result.loc[result["nuts_match"] == placement.NEAREST, "distance_km"]

    print(f"assign_points: {n:,} random points, lon {LON[0]}..{LON[1]}, lat {LAT[0]}..{LAT[1]}, seed {SEED}")
    print("NUTS 2021 level 3, 1:20M, tolerance 10 km (default)")
    print(f"  one-off: nuts.load {load_s * 1000:.0f} ms, spatial index {index_s * 1000:.0f} ms")
    header = f"  {'run':28} {'seconds':>8} {'points/s':>12}"
    print(header)
    print("  " + "-" * (len(header) - 2))
    print(f"  {'first call (+ projection)':28} {first_s:8.2f} {n / first_s:12,.0f}")
    median = statistics.median(again)
    print(f"  {f'median of {runs} further calls':28} {median:8.2f} {n / median:12,.0f}")
    print()
    header = f"  {'match':10} {'points':>10} {'share':>7}"
    print(header)
    print("  " + "-" * (len(header) - 2))
    for kind in (placement.WITHIN, placement.NEAREST, placement.UNMATCHED):
        count = int(counts.get(kind, 0))
        print(f"  {kind:10} {count:10,} {count / n:7.1%}")
    if len(nearest):
        print(f"  nearest: distance median {nearest.median():.2f} km, max {nearest.max():.2f} km")
    print()


def time_aggregate(
    index: SiteIndex, level: int, filters: Filters, regions: list[str] | None, runs: int
) -> float:
    """Median ms of aggregate() after one warm-up call."""

    def call() -> object:
        return aggregate(index, level, filters, all_regions=regions)

    call()
    return median_time(call, runs) * 1000


def bench_aggregate(runs: int) -> None:
    from scripts.make_sample_data import generate

    with tempfile.TemporaryDirectory(prefix="atlas-bench-") as tmp:
        path = Path(tmp) / "facilities_100k.csv"
        gen_s, frame = timed(lambda: generate(5000, 100_000, 1))
        frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
        size_mb = path.stat().st_size / 1e6
        load_s, table = timed(lambda: records.load_facilities(path))
    facilities = table.facilities
    place_s, placed = timed(lambda: placement.place(facilities, 2021, "20M"))
    index_s, index = timed(lambda: SiteIndex.from_placed(placed))

    print(
        f"100,000-site file: generate(5000, 100000, 1) -> CSV {size_mb:.1f} MB (generated in {gen_s:.1f} s)"
    )
    header = f"  {'one-off step':44} {'seconds':>8}"
    print(header)
    print("  " + "-" * (len(header) - 2))
    print(f"  {'records.load_facilities (read + validate)':44} {load_s:8.2f}")
    print(f"  {'placement.place (NUTS 2021, 20M)':44} {place_s:8.2f}")
    print(f"  {'SiteIndex.from_placed':44} {index_s:8.2f}")
    print(f"  {'total':44} {load_s + place_s + index_s:8.2f}")
    print(
        f"  valid rows {len(facilities):,}, rejected {len(table.rejected):,}, "
        f"placed {index.n:,}, placed by: {placed['placed_by'].value_counts(dropna=False).to_dict()}"
    )
    print()

    print(f"aggregate(): 100,000 sites, median of {runs} runs, ms (all_regions given, as the dashboard does)")
    header = f"  {'level':>5} {'regions':>7} {'no filter':>9} {'stage filter':>12} {'no all_regions':>14}"
    print(header)
    print("  " + "-" * (len(header) - 2))
    for level in vocab.NUTS_LEVELS:
        regions = nuts.load(2021, level, "20M")["NUTS_ID"].tolist()
        cells = [
            time_aggregate(index, level, filters, regions, runs) for filters in (Filters(), STAGE_FILTER)
        ]
        bare = time_aggregate(index, level, Filters(), None, runs)
        print(f"  {level:5d} {len(regions):7d} {cells[0]:9.1f} {cells[1]:12.1f} {bare:14.1f}")
    print(f"  stage filter: {STAGE_FILTER.describe()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="further assign_points calls to time")
    parser.add_argument("--aggregate-runs", type=int, default=9)
    args = parser.parse_args(argv)
    bench_assign(args.points, args.runs)
    bench_aggregate(args.aggregate_runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

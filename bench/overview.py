"""The bottleneck overview: how long it takes to build (cold) and to show (warm).

    python bench/overview.py [--only sample|100k] [--sites 100000] [--runs 5]

Datasets: the bundled sample (350 sites) and ``generate(5000, N, 1)`` (default N = 100,000) written
to a temporary CSV. For each, on a fresh ``AtlasData(path)`` (NUTS 2021; the file read, placed and
indexed before timing, and the default release of each role group built, as ``AtlasData.warm``
leaves a round):

* cold: ``overview.build`` per role group (official, then cluster): the 176 releases it reads
  (nothing of them cached but the default release), the positions of the sites the group measures
  from, the k-d tree searches (relief per bottleneck, nearest relief per NUTS 2 region); with the
  slowest release and how long the distances took on their own;
* cold after the profiles: the same for the cluster group once ``profile.warm_profiles`` has built
  the 26 releases a profile reads (what the app does: profiles first, then the overview);
* warm: ``overview.overview`` from memory, and what each callback then builds (median of ``--runs``):
  the two heatmaps, one chosen bottleneck (the need and supply maps' classes and hover texts, the
  regions table), the ranked list (3 distances x 2 orders), the two CSV exports;
* the overview's pickled size (what the shared Redis cache would hold per round and group).

Needs NUTS_DATA_DIR. About 4 minutes with 100,000 sites on a 2-core machine (the cold builds);
results vary by 15 % or more between runs on a shared machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboard import overview, overview_parts, profile  # noqa: E402
from dashboard.data import SAMPLE_FILE, AtlasData  # noqa: E402
from geodata import disclosure, vocab  # noqa: E402
from geodata.aggregate import Filters  # noqa: E402

VERSION = 2021
GROUPS = ("official", "cluster")


def fresh(path: Path) -> tuple[AtlasData, float]:
    """A new round object with its sites read, placed and indexed, and the default releases built."""
    start = time.perf_counter()
    data = AtlasData(path, rules=disclosure.Rules(key="bench-overview"))
    data.index(VERSION)
    data.site_keys(VERSION)
    for group in GROUPS:
        data.release(VERSION, Filters(), group)
    return data, time.perf_counter() - start


def cold(data: AtlasData, group: str) -> tuple[float, float, float, float]:
    """Seconds to build the overview (wall clock and this process's CPU time: on a busy machine the
    CPU time is what the build costs), the slowest single release, and what follows the last
    release (reading the figures out, the sites' positions, the k-d tree searches)."""
    slowest = 0.0
    last = time.perf_counter()

    def step(_done: int, _total: int) -> None:
        nonlocal slowest, last
        now = time.perf_counter()
        slowest, last = max(slowest, now - last), now

    start, cpu = time.perf_counter(), time.process_time()
    found = overview.build(data, VERSION, group, step)
    end, cpu_end = time.perf_counter(), time.process_time()
    assert found.group == group
    return end - start, cpu_end - cpu, slowest, end - last


def median_ms(call: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def warm(data: AtlasData, runs: int) -> None:
    now = dt.datetime.now(dt.UTC)
    for group in GROUPS:
        found = overview.overview(data, VERSION, group)
        start = time.perf_counter()
        for _ in range(1000):
            overview.overview(data, VERSION, group)
        lookup_us = (time.perf_counter() - start) * 1000
        chosen = overview.default_bottleneck(found)
        parts = {
            "heatmaps": lambda f=found: (overview_parts.matrix_figure(f), overview_parts.countries_figure(f)),
            f"chosen ({chosen})": lambda f=found, c=chosen: overview_parts.chosen(data, f, c),
            "ranked list, 6 settings": lambda f=found: [
                overview_parts.ranked_table(f, km, by)
                for km in overview.DISTANCES_KM
                for by in overview.RANK_BY
            ],
            "exports": lambda f=found, g=group: (
                overview_parts.matrix_export(data, f, g, now),
                overview_parts.ranked_export(data, f, 250, "reports", g, now),
            ),
        }
        timings = ", ".join(f"{name} {median_ms(call, runs):.1f} ms" for name, call in parts.items())
        size = len(pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL))
        print(f"  warm, {group}: from memory {lookup_us:.1f} µs; {timings}; pickled {size / 1e6:.2f} MB")


def run(label: str, path: Path, runs: int) -> None:
    print(f"  (load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    data, load = fresh(path)
    print(f"{label}: {data.index(VERSION).n:,} sites placed and indexed in {load:.1f} s")
    for group in GROUPS:
        took, cpu, slowest, distances = cold(data, group)
        releases = len(overview.settings())
        each = took / releases * 1000
        print(
            f"  cold, {group}: {took:.1f} s, CPU {cpu:.1f} s ({releases} releases, {each:.0f} ms each on "
            f"average, slowest {slowest * 1000:.0f} ms; then figures and distances {distances * 1000:.0f} ms)"
        )
    data, _load = fresh(path)
    start = time.perf_counter()
    profile.warm_profiles(data, VERSION, "cluster")
    profiles = time.perf_counter() - start
    took, cpu, _slowest, _distances = cold(data, "cluster")
    print(f"  cold, cluster, after warm_profiles ({profiles:.1f} s): {took:.1f} s, CPU {cpu:.1f} s")
    for group in GROUPS:
        overview.overview(data, VERSION, group)
    warm(data, runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("sample", "100k"))
    parser.add_argument("--sites", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    shape = f"{len(vocab.BOTTLENECKS)} bottlenecks x {len(vocab.STAGES)} stages"
    print(f"bottleneck overview, NUTS {VERSION}, {shape}")
    if args.only in (None, "sample"):
        run("sample", SAMPLE_FILE, args.runs)
    if args.only in (None, "100k"):
        from scripts.make_sample_data import generate

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "generated.csv"
            generate(5000, args.sites, 1).to_csv(path, index=False)
            run(f"generated {args.sites:,}", path, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How long the disclosure engine takes for one new filter setting, and what the audit finds.

    python bench/disclosure.py [--sites 100000] [--audit] [--baseline]

Prints, for the bundled sample and a generated file of ``--sites`` sites (generate(5000, N, 1)),
the cold time of one release (all four NUTS levels and the totals, primary and secondary
suppression, noise) for a set of filter settings, p50 / p95 / max, and how many figures are
withheld per level. ``--audit`` also runs the full audit on the sample (``--baseline``: once
more with secondary suppression and noise switched off, to show what they buy). Needs
NUTS_DATA_DIR. Results vary by about 15 % between runs on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from geodata import disclosure, nuts, placement, records, vocab  # noqa: E402
from geodata.aggregate import SiteIndex  # noqa: E402
from geodata.disclosure import audit  # noqa: E402


def index_of(path: Path) -> SiteIndex:
    table = records.load_facilities(path)
    return SiteIndex.from_placed(placement.place(table.facilities, 2021, "20M", 10.0))


def time_releases(label: str, index: SiteIndex, rules: disclosure.Rules) -> None:
    keys = disclosure.record_keys(index.facility_id, rules.key)
    everything = {level: tuple(nuts.load(2021, level, "20M")["NUTS_ID"]) for level in vocab.NUTS_LEVELS}
    settings = audit.settings(index, full=False)
    took = []
    withheld = dict.fromkeys(vocab.NUTS_LEVELS, 0)
    for filters in settings:
        start = time.perf_counter()
        result = disclosure.release(index, filters, "cluster", rules, keys, everything)
        took.append((time.perf_counter() - start) * 1000)
        for level in vocab.NUTS_LEVELS:
            table = result.table(level)
            withheld[level] += int((table[disclosure.withheld_column("capacity")] != "").sum())
    q = statistics.quantiles(took, n=20)
    print(
        f"{label}: {index.n:,} sites, {len(settings)} settings: "
        f"release p50 {statistics.median(took):.0f} ms, "
        f"p95 {q[18]:.0f} ms, max {max(took):.0f} ms; capacity figures withheld per setting, levels 0-3: "
        + ", ".join(f"{withheld[level] / len(settings):.1f}" for level in vocab.NUTS_LEVELS)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=100_000)
    parser.add_argument("--audit", action="store_true")
    parser.add_argument("--baseline", action="store_true")
    args = parser.parse_args()
    rules = disclosure.Rules()
    sample = REPO / "data" / "sample_facilities.csv"
    time_releases("sample", index_of(sample), rules)
    if args.sites:
        from scripts.make_sample_data import generate

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "generated.csv"
            generate(max(300, args.sites // 20), args.sites, 1).to_csv(path, index=False)
            time_releases(f"generated {args.sites:,}", index_of(path), rules)
    if args.audit:
        start = time.perf_counter()
        audit.run(str(sample), rules=rules, show=5)
        print(f"audit took {time.perf_counter() - start:.0f} s")
    if args.baseline:
        baseline = disclosure.Rules(noise_percent=0, count_noise=0, secondary=False)
        audit.run(str(sample), rules=baseline, show=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())

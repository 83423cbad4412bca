"""Partner search: server time of one search on the sample and on 100,000 sites.

Usage, from the repository root::

    NUTS_DATA_DIR=$NUTS_DATA_DIR python bench/partners.py [--only sample|100k] [--repeat N]

Datasets: ``sample`` (data/sample_facilities.csv, 350 sites) and ``100k`` (scripts/make_sample_data
``generate(5000, 100000, 1)`` written to a temporary CSV), each read with ``AtlasData(path)``.

What is timed, in-process (no HTTP):

* sites build: ``matchmaking.sites(data, 2021)``, the search arrays of a round (once per round
  and NUTS version; the placement and the engine's visible sites it reads are built first and
  not timed);
* origin: ``region_origin`` (a label point) and ``point_origin`` (a point assigned to its NUTS 3
  region), per call;
* search: ``matchmaking.search`` (``geodata.partners.search``: masks, distances to every
  candidate, ranking, the result table of at most ``limit`` rows) for each of NEEDS from each of
  ORIGINS, with and without filters, official and cluster, ``--repeat`` passes (default 5);
  p50 / p95 / max in ms.
* API: ``GET /api/v1/partners`` through the Flask test client of ``create_app`` on the same file
  (sign-in with a bearer token), JSON and CSV, limit 25: the whole request in the server.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from dashboard import matchmaking  # noqa: E402
from dashboard.data import SAMPLE_FILE, AtlasData  # noqa: E402
from geodata import partners  # noqa: E402

NEEDS = ("vials_stoppers", "fill_finish_slots", "lipids_mrna_inputs", "qc_testing", "cold_chain")
ORIGINS = ("DE71", "PT17", "PL91", "FI1B", "ITC4", "ES30")
QUERIES: tuple[dict[str, Any], ...] = (
    {},
    {"platform": "mrna", "gmp_only": True},
    {"scope": "cross_border", "max_km": 800.0},
    {"limit": 100},
)


def _ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    median = statistics.median(values)
    return f"p50 {median:7.2f} ms  p95 {p95:7.2f} ms  max {values[-1]:7.2f} ms  (n={len(values)})"


def bench(path: Path, label: str, repeat: int) -> None:
    print(f"\n== {label}: {path.name}")
    started = time.perf_counter()
    data = AtlasData(path)
    data.placed(2021)
    data.visible(2021, "cluster")
    print(f"load, place, index: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    found = matchmaking.sites(data, 2021)
    print(
        f"sites build: {(time.perf_counter() - started) * 1000:.0f} ms ({len(found):,} sites with a position)"
    )

    times: list[float] = []
    origins = []
    for code in ORIGINS:
        t = time.perf_counter()
        origins.append(matchmaking.region_origin(2021, code))
        times.append((time.perf_counter() - t) * 1000)
    print(f"region origin:  {_ms(times)}")
    times = []
    for origin in origins:
        t = time.perf_counter()
        matchmaking.point_origin(2021, origin.lat + 0.01, origin.lon + 0.01)
        times.append((time.perf_counter() - t) * 1000)
    print(f"point origin:   {_ms(times)}")

    for role in ("official", "cluster"):
        times, matched = [], []
        for _ in range(repeat):
            for need in NEEDS:
                for origin in origins:
                    for extra in QUERIES:
                        query = partners.Query(need=need, **extra)
                        t = time.perf_counter()
                        result = matchmaking.search(data, 2021, origin, query, role)
                        times.append((time.perf_counter() - t) * 1000)
                        matched.append(result.matched)
        print(f"search {role:8}: {_ms(times)}; candidates per search p50 {statistics.median(matched):,.0f}")

    _api(path, repeat)


def _api(path: Path, repeat: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="atlas-bench-"))
    os.environ["ATLAS_DATABASE_URL"] = f"sqlite:///{folder / 'atlas.sqlite'}"
    demo = path.resolve() == SAMPLE_FILE.resolve()
    headers = {}
    if not demo:
        from dashboard import users

        users_file = folder / "users.json"
        token, stored = users.new_token()
        users.save_users(
            users_file, [users.User("bench", "official", users.hash_password("x" * 20), (stored,))]
        )
        os.environ["ATLAS_USERS"] = str(users_file)
        os.environ["ATLAS_SECRET_KEY"] = "b" * 64
        headers["Authorization"] = f"Bearer {token}"
    from app import create_app

    app = create_app(path)
    client = app.server.test_client()
    if demo:
        page = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf
        client.post("/demo/role/official", data={"csrf_token": csrf.group(1), "next": "/"})
    for fmt in ("json", "csv"):
        times = []
        for _ in range(repeat):
            for need in NEEDS:
                for code in ORIGINS:
                    t = time.perf_counter()
                    answer = client.get(
                        f"/api/v1/partners?need={need}&region={code}&format={fmt}", headers=headers
                    )
                    times.append((time.perf_counter() - t) * 1000)
                    assert answer.status_code == 200, answer.get_data(as_text=True)[:200]
        print(f"API {fmt:4}:       {_ms(times)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("sample", "100k"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.only in (None, "sample"):
        bench(SAMPLE_FILE, "sample", args.repeat)
    if args.only in (None, "100k"):
        from make_sample_data import generate

        folder = Path(tempfile.mkdtemp(prefix="atlas-bench-"))
        path = folder / "facilities_100k.csv"
        generate(5000, 100000, 1).to_csv(path, index=False)
        bench(path, "100k", args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())

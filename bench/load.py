"""Load test: simulated users against gunicorn (2 gthread workers) with Redis and PostgreSQL.

    python bench/load.py [--users 50] [--seconds 60] [--think 0] [--only KIND ...] [--sites 0]
                         [--workers 2] [--threads 8] [--runs 1] [--postgres-url URL]

Starts a throw-away deployment (bench/deploy.py), then simulates ``--users`` users on the same
machine for ``--seconds`` seconds: one thread and one HTTP session (keep-alive) per user, all
started at once, a bounded run (every request has a 30 s timeout; the run ends at the deadline).
One user in five signs in as an official, the others as cluster associations (through the
sign-in form). Each user then repeats, picked at random by weight, what people do (``--think``
seconds between actions: 0, or a range such as 1-3):

* page (1): ``GET /``, the page itself (``/_dash-layout``, which carries the first map) and its
  callbacks' list (``/_dash-dependencies``);
* filters (6): the map callback (regions' classes, legend, cards) for a filter setting drawn from
  80 fixed settings (level, metric, stages, countries, bottleneck, platform, size);
* hover (4): the region card for a random region of the level shown;
* profile (2): a region's profile under the current filters;
* export (1): the regions CSV or the sites CSV (the Dash download callbacks);
* api (2): ``/api/v1/regions``, ``/summary`` or ``/sites`` with the user's API token.

Prints per kind of request: count, failures, p50/p95/max (as the client saw them), the server's
own p50/p95 per route (from the request log), requests/s, and the server's error lines. A
failure is any status but 200 (302 for a sign-in), a callback that answers no output (Dash's
answer when the callback raised: the page keeps what it shows), or an exception (refused or
reset connection, timeout). Then what the shared cache (Redis) holds and how often a read found
what it asked for. ``--runs 2`` runs the same load again on the same deployment (the first run
starts on cold caches, the second on what the first left). bench/faults.py drives the same users.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import deploy

STAGES = [
    "raw_materials",
    "drug_substance",
    "formulation",
    "fill_finish",
    "qc_testing",
    "cold_chain_logistics",
]
BOTTLENECKS = ["vials_stoppers", "skilled_staff", "single_use", "financing"]
PLATFORMS = ["mrna", "viral_vector", "protein_subunit"]
SIZES = ["micro", "small", "medium", "large"]
METRICS = ["facilities", "companies", "capacity", "available_capacity", "bottleneck_reports"]
FILTER_IDS = ("stage", "bottleneck", "platform", "country", "company-size")
KINDS = ("sign-in", "page", "page-layout", "page-dependencies", "filters", "hover", "profile")
KINDS += ("export-regions", "export-sites", "api-regions", "api-summary", "api-sites")
TASKS = {"page": 1, "filters": 6, "hover": 4, "profile": 2, "export": 1, "api": 2}
CALLBACKS = ("filters", "hover", "profile", "export-regions", "export-sites")
TIMEOUT = 30


@dataclass(frozen=True)
class Sample:
    """One request: kind, when it started (time.time()), how long (ms), whether it failed, why."""

    kind: str
    at: float
    ms: float
    ok: bool
    status: str
    user: int


@dataclass
class Callback:
    """A server callback of the page, as ``/_dash-dependencies`` lists it."""

    output: str
    inputs: list[tuple[str, str]]
    state: list[tuple[str, str]]

    def body(self, values: dict[tuple[str, str], Any], changed: tuple[str, str]) -> dict[str, Any]:
        parts = [p.rsplit(".", 1) for p in self.output.strip(".").split("...")]
        outputs = [{"id": i, "property": p} for i, p in parts]

        def dep(pair: tuple[str, str]) -> dict[str, Any]:
            return {"id": pair[0], "property": pair[1], "value": values.get(pair)}

        return {
            "output": self.output,
            "outputs": outputs if self.output.startswith("..") else outputs[0],
            "inputs": [dep(p) for p in self.inputs],
            "state": [dep(p) for p in self.state],
            "changedPropIds": [f"{changed[0]}.{changed[1]}"],
        }


@dataclass
class Plan:
    """What every user shares: the app's callbacks, the settings, the regions, the accounts; and
    ``check``, which may fail a response that answered 200 (bench/faults.py checks rounds)."""

    url: str
    callbacks: dict[str, Callback]
    settings: list[dict[tuple[str, str], Any]]
    regions: dict[int, list[str]]
    tokens: dict[str, str]
    only: set[str] = field(default_factory=set)
    check: Callable[[str, str, requests.Response], str | None] | None = None


def sign_in(url: str, account: str, session: requests.Session | None = None) -> requests.Session:
    session = session or requests.Session()
    page = session.get(url + "/login", timeout=TIMEOUT).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    form = {"csrf_token": token.group(1) if token else "", "username": account}
    form["password"] = deploy.ACCOUNTS[account][1]
    answer = session.post(url + "/login", data=form, timeout=TIMEOUT, allow_redirects=False)
    if answer.status_code != 302:
        raise RuntimeError(f"sign-in as {account} answered {answer.status_code}")
    return session


def settings(countries: list[str], count: int = 80, seed: int = 7) -> list[dict[tuple[str, str], Any]]:
    """Fixed filter settings (the same every run): what users pick from."""
    pick = random.Random(seed)
    found = []
    for _ in range(count):
        values: dict[tuple[str, str], Any] = {
            ("version", "value"): 2021,
            ("level", "value"): pick.choice([0, 1, 2, 2, 2, 3]),
            ("metric", "value"): pick.choice(METRICS),
            ("scheme", "value"): "quantiles",
            ("classes", "value"): 5,
            ("round", "value"): None,
            ("compare-round", "value"): None,
        }
        chosen = {
            "stage": pick.sample(STAGES, pick.choice([0, 1, 1, 2])),
            "bottleneck": pick.sample(BOTTLENECKS, pick.choice([0, 0, 0, 1])),
            "platform": pick.sample(PLATFORMS, pick.choice([0, 0, 1])),
            "country": pick.sample(countries, pick.choice([0, 0, 1, 2])),
            "company-size": pick.sample(SIZES, pick.choice([0, 0, 0, 1])),
        }
        values.update({(name, "value"): chosen[name] for name in FILTER_IDS})
        found.append(values)
    return found


def plan(url: str, tokens: dict[str, str], data: Path) -> Plan:
    """From the running app: its callbacks, the regions of each level; and the settings."""
    account = next(iter(deploy.ACCOUNTS))
    session = sign_in(url, account)
    wanted = {
        "regions.url": "filters",
        "region-info.children": "hover",
        "region-profile-body.children": "profile",
        "download-regions.data": "export-regions",
        "download-sites.data": "export-sites",
    }
    found = {}
    for dep in session.get(url + "/_dash-dependencies", timeout=60).json():
        first = dep["output"].strip(".").split("...")[0]
        if first in wanted and not dep.get("clientside_function"):
            inputs = [(d["id"], d["property"]) for d in dep["inputs"]]
            found[wanted[first]] = Callback(
                dep["output"], inputs, [(d["id"], d["property"]) for d in dep["state"]]
            )
    if set(wanted.values()) - set(found):
        raise SystemExit(f"the page lacks callbacks: {sorted(set(wanted.values()) - set(found))}")
    regions = {}
    for level in range(4):
        answer = requests.get(
            url + f"/api/v1/regions?version=2021&level={level}",
            headers={"Authorization": f"Bearer {tokens[account]}"},
            timeout=60,
        ).json()["regions"]
        regions[level] = [r["nuts_id"] for r in answer if r.get("facilities")] or [
            r["nuts_id"] for r in answer
        ]
    lines = data.read_text(encoding="utf-8-sig").splitlines()
    column = lines[0].split(",").index("country")
    countries = sorted({row.split(",")[column] for row in lines[1:] if row.count(",") > column})
    return Plan(
        url,
        found,
        settings([c for c in countries if re.fullmatch(r"[A-Z]{2}", c)] or ["DE"]),
        regions,
        tokens,
    )


class User(threading.Thread):
    """One simulated person: signs in, then does what people do until ``stop`` is set."""

    def __init__(
        self, number: int, account: str, plan: Plan, stop: threading.Event, think: tuple[float, float]
    ):
        super().__init__(name=f"user-{number}", daemon=True)
        self.number, self.account, self.plan, self.stop, self.think = number, account, plan, stop, think
        self.random = random.Random(number)
        self.samples: list[Sample] = []
        self.answered: bool | None = None  # whether the last callback answered any output
        self.session = requests.Session()
        self.view = self.random.choice(plan.settings)

    def _do(self, kind: str, call: Callable[[], requests.Response], expect: int = 200) -> None:
        started, clock = time.time(), time.perf_counter()
        try:
            answer = call()
        except requests.RequestException as exc:
            ms = (time.perf_counter() - clock) * 1000
            why = re.sub(r"0x[0-9a-f]+|\(host=.*?\)|HTTPConnectionPool", "", str(exc))[:60]
            self.samples.append(Sample(kind, started, ms, False, f"{type(exc).__name__} {why}", self.number))
            return
        ms = (time.perf_counter() - clock) * 1000
        self.answered = None
        if answer.status_code == 200 and kind in CALLBACKS:
            try:
                self.answered = bool(answer.json().get("response"))
            except ValueError:
                self.answered = False
        problem = None if answer.status_code == expect else str(answer.status_code)
        if problem is None and self.plan.check is not None:
            problem = self.plan.check(kind, self.account, answer)
        self.samples.append(Sample(kind, started, ms, problem is None, problem or "200", self.number))

    def _callback(self, kind: str, values: dict[tuple[str, str], Any], changed: tuple[str, str]) -> None:
        body = self.plan.callbacks[kind].body(values, changed)
        url = self.plan.url + "/_dash-update-component"
        self._do(kind, lambda: self.session.post(url, json=body, timeout=TIMEOUT))
        last = self.samples[-1]
        if last.ok and self.answered is not None and not self.answered:  # a failed callback: 200, no outputs
            self.samples[-1] = Sample(kind, last.at, last.ms, False, "callback failed", self.number)

    def sign_in(self) -> None:
        def go() -> requests.Response:
            page = self.session.get(self.plan.url + "/login", timeout=TIMEOUT).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            form = {"csrf_token": token.group(1) if token else "", "username": self.account}
            form["password"] = deploy.ACCOUNTS[self.account][1]
            return self.session.post(
                self.plan.url + "/login", data=form, timeout=TIMEOUT, allow_redirects=False
            )

        self._do("sign-in", go, expect=302)

    def page(self) -> None:
        for kind, path in (
            ("page", "/"),
            ("page-layout", "/_dash-layout"),
            ("page-dependencies", "/_dash-dependencies"),
        ):
            self._do(kind, lambda path=path: self.session.get(self.plan.url + path, timeout=TIMEOUT))

    def filters(self) -> None:
        self.view = self.random.choice(self.plan.settings)
        self._callback("filters", self.view, (self.random.choice(FILTER_IDS), "value"))

    def hover(self) -> None:
        code = self.random.choice(self.plan.regions[self.view[("level", "value")]])
        values = {**self.view, ("regions", "hoverData"): {"properties": {"id": code}}}
        self._callback("hover", values, ("regions", "hoverData"))

    def profile(self) -> None:
        code = self.random.choice(self.plan.regions[self.random.choice([1, 2, 2, 3])])
        self._callback(
            "profile", {**self.view, ("selected-region", "data"): code}, ("selected-region", "data")
        )

    def export(self) -> None:
        kind = self.random.choice(["export-regions", "export-sites"])
        self._callback(kind, {**self.view, (kind, "n_clicks"): 1}, (kind, "n_clicks"))

    def api(self) -> None:
        query = [("version", "2021")] + [("stage", s) for s in self.view[("stage", "value")]]
        query += [("country", c) for c in self.view[("country", "value")]]
        route = self.random.choice(["regions", "summary", "sites"])
        if route == "regions":
            query.append(("level", str(self.view[("level", "value")])))
        elif route == "sites":
            query.append(("limit", "200"))
        headers = {"Authorization": f"Bearer {self.plan.tokens[self.account]}"}
        url = f"{self.plan.url}/api/v1/{route}"
        self._do(f"api-{route}", lambda: requests.get(url, params=query, headers=headers, timeout=TIMEOUT))

    def run(self) -> None:
        self.sign_in()
        tasks = {name: w for name, w in TASKS.items() if not self.plan.only or name in self.plan.only}
        names, weights = list(tasks), list(tasks.values())
        while not self.stop.is_set():
            getattr(self, self.random.choices(names, weights)[0])()
            if self.think[1] > 0:
                self.stop.wait(self.random.uniform(*self.think))


def run_users(
    plan: Plan, users: int, seconds: float, think: tuple[float, float], stop: threading.Event | None = None
) -> list[Sample]:
    """``users`` users at once (one official in five) for ``seconds`` seconds, or until ``stop``
    is set; every sample, in the order they started."""
    stop = stop or threading.Event()
    accounts = list(deploy.ACCOUNTS)
    crowd = [User(n, accounts[0] if n % 5 == 0 else accounts[1], plan, stop, think) for n in range(users)]
    for user in crowd:
        user.start()
    stop.wait(seconds)
    stop.set()
    for user in crowd:
        user.join(TIMEOUT + 5)
    return sorted((s for user in crowd for s in user.samples), key=lambda s: s.at)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def summary(samples: list[Sample], seconds: float) -> dict[str, dict[str, float]]:
    """Per kind (and 'all'): requests, failures, p50, p95, max (ms); prints the table."""
    rows: dict[str, dict[str, float]] = {}
    print(f"\n{'kind':<18}{'requests':>9}{'failed':>8}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}")
    for kind in [*KINDS, "all"]:
        chosen = [s for s in samples if s.kind == kind or kind == "all"]
        if not chosen:
            continue
        times = [s.ms for s in chosen]
        row = {
            "requests": len(chosen),
            "failed": sum(not s.ok for s in chosen),
            "p50": percentile(times, 0.5),
            "p95": percentile(times, 0.95),
            "max": max(times),
        }
        rows[kind] = row
        print(
            f"{kind:<18}{len(chosen):>9}{row['failed']:>8}{row['p50']:>8.0f}{row['p95']:>8.0f}{row['max']:>8.0f}"
        )
    print(
        f"\n{len(samples) / seconds:.1f} requests/s over {seconds:.0f} s, {rows['all']['failed']:.0f} failed"
    )
    reasons: dict[tuple[str, str], int] = {}
    for s in samples:
        if not s.ok:
            reasons[(s.kind, s.status)] = reasons.get((s.kind, s.status), 0) + 1
    for (kind, why), count in sorted(reasons.items()):
        print(f"  failed: {kind}: {why} x{count}")
    return rows


def server_times(logs: list[Path], since: float) -> None:
    """Print the server's own durations per route (request log) after ``since``, and its errors."""
    found: dict[str, list[float]] = {}
    errors = []
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if not line.startswith('{"time"'):
                continue
            entry = json.loads(line)
            if dt.datetime.fromisoformat(entry["time"]).timestamp() < since:
                continue
            if entry.get("level") == "error":
                errors.append(line)
            if entry.get("event") == "request":
                route = entry["route"] + (
                    f" {entry['callback'].split('.')[0]}" if "callback" in entry else ""
                )
                found.setdefault(route, []).append(float(entry["duration_ms"]))
    print(f"\nserver time per route (request log), ms:\n{'route':<46}{'count':>7}{'p50':>8}{'p95':>8}")
    for route, values in sorted(found.items(), key=lambda item: -len(item[1])):
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        print(f"{route[:45]:<46}{len(values):>7}{p50:>8.1f}{p95:>8.1f}")
    print(f"server error lines: {len(errors)}")
    for line in errors[:5]:
        print("  " + line[:300])


def think_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    return float(low), float(high or low)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", default="0", help="seconds between a user's actions: 0, or LOW-HIGH")
    parser.add_argument(
        "--only", nargs="*", default=[], choices=list(TASKS), help="only these kinds of action"
    )
    parser.add_argument(
        "--sites", type=int, default=0, help="a generated file of this many sites (0: the sample)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--runs", type=int, default=1, help="runs one after the other on the same deployment")
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    with deploy.deployment(args.postgres_url, args.sites) as setup:
        instance = setup.start("a", args.workers, args.threads)
        took = setup.wait_ready(instance)
        print(f"{args.workers} workers x {args.threads} threads ready in {took:.1f} s", file=sys.stderr)
        found = plan(instance.url, setup.tokens, setup.data)
        found.only = set(args.only)
        time.sleep(5)  # the workers' background warm-up (profiles, search) ends
        what = f", only {' '.join(args.only)}" if args.only else ""
        print(f"{args.users} users for {args.seconds:.0f} s, think {args.think} s{what}", file=sys.stderr)
        for run in range(1, args.runs + 1):
            if args.runs > 1:
                print(f"\n=== run {run} of {args.runs} (same deployment, caches as earlier runs left them)")
            since = time.time()
            samples = run_users(found, args.users, args.seconds, think_range(args.think))
            summary(samples, args.seconds)
            server_times([instance.log], since)
            shared_cache(setup.redis.url)
    return 0


def shared_cache(url: str) -> None:
    """What the deployment's Redis holds and how often it had what was asked for (so far)."""
    client = redis.Redis.from_url(url)
    info = client.info("stats")
    releases = sum(1 for _ in client.scan_iter("atlas:v1:release:*", count=1000))
    hits, misses = int(info["keyspace_hits"]), int(info["keyspace_misses"])
    print(
        f"shared cache: {releases} releases in Redis, {client.info('memory')['used_memory_human']}; "
        f"reads found {hits} / missed {misses} ({hits / max(1, hits + misses):.0%} found)"
    )


if __name__ == "__main__":
    sys.exit(main())

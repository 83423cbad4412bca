"""Region profiles and the search box: server time in-process, and what the browser waits for.

Usage, from the repository root::

    NUTS_DATA_DIR=/path/to/nuts python bench/regions.py [--only sample|100k] [--cold N]
                                                        [--give-up S] [--no-browser] [--verbose]

Datasets: ``sample`` (data/sample_facilities.csv, 350 sites, the demo: the browser picks the
official role on the role switcher) and ``100k`` (generate(5000, 100000, 1) written to a temporary
CSV; the server gets ATLAS_SECRET_KEY and ATLAS_USERS with one official account and the browser
signs in through the sign-in form). Default: both. The server helpers, the browser, the sign-in
and the settling rule come from bench/map_updates.py.

Server time, in-process (no browser, no HTTP), per dataset on a fresh ``AtlasData(path)``:

* profile cold: ``profile.region_profile`` (NUTS 2021, no filters) for the first ``--cold`` regions
  of REGIONS (default 6: two per level 1-3), official and cluster, each in the state
  ``AtlasData.warm()`` leaves (shapes, places, site index, default release of each role group):
  before each trial the release cache is emptied and those two default releases rebuilt (not timed).
* warm_profiles: ``profile.warm_profiles`` per role group from that state (what app._warm_more
  runs in the background after start), then profile warm: every region of REGIONS (21, levels 1-3),
  both roles, 3 passes.
* search: ``finding.index`` build per role group (the first build, then rebuilds), and
  ``finding.options`` per keystroke: every prefix of each of QUERIES (15 queries, 104 keystrokes),
  official and cluster, 3 passes, on the warm index.

In the browser: the app (map_updates.atlas_app: the page at NUTS level 3) in a subprocess on a free
port with its own temporary SQLite store, timed per callback by map_updates.TimingMiddleware; a
fresh headless Chromium signed in as official. The background warm-up that create_app starts
(thread "warm-profiles": default profiles and search index of each role group) is waited for: the
server joins that thread and says when it ended (GET /__bench/warm). The one page load made while
it runs is reported on its own. Then, in this order:

* first map: navigation start until the level-3 map is drawn and the page settled, as
  map_updates.load_page measures it, after ``Network.clearBrowserCache`` (4 loads, warm server);
  comparable with map_updates.py's "warm srv" first map.
* search keystroke: one key typed (selenium) into the search box's input until the
  ``search.options`` answer is read and the page settled (map_updates' rule: responses read, then
  300 ms without DOM mutation, long task or request; the time is the end of the first frame after
  the last activity); timed from the key's ``keydown`` event. Every keystroke of QUERIES, one query
  after the other (the box cleared between them), no profile open.
* profile open: ``dash_clientside.set_props('selected-region', {data: CODE})`` (what a click on
  the map or a chosen search hit does) until ``#region-profile-body h2`` holds "(CODE)" and the page
  settled. REGIONS (or ``--regions``) once each; the first open in a page is reported apart (it
  loads plotly.js for the profile's charts); "site rows" = the profile's site list (at most
  profile.SITE_LIMIT).
* URL restore: a fresh tab (same browser, warm cache) opening URL_RESTORE until the map callback
  and the profile callback are answered, the level-3 geometry loaded, the Leaflet canvas painted
  and the profile shows "(DE212)", page settled; timed from the tab's navigation start. 5 tabs.
* server: the callbacks' WSGI time (map_updates.TimingMiddleware) during each browser part.

Profile opens and URL restores may wait up to 120 s each for the page to settle (a main-thread long
task also holds up the check); each part stops after a trial slower than ``--give-up`` seconds
(default 10) or one that did not settle, and says how many trials it skipped.

Targets (the issue's): profile drawn < 300 ms, a search answer < 50 ms server time, first map
< 1.0 s. About 8 minutes for both datasets on a 2-core machine (100k: the cold profiles, ~6-10 s
each, the app's start-up with a fresh store and its warm-up take most of it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import map_updates as mu  # noqa: E402

VERSION = 2021
ROLES = ("official", "cluster")
#: Regions of NUTS 2021 levels 1-3, a country's chain each (level 1, 2, 3).
REGIONS = (
    *("DE2", "DE21", "DE212"),
    *("FR1", "FR10", "FR101"),
    *("PL7", "PL71", "PL711"),
    *("ITC", "ITC4", "ITC4C"),
    *("ES5", "ES51", "ES511"),
    *("NL4", "NL41", "NL414"),
    *("AT1", "AT13", "AT130"),
)
#: Typed one key at a time; company names of both datasets start with "Sample <word>".
QUERIES = (
    "lodz",
    "munchen",
    "bayern",
    "île",
    "koln",
    "paris",
    "wien",
    "milano",
    "barcelona",
    "noord-brabant",
    "krakow",
    "munich",  # fuzzy: München
    "de212",
    "sample zephyr",
    "sample aurora",
)
URL_RESTORE = "/?level=3&stage=fill_finish&region=DE212"
URL_REGION = "DE212"
WARM_PASSES = 3
SEARCH_PASSES = 3
INDEX_BUILDS = 3  # per role group, the first included
FIRST_MAPS = 4
URL_TRIALS = 5
WARM_THREAD = "warm-profiles"  # the thread app.create_app starts (app._warm_more)
WARM_TIMEOUT_S = 600
#: How long a profile open or URL restore may take to settle (a long task blocks the check).
SLOW_TIMEOUT_MS = 120_000
TARGET_PROFILE_MS = 300
TARGET_SEARCH_SERVER_MS = 50
TARGET_FIRST_MAP_MS = 1000

# ---------------------------------------------------------------------------------------------
# In-page scripts (on top of map_updates.INIT_JS)
# ---------------------------------------------------------------------------------------------

_ANCHOR = "  if (ready && opt.geo) {"
if _ANCHOR not in mu.WAIT_JS:
    raise RuntimeError("map_updates.WAIT_JS changed: update regions.WAIT_JS")
#: map_updates.WAIT_JS with two more conditions: every output of ``opt.also`` answered, and the
#: element ``opt.text[0]`` holding the text ``opt.text[1]``.
WAIT_JS = mu.WAIT_JS.replace(
    _ANCHOR,
    """  if (ready && opt.also) {
    ready = opt.also.every((o) => fetches.some((f) => f.end !== null && f.output.indexOf(o) >= 0));
  }
  if (ready && opt.text) {
    const el = document.querySelector(opt.text[0]);
    ready = !!el && el.textContent.indexOf(opt.text[1]) >= 0;
  }
"""
    + _ANCHOR,
    1,
)

SET_DATA_JS = r"""
const t0 = performance.now();
window.dash_clientside.set_props(arguments[0], {data: arguments[1]});
return t0;
"""

#: Notes the time of the first keydown / input event after ``__bench.key`` was set to null.
KEY_JS = r"""
const B = window.__bench;
if (!B.keyListener) {
  B.keyListener = true;
  const note = (e) => { if (B.key === null) { B.key = e.timeStamp; } };
  document.addEventListener('keydown', note, true);
  document.addEventListener('input', note, true);
}
B.key = null;
return performance.now();
"""

LONGTASKS_JS = (
    "return window.__bench.longtasks.filter((l) => l[0] >= arguments[0])"
    ".map((l) => [l[0] - arguments[0], l[1]]);"
)
PROFILE_STATE_JS = r"""
const panel = document.getElementById('region-profile');
const title = document.querySelector('#region-profile-body h2');
return (panel && panel.hidden ? 'profile hidden; ' : '') + 'title ' + (title ? title.textContent : '(none)');
"""
ROWS_JS = "return document.querySelectorAll('#region-profile-body button[id*=\"site-open\"]').length;"
SHOWN_JS = "return document.querySelectorAll('.dash-dropdown-options .dash-dropdown-option').length;"
SEARCH_INPUT = "input.dash-dropdown-search"  # the Dash 4 dropdown's search field (in a popover)

# ---------------------------------------------------------------------------------------------
# Server side (runs in a subprocess: `regions.py --serve DATA PORT`)
# ---------------------------------------------------------------------------------------------


class WarmStatus:
    """GET /__bench/warm answers whether the app's background warm-up thread still runs, and how
    many seconds after READY it ended (a watcher thread joins it)."""

    def __init__(self, app) -> None:
        self.app = app
        self.thread = next((t for t in threading.enumerate() if t.name == WARM_THREAD), None)
        self.ended_s: float | None = None

    def watch(self, ready: float) -> None:
        def join() -> None:
            if self.thread is not None:
                self.thread.join()
            self.ended_s = time.perf_counter() - ready

        threading.Thread(target=join, name="bench-watch", daemon=True).start()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/__bench/warm":
            return self.app(environ, start_response)
        body = json.dumps({"found": self.thread is not None, "ended_s": self.ended_s}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def serve(data_path: str, port: int) -> None:
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    start = time.perf_counter()
    app = mu.atlas_app(data_path)
    status = WarmStatus(mu.TimingMiddleware(app.server.wsgi_app))
    app.server.wsgi_app = status
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    status.watch(time.perf_counter())
    print(f"READY {time.perf_counter() - start:.2f}", flush=True)
    server.serve_forever()


# ---------------------------------------------------------------------------------------------
# Driver side
# ---------------------------------------------------------------------------------------------


class Server(mu.Server):
    """map_updates.Server running this script's --serve (adds /__bench/warm)."""

    def __init__(self, data_path: Path, env: dict[str, str]) -> None:
        self.port = mu.free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(data_path), str(self.port)],
            cwd=REPO,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.stop()
            raise RuntimeError(f"server did not start: {line!r}")
        self.startup_s = float(line.split()[1])

    def warm_status(self) -> dict[str, object]:
        with urllib.request.urlopen(self.url + "__bench/warm", timeout=30) as response:
            return json.loads(response.read())

    def wait_warm(self) -> float:
        """Seconds from READY until the background warm-up thread ended (waits for it)."""
        began = time.perf_counter()
        while (ended := self.warm_status()["ended_s"]) is None:
            if time.perf_counter() - began > WARM_TIMEOUT_S:
                raise RuntimeError(f"the warm-up still runs after {WARM_TIMEOUT_S} s")
            time.sleep(0.2)
        return float(ended)


def wait(driver, t0: float, **options) -> dict[str, object]:
    """map_updates.wait with this script's WAIT_JS; a page that does not settle in time gives
    a row with ``timeout`` set (and no ``ms``) when ``options['soft']``, else raises."""
    soft = options.pop("soft", False)
    options = {"quiet": mu.QUIET_MS, "timeout": mu.TIMEOUT_MS, **options}
    result = driver.execute_async_script(WAIT_JS, t0, options)
    if result.get("timeout"):
        if soft:
            return {"timeout": True, "ms": None, "detail": result}
        raise RuntimeError(f"page did not settle: {result}")
    return result


def open_profile(driver, code: str) -> dict[str, object]:
    t0 = driver.execute_script(SET_DATA_JS, "selected-region", code)
    title = ["#region-profile-body h2", f"({code})"]
    row = wait(
        driver, t0, minFetches=1, output="region-profile-body", text=title, timeout=SLOW_TIMEOUT_MS, soft=True
    )
    row.update(code=code, lts=driver.execute_script(LONGTASKS_JS, t0), rows=driver.execute_script(ROWS_JS))
    if row["ms"] is None:
        row["shown"] = driver.execute_script(PROFILE_STATE_JS)
    return row


def trials(
    name: str, run: Callable[[int], dict[str, object]], n: int, give_up_ms: float, verbose: bool
) -> tuple[list[dict[str, object]], int]:
    """``run(i)`` for i < n, stopping after a trial that did not settle or took over
    ``give_up_ms``; the rows and how many trials were skipped."""
    rows: list[dict[str, object]] = []
    for i in range(n):
        row = run(i)
        rows.append(row)
        if verbose:
            print(f"  {name} {details(row)}", flush=True)
        if row["ms"] is None or row["ms"] > give_up_ms:
            took = "did not settle" if row["ms"] is None else f"took {row['ms'] / 1000:.1f} s"
            print(f"  {name}: {took}; skipping the remaining {n - i - 1} trials of this part", flush=True)
            return rows, n - i - 1
    return rows, 0


def type_queries(driver, verbose: bool) -> list[dict[str, object]]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.ID, "search").click()
    box = WebDriverWait(driver, 10).until(lambda d: d.find_element(By.CSS_SELECTOR, SEARCH_INPUT))
    rows = []
    for query in QUERIES:
        t0 = driver.execute_script(KEY_JS)
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.BACKSPACE)  # an empty search: the callback keeps the options
        time.sleep(0.05)
        wait(driver, t0)
        for n in range(1, len(query) + 1):
            before = driver.execute_script(KEY_JS)
            box.send_keys(query[n - 1])
            t0 = driver.execute_script("return window.__bench.key;")
            keyed = t0 is not None
            row = wait(driver, t0 if keyed else before, minFetches=1, output="search.options")
            typed = box.get_attribute("value")
            if typed != query[:n]:
                raise RuntimeError(f"the search box holds {typed!r}, not {query[:n]!r}")
            row.update(query=query[:n], shown=driver.execute_script(SHOWN_JS), keyed=keyed)
            rows.append(row)
            if verbose:
                print(f"  search {query[:n]!r:18} {row['ms']:7.0f} ms  {row['shown']:2d} options", flush=True)
        if not rows[-1]["shown"]:
            print(f"  note: no options shown for {query!r}", flush=True)
    return rows


def restore_url(driver, url: str) -> dict[str, object]:
    original = driver.current_window_handle
    driver.switch_to.new_window("tab")
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": mu.INIT_JS})
        driver.get(url)
        row = wait(
            driver,
            0,
            also=["regions.url", "region-profile-body"],
            geo=f"/atlas/geo/regions-{VERSION}-{mu.LEVEL}.json",
            canvas=True,
            text=["#region-profile-body h2", f"({URL_REGION})"],
            timeout=SLOW_TIMEOUT_MS,
            soft=True,
        )
        row.update(lts=driver.execute_script(LONGTASKS_JS, 0), rows=driver.execute_script(ROWS_JS))
        return row
    finally:
        driver.close()
        driver.switch_to.window(original)


def details(row: dict[str, object]) -> str:
    """One trial: time, long tasks (start+duration) and each callback's request (start-end),
    ms after t0; site rows in the profile."""
    if row["ms"] is None:
        longest = max((d for _a, d in row.get("lts", [])), default=0)
        return (
            f"{row.get('code', ''):6} did not settle within {SLOW_TIMEOUT_MS / 1000:.0f} s (longest long "
            f"task {longest / 1000:.1f} s; {row.get('shown', '')}; {row['detail']})"
        )
    calls = ", ".join(f"{callback(o)} {a:.0f}-{b:.0f}" for o, a, b in row["fetches"])
    tasks = " ".join(f"{a:.0f}+{d:.0f}" for a, d in row.get("lts", []))
    sites = f"  {row['rows']} site rows" if "rows" in row else ""
    head = f"{row.get('code', ''):6} {row['ms']:7.0f} ms{sites}"
    return f"{head}  long tasks {row['longtaskMs']:5.0f} ms {tasks} [{calls}]"


def browser_side(
    data_path: Path,
    label: str,
    accounts: mu.Accounts | None,
    folder: Path,
    give_up_ms: float,
    regions: tuple[str, ...],
    verbose: bool,
) -> dict[str, object]:
    env = {"ATLAS_DATABASE_URL": f"sqlite:///{folder / f'store-{label}.sqlite'}"}
    server = Server(data_path, {**env, **(accounts.env if accounts else {})})
    driver = mu.browser()
    out: dict[str, object] = {"startup_s": server.startup_s}
    try:
        mu.sign_in(driver, server.url, accounts)
        out["during_warmup"] = mu.load_page(driver, server.url, "atlas")
        out["during_warmup"]["warming"] = server.warm_status()["ended_s"] is None  # type: ignore[index]
        if not server.warm_status()["found"]:
            print(
                f"  note: thread {WARM_THREAD!r} not found (over already, or renamed in app.py)", flush=True
            )
        out["warmup_s"] = server.wait_warm()
        print(f"  {label}: background warm-up ended {out['warmup_s']:.1f} s after start-up", flush=True)
        firsts = []
        for _ in range(FIRST_MAPS):
            driver.execute_cdp_cmd("Network.clearBrowserCache", {})
            firsts.append(mu.load_page(driver, server.url, "atlas"))
            if verbose:
                print(f"  first map {details(firsts[-1])}", flush=True)
        out["first_maps"] = firsts
        server.timings()
        out["search"] = type_queries(driver, verbose)  # on a page without a profile open
        out["search_server"] = server.timings()
        driver.set_script_timeout(SLOW_TIMEOUT_MS / 1000 + 30)
        out["profiles"], out["profiles_skipped"] = trials(
            "profile", lambda i: open_profile(driver, regions[i]), len(regions), give_up_ms, verbose
        )
        out["profiles_server"] = server.timings()
        restore = server.url + URL_RESTORE.removeprefix("/")
        out["restores"], out["restores_skipped"] = trials(
            "restore", lambda _i: restore_url(driver, restore), URL_TRIALS, give_up_ms, verbose
        )
        out["restores_server"] = server.timings()
        return out
    finally:
        driver.quit()
        server.stop()


# ---------------------------------------------------------------------------------------------
# In-process server time
# ---------------------------------------------------------------------------------------------


def timed_ms(call: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return (time.perf_counter() - start) * 1000, result


def server_side(data_path: Path, label: str, cold_regions: int, verbose: bool) -> dict[str, object]:
    from dashboard import finding, profile
    from dashboard.data import AtlasData
    from geodata.aggregate import Filters

    start = time.perf_counter()
    data = AtlasData(data_path)
    data.warm()
    print(f"  {label}: AtlasData + warm() {time.perf_counter() - start:.1f} s", flush=True)
    missing = [c for c in REGIONS if c not in data.level_codes(VERSION, profile.level_of(c) or 0)]
    if missing:
        raise RuntimeError(f"not NUTS {VERSION} regions: {missing}")

    no_filters = Filters()

    def after_warm() -> None:
        """Back to the releases AtlasData.warm() leaves: the default view of each role group."""
        data._releases.cache_clear()  # the per-filter-setting releases (an lru_cache)
        for role in ROLES:
            data.release(VERSION, no_filters, role)

    out: dict[str, object] = {}
    for role in ROLES:
        out[f"cold {role}"] = []
        out[f"warm {role}"] = []
    for code in REGIONS[:cold_regions]:
        for role in ROLES:
            after_warm()
            ms, found = timed_ms(
                lambda c=code, r=role: profile.region_profile(data, VERSION, c, no_filters, r)
            )
            assert found is not None
            out[f"cold {role}"].append(ms)  # type: ignore[attr-defined]
            if verbose:
                print(f"  cold {role:8} {code:6} {ms:8.1f} ms", flush=True)
    after_warm()
    for role in ROLES:
        out[f"warm_profiles {role}"], _ = timed_ms(lambda r=role: profile.warm_profiles(data, VERSION, r))
    for _ in range(WARM_PASSES):
        for code in REGIONS:
            for role in ROLES:
                ms, _ = timed_ms(
                    lambda c=code, r=role: profile.region_profile(data, VERSION, c, no_filters, r)
                )
                out[f"warm {role}"].append(ms)  # type: ignore[attr-defined]
    for role in ROLES:
        builds = []
        for _ in range(INDEX_BUILDS):
            finding._indexes.get(data, {}).pop(role, None)  # the built index of the role group
            ms, _ = timed_ms(lambda r=role: finding.index(data, r))
            builds.append(ms)
        out[f"index {role}"] = builds
    for role in ROLES:
        keys = []
        for _ in range(SEARCH_PASSES):
            for query in QUERIES:
                for n in range(1, len(query) + 1):
                    ms, _ = timed_ms(lambda q=query[:n], r=role: finding.options(data, r, q, VERSION))
                    keys.append(ms)
        out[f"search {role}"] = keys
        if verbose:
            for query in QUERIES:
                hits = finding.options(data, role, query, VERSION)
                print(f"  {role:8} {query!r:16} {hits[0]['label'] if hits else '(nothing)'}", flush=True)
    return out


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def stats(values: list[float]) -> str:
    if not values:
        return f"{0:4d} {'-':>8} {'-':>8} {'-':>8}"
    return f"{len(values):4d} {mu.pct(values, 50):8.1f} {mu.pct(values, 95):8.1f} {max(values):8.1f}"


def callback(output: str) -> str:
    for key, name in (
        ("region-profile-body", "profile"),
        ("search.options", "search"),
        ("url.search", "address"),
    ):
        if key in output:
            return name
    name = mu.callback_name(output)
    return name or output.strip(".").split(".")[0]  # a multi-output callback: its first output


def report(results: dict[str, dict[str, dict[str, object]]]) -> None:
    header = f"{'dataset':8} {'what':38} {'n':>4} {'p50':>8} {'p95':>8} {'max':>8}"
    print()
    print("Server time in-process, ms (NUTS 2021, no filters)")
    print(header)
    print("-" * len(header))
    for label, result in results.items():
        inproc = result.get("server")
        if not inproc:
            continue
        for role in ROLES:
            print(f"{label:8} {'profile cold, ' + role:38} {stats(inproc[f'cold {role}'])}")
        for role in ROLES:
            print(f"{label:8} {'profile warm, ' + role:38} {stats(inproc[f'warm {role}'])}")
        for role in ROLES:
            print(
                f"{label:8} {'warm_profiles (once), ' + role:38} {stats([inproc[f'warm_profiles {role}']])}"
            )
        for role in ROLES:
            builds = inproc[f"index {role}"]
            print(f"{label:8} {'search index build (first), ' + role:38} {stats(builds[:1])}")
            print(f"{label:8} {'search index rebuild, ' + role:38} {stats(builds[1:])}")
        for role in ROLES:
            print(f"{label:8} {'search keystroke (options), ' + role:38} {stats(inproc[f'search {role}'])}")
    browsed = {label: r["browser"] for label, r in results.items() if r.get("browser")}
    if not browsed:
        return
    print()
    print("In the browser, ms (official; until drawn and the page settled, see the module doc)")
    print(f"{header} {'longtask p50':>12}")
    print("-" * (len(header) + 13))

    def line(label: str, what: str, rows: list[dict[str, object]], note: str = "") -> None:
        done = [r for r in rows if r["ms"] is not None]
        longtasks = mu.pct([r["longtaskMs"] for r in done], 50) if done else float("nan")
        if any("rows" in r for r in done):
            note = f"  site rows {min(r['rows'] for r in done)}-{max(r['rows'] for r in done)}" + note
        if len(done) < len(rows):
            note += f"  {len(rows) - len(done)} did not settle in {SLOW_TIMEOUT_MS / 1000:.0f} s"
        print(f"{label:8} {what:38} {stats([r['ms'] for r in done])} {longtasks:12.0f}{note}")

    for label, b in browsed.items():
        during = b["during_warmup"]
        line(
            label,
            "first map during warm-up",
            [during],
            "  (warm-up " + ("still running after it)" if during["warming"] else "over by its end)"),
        )
        line(label, "first map (empty cache, warm server)", b["first_maps"])
        line(label, "search keystroke -> options", b["search"])
        skipped = f"  ({b['profiles_skipped']} regions skipped)" if b["profiles_skipped"] else ""
        line(label, "profile open, first in the page", b["profiles"][:1])
        line(label, "profile open, the others", b["profiles"][1:], skipped)
        skipped = f"  ({b['restores_skipped']} tabs skipped)" if b["restores_skipped"] else ""
        line(label, "URL restore, first tab", b["restores"][:1])
        line(label, "URL restore, the other tabs", b["restores"][1:], skipped)
        unkeyed = sum(not r["keyed"] for r in b["search"])
        if unkeyed:
            print(f"{label:8} ({unkeyed} keystrokes without a key event: timed from before send_keys)")
    print()
    print("Server time per callback during the browser parts, ms (WSGI entry -> last byte)")
    header = f"{'dataset':8} {'part':10} {'callback':10} {'n':>4} {'p50':>8} {'p95':>8} {'max':>8}"
    print(header)
    print("-" * len(header))
    for label, b in browsed.items():
        for part, key, wanted in (
            ("profiles", "profiles_server", ("profile",)),
            ("search", "search_server", ("search",)),
            ("restore", "restores_server", ("map", "profile")),
        ):
            for name in wanted:
                ms = [r["ms"] for r in b[key] if callback(r["output"]) == name and r["status"] == "200 OK"]
                print(f"{label:8} {part:10} {name:10} {stats(ms)}")
                if part == "restore" and ms:
                    print(f"{label:8} {part:10} {name + ' 1st':10} {stats(ms[:1])}")
    print()
    print("Background warm-up (server READY -> thread 'warm-profiles' ended) and start-up, s:")
    for label, b in browsed.items():
        print(f"  {label}: start-up {b['startup_s']:.1f} s, warm-up {b['warmup_s']:.1f} s")
    print()
    print("Targets:")
    for label, b in browsed.items():
        # the opens after the first in the page (which also loads plotly.js), else the first;
        # one that did not settle counts as the timeout
        opened = b["profiles"][1:] or b["profiles"]
        profile_p95 = mu.pct([SLOW_TIMEOUT_MS if r["ms"] is None else r["ms"] for r in opened], 95)
        first_p50 = mu.pct([r["ms"] for r in b["first_maps"]], 50)
        search_server = [r["ms"] for r in b["search_server"] if callback(r["output"]) == "search"]
        search_p95 = mu.pct(search_server, 95)
        print(
            f"  {label}: profile drawn p95 {profile_p95:.0f} ms over {len(opened)} (< {TARGET_PROFILE_MS}: "
            f"{verdict(profile_p95, TARGET_PROFILE_MS)}); search answer server p95 {search_p95:.1f} ms "
            f"(< {TARGET_SEARCH_SERVER_MS}: {verdict(search_p95, TARGET_SEARCH_SERVER_MS)}); first map p50 "
            f"{first_p50:.0f} ms (< {TARGET_FIRST_MAP_MS}: {verdict(first_p50, TARGET_FIRST_MAP_MS)})"
        )


def verdict(value: float, target: float) -> str:
    return "met" if value < target else "NOT met"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", nargs=2, metavar=("DATA", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["sample", "100k"], help="one dataset (default: both)")
    parser.add_argument(
        "--cold",
        type=int,
        default=6,
        metavar="N",
        help=f"cold profiles of the first N of REGIONS (max {len(REGIONS)})",
    )
    parser.add_argument(
        "--give-up",
        type=float,
        default=10,
        metavar="S",
        help="end the profile opens / URL restores after a trial slower than S seconds (default 10)",
    )
    parser.add_argument(
        "--regions",
        nargs="+",
        type=str.upper,
        default=REGIONS,
        metavar="CODE",
        help="the regions whose profiles the browser opens (default: REGIONS)",
    )
    parser.add_argument("--no-browser", action="store_true", help="in-process server time only")
    parser.add_argument("--verbose", action="store_true", help="print every trial")
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return 0
    if not os.environ.get("NUTS_DATA_DIR"):
        print("warning: NUTS_DATA_DIR is not set; the NUTS files must be in the user cache", file=sys.stderr)
    began = time.perf_counter()
    labels = [args.only] if args.only else ["sample", "100k"]
    results: dict[str, dict[str, dict[str, object]]] = {}
    with tempfile.TemporaryDirectory(prefix="atlas-bench-regions-") as tmp:
        folder = Path(tmp)
        for label in labels:
            start = time.perf_counter()
            if label == "sample":
                data_path, accounts = REPO / "data" / "sample_facilities.csv", None
            else:
                data_path, accounts = mu.make_large_csv(folder), mu.Accounts(folder)
            results[label] = {"server": server_side(data_path, label, args.cold, args.verbose)}
            if not args.no_browser:
                results[label]["browser"] = browser_side(
                    data_path, label, accounts, folder, args.give_up * 1000, tuple(args.regions), args.verbose
                )
            print(f"{label}: done in {time.perf_counter() - start:.0f} s", flush=True)
    report(results)
    print(f"\nRun time {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

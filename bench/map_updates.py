"""Browser benchmark of map updates: the atlas (dash-leaflet, geometry once) vs a full-figure rebuild.

Usage, from the repository root::

    NUTS_DATA_DIR=/path/to/nuts python bench/map_updates.py [--only NAME ...] [--verbose]

Scenarios (each with its own server process and a fresh headless Chromium):

* ``atlas-sample``   the app on data/sample_facilities.csv (350 sites), the demo: the browser
  first chooses the official role on the role switcher
* ``atlas-100k``     the app on generate(5000, 100000, 1) written to a temporary CSV; the server
  gets ATLAS_SECRET_KEY and ATLAS_USERS (a temporary users file with one official account) and
  the browser first signs in with it through the sign-in form
* ``atlas-100k+sites`` the same server and page, after switching on the site layer ("show-sites")
* ``naive-sample`` / ``naive-100k``  a minimal Dash app defined here that rebuilds a
  plotly.express.choropleth_map figure (map_style="white-bg", the same NUTS 2021 level-3 shapes,
  values from the same cached release the atlas shows an official) on every filter change

All run at NUTS level 3: the bench server serves the app's page at level 3 (``page(level=3)``: the
"level" radio and the first map sent with the page), so the first map is the level-3 map. Signing in
lands on /healthz, not on the map, so that the first map load is still that of a cold server.

What is measured (all in the browser with performance.now(), except "server"):

* update: from just before ``dash_clientside.set_props(<filter>, {value})`` (what a user's
  change of the control does) until the page has settled: every ``_dash-update-component``
  request started since the change has its response body read, and then no DOM mutation, no
  long task (PerformanceObserver 'longtask') and no further request for 300 ms (for plotly maps:
  no MapLibre 'render' event and the map reports loaded). The reported time is the end of the
  first animation frame that starts after the last such activity (rAF + MessageChannel
  "after frame"), so canvas redraws scheduled by the update are included.
* long tasks: summed duration of main-thread long tasks (>50 ms) during the update.
* bytes: resource timing of the update's ``_dash-update-component`` responses, summed per
  update: encodedBodySize (on the wire, compressed: the app runs with compress=True) and
  decodedBodySize (JSON after decompression).
* first map: from navigation start (performance.timeOrigin) until the page settled (as above)
  with the map callback answered, the region geometry /atlas/geo/regions-2021-3.json loaded and
  the Leaflet canvas holding painted pixels (plotly: the MapLibre map loaded). Measured with a
  warm server (one throw-away load first) and an empty browser cache; the cold-server first load
  is reported too.
* server: a WSGI middleware around the Flask app times each ``_dash-update-component`` request
  from entry to the last response byte produced (callback + JSON serialisation + compression).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,900",
    # plotly's choropleth_map draws with WebGL (MapLibre): allow the software renderer.
    "--enable-unsafe-swiftshader",
]
LEVEL = 3
#: The official account of the bench servers on other data than the sample (the demo needs none).
BENCH_USER = "bench"
SIGNED_IN_LANDING = "/healthz"  # an open page without data
QUIET_MS = 300
TIMEOUT_MS = 60_000

#: The filter changes, applied one after the other (component id, new value); ends at the defaults.
CHANGES: list[tuple[str, object]] = [
    ("stage", ["drug_substance"]),
    ("metric", "capacity"),
    ("bottleneck", ["single_use"]),
    ("stage", ["fill_finish"]),
    ("metric", "companies"),
    ("bottleneck", ["single_use", "vials_stoppers"]),
    ("stage", ["fill_finish", "formulation"]),
    ("metric", "available_capacity"),
    ("platform", ["mrna"]),
    ("country", ["DE", "FR", "IT"]),
    ("metric", "bottleneck_reports"),
    ("bottleneck", []),
    ("company-size", ["large", "medium"]),
    ("stage", ["qc_testing"]),
    ("metric", "specialisation"),
    ("country", []),
    ("platform", []),
    ("stage", []),
    ("metric", "facilities"),
    ("company-size", []),
]

# ---------------------------------------------------------------------------------------------
# In-page instrumentation (installed before any page script through CDP)
# ---------------------------------------------------------------------------------------------

INIT_JS = r"""
(() => {
  if (window.__bench) { return; }
  const B = window.__bench = {last: 0, longtasks: [], frames: [], fetches: [], pending: 0, maps: []};
  const bump = (t) => { if (t > B.last) { B.last = t; } };
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        B.longtasks.push([e.startTime, e.duration]); bump(e.startTime + e.duration);
      }
    }).observe({type: 'longtask', buffered: true});
  } catch (e) { B.noLongtask = String(e); }
  new MutationObserver(() => bump(performance.now())).observe(
    document, {subtree: true, childList: true, attributes: true, characterData: true});
  const origFetch = window.fetch;
  window.fetch = function (input, init) {
    const url = typeof input === 'string' ? input : ((input && input.url) || '');
    const p = origFetch.apply(this, arguments);
    if (url.indexOf('_dash-update-component') < 0) { return p; }
    let output = '';
    try { output = JSON.parse(init.body).output; } catch (e) { output = '?'; }
    const rec = {output: output, start: performance.now(), end: null};
    B.fetches.push(rec); B.pending++;
    p.then((r) => r.clone().arrayBuffer()).catch(() => null).then(() => {
      rec.end = performance.now(); B.pending--; bump(rec.end);
    });
    return p;
  };
  const tick = () => {
    const t = performance.now();
    const ch = new MessageChannel();  // runs after this frame's rAF callbacks and rendering
    ch.port1.onmessage = () => {
      B.frames.push([t, performance.now()]);
      if (B.frames.length > 20000) { B.frames.splice(0, 10000); }
    };
    ch.port2.postMessage(0);
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  B.glMaps = () => {
    const out = [];
    for (const gd of document.querySelectorAll('.js-plotly-plot')) {
      const sub = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
      const m = sub && sub.map;
      if (!m) { continue; }
      if (B.maps.indexOf(m) < 0) { B.maps.push(m); m.on('render', () => bump(performance.now())); }
      out.push(m);
    }
    return out;
  };
})();
"""

#: arguments: t0, options, callback. Resolves once the page settled after t0 (see module doc).
WAIT_JS = r"""
const [t0, opt, done] = arguments;
const B = window.__bench;
const geoEnd = () => {
  if (!opt.geo) { return 0; }
  const e = performance.getEntriesByType('resource').filter((r) => r.name.indexOf(opt.geo) >= 0);
  return e.length ? e[e.length - 1].responseEnd : null;
};
const canvasPixels = () => {
  const c = document.querySelector('#map .leaflet-atlas-regions-pane canvas');
  if (!c || !c.width) { return 0; }
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 64) { if (d[i]) { n++; } }
  return n;
};
const poll = () => {
  const now = performance.now();
  const maps = B.glMaps();
  const fetches = B.fetches.filter((f) => f.start >= t0);
  let ready = B.pending === 0 && fetches.length >= (opt.minFetches || 0);
  if (ready && opt.output) {
    ready = fetches.some((f) => f.end !== null && f.output.indexOf(opt.output) >= 0);
  }
  if (ready && opt.geo) { ready = geoEnd() !== null; }
  if (ready && opt.gl) { ready = maps.length > 0 && maps.every((m) => m.loaded() && m.areTilesLoaded()); }
  if (ready && now - B.last >= opt.quiet) {
    const frame = B.frames.find((f) => f[0] >= B.last);
    const pixels = opt.canvas ? canvasPixels() : null;
    if (frame && (!opt.canvas || pixels > 0)) {
      const res = performance.getEntriesByType('resource').filter(
        (r) => r.startTime >= t0 && r.name.indexOf('_dash-update-component') >= 0);
      const lts = B.longtasks.filter((l) => l[0] >= t0);
      done({
        ms: frame[1] - t0, lastActivity: B.last - t0, pixels: pixels, geoEnd: geoEnd(),
        fetches: fetches.map((f) => [f.output, f.start - t0, f.end - t0]),
        encoded: res.reduce((a, r) => a + r.encodedBodySize, 0),
        decoded: res.reduce((a, r) => a + r.decodedBodySize, 0),
        transfer: res.reduce((a, r) => a + r.transferSize, 0),
        requests: res.length,
        longtaskMs: lts.reduce((a, l) => a + l[1], 0), longtasks: lts.length,
        longtaskSupported: !B.noLongtask,
      });
      return;
    }
  }
  if (now - t0 > opt.timeout) {
    done({timeout: true, pending: B.pending, fetches: fetches.length, geo: geoEnd(), gl: maps.length});
    return;
  }
  setTimeout(poll, 25);
};
poll();
"""

SET_JS = r"""
const t0 = performance.now();
window.dash_clientside.set_props(arguments[0], {value: arguments[1]});
return t0;
"""

# ---------------------------------------------------------------------------------------------
# Server side (runs in a subprocess: `map_updates.py --serve KIND DATA PORT`)
# ---------------------------------------------------------------------------------------------


class TimingMiddleware:
    """Times every _dash-update-component request; GET /__bench/timings returns and clears them."""

    def __init__(self, app):
        self.app = app
        self.records: list[dict[str, object]] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/__bench/timings":
            with self.lock:
                body = json.dumps(self.records).encode()
                self.records = []
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            start_response("200 OK", headers)
            return [body]
        if not path.endswith("_dash-update-component"):
            return self.app(environ, start_response)
        start = time.perf_counter()
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(raw)
        try:
            output = json.loads(raw)["output"]
        except (ValueError, KeyError):
            output = "?"
        seen: dict[str, object] = {}

        def capture(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, dict(headers)
            return start_response(status, headers, exc_info)

        result = self.app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        took = (time.perf_counter() - start) * 1000
        headers = seen.get("headers", {})
        with self.lock:
            self.records.append(
                {
                    "output": output,
                    "ms": took,
                    "bytes": len(body),
                    "encoding": headers.get("Content-Encoding", "identity"),
                    "status": seen.get("status", "?"),
                }
            )
        return [body]


def atlas_app(data_path: str):
    from app import create_app

    app = create_app(data_path)
    page = app.layout  # a function: the page of the signed-in role (app.create_app)

    def level_3_page():
        return page(level=LEVEL)  # the page and its first map at level 3

    app.layout = level_3_page
    return app


def naive_app(data_path: str):
    """A Dash app that sends a whole plotly choropleth_map figure (shapes included) on every change."""
    import numpy as np
    import plotly.express as px
    from dash import Dash, Input, Output, dcc, html

    from dashboard.data import AtlasData
    from dashboard.views import filters_from
    from geodata import nuts, vocab
    from layers import geometry

    data = AtlasData(data_path)
    shapes: dict[int, dict] = {}

    def geojson(level: int) -> dict:
        if level not in shapes:
            regions = nuts.load(2021, level, "20M")
            shapes[level] = geometry.regions_geojson(regions, f"2021-{level}", data.map_countries)
        return shapes[level]

    def multi(id_: str, codes: dict[str, str]) -> dcc.Dropdown:
        return dcc.Dropdown(id=id_, options=list(codes), value=[], multi=True)

    app = Dash(__name__, compress=True, serve_locally=True)
    app.layout = html.Div(
        [
            dcc.RadioItems(id="level", options=list(vocab.NUTS_LEVELS), value=LEVEL, inline=True),
            dcc.Dropdown(id="metric", options=list(vocab.METRICS), value="facilities", clearable=False),
            multi("stage", vocab.STAGES),
            multi("bottleneck", vocab.BOTTLENECKS),
            multi("platform", vocab.PLATFORMS),
            multi("country", {c: c for c in data.countries}),
            multi("company-size", vocab.COMPANY_SIZES),
            dcc.Graph(id="graph", style={"height": "700px"}, config={"displayModeBar": False}),
        ]
    )

    @app.callback(
        Output("graph", "figure"),
        Input("level", "value"),
        Input("metric", "value"),
        Input("stage", "value"),
        Input("bottleneck", "value"),
        Input("platform", "value"),
        Input("country", "value"),
        Input("company-size", "value"),
    )
    def figure(level, metric, stages, bottlenecks, platforms, countries, sizes):
        level = int(level)
        filters = filters_from(stages, bottlenecks, platforms, countries, sizes)
        table = data.regions(2021, level, filters, "official")  # the same cached release as the atlas
        order = data.region_order(2021, level)
        values = table[metric].reindex(order).astype(float)
        frame = {"id": order, metric: np.where(values.notna(), values, np.nan)}
        fig = px.choropleth_map(
            frame,
            geojson=geojson(level),
            locations="id",
            featureidkey="properties.id",
            color=metric,
            color_continuous_scale="YlGnBu",
            map_style="white-bg",
            center={"lat": 52.5, "lon": 11.5},
            zoom=2.6,
            opacity=0.9,
        )
        fig.update_traces(marker_line_width=0.4, marker_line_color="#8c8c8c")
        fig.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0})
        return fig

    return app


def serve(kind: str, data_path: str, port: int) -> None:
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    start = time.perf_counter()
    app = atlas_app(data_path) if kind == "atlas" else naive_app(data_path)
    wsgi = TimingMiddleware(app.server.wsgi_app)
    app.server.wsgi_app = wsgi
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    print(f"READY {time.perf_counter() - start:.2f}", flush=True)
    server.serve_forever()


# ---------------------------------------------------------------------------------------------
# Driver side
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, kind: str, data_path: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, str(data_path), str(self.port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.stop()
            raise RuntimeError(f"{kind} server did not start: {line!r}")
        self.startup_s = float(line.split()[1])

    def timings(self) -> list[dict[str, object]]:
        with urllib.request.urlopen(self.url + "__bench/timings", timeout=30) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(TIMEOUT_MS / 1000 + 30)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": INIT_JS})
    return driver


class Accounts:
    """A temporary users file with one official account, and the server settings that use it."""

    def __init__(self, directory: Path) -> None:
        from dashboard import users

        self.password = secrets.token_urlsafe(18)
        path = directory / "users.json"
        users.save_users(path, [users.User(BENCH_USER, "official", users.hash_password(self.password))])
        self.env = {"ATLAS_SECRET_KEY": secrets.token_hex(32), "ATLAS_USERS": str(path)}


def sign_in(driver, url: str, accounts: Accounts | None) -> None:
    """Sign in as an official: the demo's role switcher (accounts None) or the sign-in form."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url + "login?" + urlencode({"next": SIGNED_IN_LANDING}))
    if accounts is None:
        driver.find_element(By.CSS_SELECTOR, "form[action='/demo/role/official'] button").click()
    else:
        driver.find_element(By.ID, "username").send_keys(BENCH_USER)
        driver.find_element(By.ID, "password").send_keys(accounts.password)
        driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
    WebDriverWait(driver, 30).until(lambda d: d.current_url.endswith(SIGNED_IN_LANDING))


def wait(driver, t0: float, **options) -> dict[str, object]:
    options = {"quiet": QUIET_MS, "timeout": TIMEOUT_MS, **options}
    result = driver.execute_async_script(WAIT_JS, t0, options)
    if result.get("timeout"):
        raise RuntimeError(f"page did not settle: {result}")
    return result


def change(driver, component_id: str, value: object, **options) -> dict[str, object]:
    t0 = driver.execute_script(SET_JS, component_id, value)
    return wait(driver, t0, minFetches=1, **options)


def load_page(driver, url: str, kind: str) -> dict[str, object]:
    driver.get("about:blank")
    driver.get(url)
    if kind == "atlas":
        return wait(driver, 0, output="regions.url", geo=f"/atlas/geo/regions-2021-{LEVEL}.json", canvas=True)
    return wait(driver, 0, output="graph.figure", gl=True)


def callback_name(output: str) -> str:
    for key, name in (("regions.url", "map"), ("sites.url", "sites"), ("graph.figure", "figure")):
        if key in output:
            return name
    return output.split(".")[0]


def run_changes(driver, server: Server, label: str, verbose: bool) -> dict[str, object]:
    server.timings()  # drop what came before
    rows = []
    for component_id, value in CHANGES:
        row = change(driver, component_id, value)
        rows.append(row)
        if verbose:
            print(
                f"  {label:18} {component_id}={value!s:32} {row['ms']:8.0f} ms  long tasks "
                f"{row['longtaskMs']:6.0f} ms  {row['encoded']:>9,} B enc  {row['decoded']:>9,} B dec",
                flush=True,
            )
    return {"label": label, "rows": rows, "server": server.timings()}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def scenario(
    kind: str,
    data_path: Path,
    label: str,
    with_sites: bool,
    verbose: bool,
    shots: Path | None,
    accounts: Accounts | None = None,
) -> dict[str, object]:
    server = Server(kind, data_path, accounts.env if accounts else None)
    driver = browser()
    try:
        if kind == "atlas":
            sign_in(driver, server.url, accounts)
        cold = load_page(driver, server.url, kind)  # also warms the server's caches
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        warm = load_page(driver, server.url, kind)
        server.timings()
        if shots:
            driver.save_screenshot(str(shots / f"{label}-first.png"))
        result = {
            "label": label,
            "startup_s": server.startup_s,
            "first_cold": cold,
            "first_warm": warm,
            "passes": [run_changes(driver, server, label, verbose)],
        }
        if with_sites:
            server.timings()
            toggle = change(driver, "show-sites", True)
            toggle["server"] = server.timings()
            result["sites_toggle"] = toggle
            result["passes"].append(run_changes(driver, server, label + "+sites", verbose))
        if shots:
            driver.save_screenshot(str(shots / f"{label}-last.png"))
        return result
    finally:
        driver.quit()
        server.stop()


def report(results: list[dict[str, object]]) -> None:
    print()
    print("Per filter change (n changes each; time = set_props -> page settled, incl. canvas/WebGL redraw)")
    header = (
        f"{'scenario':18} {'n':>3} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'longtask p50':>12} "
        f"{'enc B/upd p50':>13} {'dec B/upd p50':>13} {'req/upd':>7}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        for p in result["passes"]:
            rows = p["rows"]
            ms = [r["ms"] for r in rows]
            print(
                f"{p['label']:18} {len(rows):3d} {pct(ms, 50):8.0f} {pct(ms, 95):8.0f} {max(ms):8.0f} "
                f"{pct([r['longtaskMs'] for r in rows], 50):12.0f} "
                f"{pct([r['encoded'] for r in rows], 50):13,.0f} "
                f"{pct([r['decoded'] for r in rows], 50):13,.0f} "
                f"{statistics.mean(r['requests'] for r in rows):7.1f}"
            )
    print()
    print("Server time per callback (_dash-update-component, WSGI entry -> last byte; during the changes)")
    header = (
        f"{'scenario':18} {'callback':8} {'n':>3} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
        f"{'resp B p50':>11}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        for p in result["passes"]:
            by_name: dict[str, list[dict[str, object]]] = {}
            for record in p["server"]:
                by_name.setdefault(callback_name(record["output"]), []).append(record)
            for name, records in sorted(by_name.items()):
                ms = [r["ms"] for r in records]
                print(
                    f"{p['label']:18} {name:8} {len(ms):3d} {pct(ms, 50):8.1f} {pct(ms, 95):8.1f} "
                    f"{max(ms):8.1f} {pct([r['bytes'] for r in records], 50):11,.0f}"
                )
    print()
    print("First map (navigation start -> map drawn and page settled; level 3)")
    header = (
        f"{'scenario':18} {'server start s':>14} {'cold srv ms':>11} {'warm srv ms':>11} "
        f"{'geometry ms':>11} {'callbacks':>9} {'upd enc B':>10} {'upd dec B':>10}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        warm = result["first_warm"]
        geo = f"{warm['geoEnd']:11.0f}" if warm.get("geoEnd") else f"{'-':>11}"
        print(
            f"{result['label']:18} {result['startup_s']:14.1f} {result['first_cold']['ms']:11.0f} "
            f"{warm['ms']:11.0f} {geo} {len(warm['fetches']):9d} {warm['encoded']:10,} {warm['decoded']:10,}"
        )
    for result in results:
        toggle = result.get("sites_toggle")
        if toggle:
            srv = [r for r in toggle["server"] if callback_name(r["output"]) == "sites"]
            print()
            print(
                f"Switching the site layer on ({result['label']}): {toggle['ms']:.0f} ms in the browser "
                f"(long tasks {toggle['longtaskMs']:.0f} ms), server 'sites' callback "
                f"{srv[0]['ms'] if srv else float('nan'):.0f} ms (builds the sites GeoJSON on first use), "
                f"callback response {toggle['encoded']:,} B enc / {toggle['decoded']:,} B dec; "
                f"the sites GeoJSON itself is fetched from /atlas/geo/sites-2021.json"
            )
    print()
    print(
        f"Notes: update time ends at the first frame after the last DOM mutation / long task / "
        f"response, once {QUIET_MS} ms passed quietly; longtask = summed main-thread long tasks "
        f"(>50 ms) in the update; enc/dec B = resource-timing encodedBodySize / decodedBodySize of "
        f"the update's _dash-update-component responses (summed over the update's requests)."
    )


def make_large_csv(directory: Path) -> Path:
    from scripts.make_sample_data import generate

    start = time.perf_counter()
    frame = generate(5000, 100_000, 1)
    path = directory / "facilities_100k.csv"
    frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
    print(f"generated {path.name}: {len(frame):,} sites in {time.perf_counter() - start:.1f} s", flush=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", nargs=3, metavar=("KIND", "DATA", "PORT"), help=argparse.SUPPRESS)
    names = ["atlas-sample", "naive-sample", "atlas-100k", "naive-100k"]
    parser.add_argument("--only", nargs="+", choices=names, help="run only these scenarios")
    parser.add_argument("--verbose", action="store_true", help="print every update")
    parser.add_argument("--screenshots", type=Path, help="save first-map and final screenshots here")
    args = parser.parse_args(argv)
    if args.serve:
        kind, data_path, port = args.serve
        serve(kind, data_path, int(port))
        return 0
    if not os.environ.get("NUTS_DATA_DIR"):
        print("warning: NUTS_DATA_DIR is not set; the NUTS files must be in the user cache", file=sys.stderr)
    wanted = args.only or names
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    sample = REPO / "data" / "sample_facilities.csv"
    results = []
    with tempfile.TemporaryDirectory(prefix="atlas-bench-") as tmp:
        large = make_large_csv(Path(tmp)) if any(n.endswith("100k") for n in wanted) else None
        accounts = Accounts(Path(tmp)) if "atlas-100k" in wanted else None
        for name in names:
            if name not in wanted:
                continue
            kind, size = name.split("-")
            data_path = sample if size == "sample" else large
            start = time.perf_counter()
            with_sites = name == "atlas-100k"
            login = accounts if size != "sample" else None
            results.append(scenario(kind, data_path, name, with_sites, args.verbose, args.screenshots, login))
            print(f"{name}: done in {time.perf_counter() - start:.0f} s", flush=True)
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

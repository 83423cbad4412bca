"""Browser tests: headless Chromium through dash_duo (dash[testing]), offline, real NUTS files.

``python -m pytest`` needs no extra flags: this file switches on dash testing's headless mode and
hands it Chromium options that keep the browser off the network (no Google services).

What the page holds is read from the browser itself:

* Dash props (e.g. the region classes {key, cls, colors}: the "region-classes" store, or the regions
  layer's ``hideout`` in earlier versions) through ``window.dash_component_api.getLayout``, the
  public accessor of Dash >= 3 for the renderer's layout store;
* the Leaflet map object through the React context that react-leaflet's MapContainer provides
  (found by walking the React fiber below ``#map``), to project lat/lon to pixels and list layers.

What the page *should* hold is computed here independently from the geodata/layers functions
(``Truth``), not through the dashboard's own data class.

Everything that carries data is behind sign-in (dashboard.auth): the ``atlas`` fixture signs in
before it opens the map, on the bundled sample (a demo) with the role switcher's buttons, on any
other file with the ``accounts`` fixture's users through the sign-in form.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pandas as pd
import pytest
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SAMPLE = REPO / "data" / "sample_facilities.csv"
CHROMIUM = os.environ.get("DASH_TEST_CHROMEPATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,900",
)
WAIT = 15  # seconds for a callback round trip to show on the page
BOM = b"\xef\xbb\xbf"
HEALTH = "/healthz"  # an open page without data: where the fixture's sign-in lands


def pytest_configure(config: pytest.Config) -> None:
    # dash testing's plugin reads --headless/--webdriver; set them so no CLI flag is needed
    # (headless also makes it allow downloads into dash_duo.download_path through CDP).
    if hasattr(config.option, "headless"):
        config.option.headless = True
        config.option.webdriver = "Chrome"
    # selenium 4.2 calls urllib3's deprecated getheader() on every command
    config.addinivalue_line("filterwarnings", "ignore:HTTPResponse.getheader:DeprecationWarning")


def pytest_setup_options() -> Options:
    """dash testing's hook: the selenium options its Browser starts Chromium with."""
    options = Options()
    if Path(CHROMIUM).is_file():
        options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    return options


# --------------------------------------------------------------------------------------------
# Ground truth, computed with geodata + layers (not with dashboard.data)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def nuts_dir() -> Path:
    """The real GISCO NUTS folder; every browser test skips without it."""
    env = os.environ.get("NUTS_DATA_DIR")
    if not env:
        pytest.skip("NUTS_DATA_DIR is not set: the browser tests need the real GISCO NUTS files")
    folder = Path(env).expanduser()
    if not folder.is_dir():
        pytest.skip(f"NUTS_DATA_DIR={folder} is not a folder")
    return folder


class Truth:
    """What the map should show for one facility file and role.

    The official's figures are the true ones (geodata.aggregate); the cluster's and the public's
    are the release of the disclosure engine (geodata.disclosure, the one rule every output
    passes through) with the same rules as the server (``rules``: the defaults unless given).
    """

    def __init__(self, path: Path, role: str, rules: Any = None) -> None:
        from geodata import disclosure, records

        self.path = path
        self.role = role
        self.restricted = disclosure.is_restricted(role)
        self.rules = rules or disclosure.Rules()
        self.facilities = records.load_facilities(path).facilities

    @functools.cache  # noqa: B019 - one Truth per session and file
    def placed(self, version: int) -> pd.DataFrame:
        from geodata import placement

        return placement.place(self.facilities, version)

    @functools.cache  # noqa: B019
    def index(self, version: int) -> Any:
        from geodata.aggregate import SiteIndex

        return SiteIndex.from_placed(self.placed(version))

    @functools.cache  # noqa: B019
    def codes(self, version: int, level: int) -> tuple[str, ...]:
        from geodata import nuts

        return tuple(nuts.load(version, level)["NUTS_ID"])

    @staticmethod
    def filters(stages: tuple[str, ...] = (), countries: tuple[str, ...] = ()) -> Any:
        from geodata.aggregate import Filters

        return Filters(stages=tuple(stages), countries=tuple(countries))

    @functools.cache  # noqa: B019
    def release(self, version: int, stages: tuple[str, ...] = (), countries: tuple[str, ...] = ()) -> Any:
        """The disclosure engine's release for this role (what a restricted role may see)."""
        from geodata import disclosure, vocab

        index = self.index(version)
        return disclosure.release(
            index,
            self.filters(stages, countries),
            self.role,
            self.rules,
            disclosure.record_keys(index.facility_id, self.rules.key),
            {level: self.codes(version, level) for level in vocab.NUTS_LEVELS},
        )

    def table(
        self, version: int, level: int, stages: tuple[str, ...] = (), countries: tuple[str, ...] = ()
    ) -> pd.DataFrame:
        """Per-region figures (NaN where withheld) and ``<metric>_withheld`` reason codes."""
        from geodata import disclosure, vocab
        from geodata.aggregate import aggregate

        if self.restricted:
            return self.release(version, tuple(stages), tuple(countries)).table(level)
        table = aggregate(
            self.index(version),
            level,
            self.filters(stages, countries),
            all_regions=list(self.codes(version, level)),
        )
        for metric in vocab.METRICS:
            table[disclosure.withheld_column(metric)] = ""
        return table

    def totals(
        self, version: int, stages: tuple[str, ...] = (), countries: tuple[str, ...] = ()
    ) -> dict[str, float | None]:
        """The summary cards' figures (None where withheld)."""
        from geodata.aggregate import summary

        if self.restricted:
            return dict(self.release(version, tuple(stages), tuple(countries)).totals)
        return dict(summary(self.index(version), self.filters(stages, countries)))

    def order(self, version: int, level: int) -> list[str]:
        """NUTS_IDs of the regions drawn: EU members plus the dataset's countries, sorted."""
        from geodata import nuts, vocab

        countries = set(vocab.EU_MEMBER_STATES) | set(self.facilities["country"].dropna())
        regions = nuts.load(version, level)
        return sorted(regions.loc[regions["CNTR_CODE"].isin(countries), "NUTS_ID"])

    def hideout(
        self,
        version: int,
        level: int,
        metric: str = "facilities",
        stages: tuple[str, ...] = (),
        countries: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        from layers import choropleth
        from layers.classify import DEFAULT_K, DEFAULT_SCHEME

        result = choropleth.build(
            self.table(version, level, stages, countries),
            self.order(version, level),
            metric,
            DEFAULT_SCHEME,
            DEFAULT_K,
            withhold=self.restricted,
        )
        return {"key": f"{version}-{level}", "cls": result.classes, "colors": result.colours}

    def matching(self, version: int, stages: tuple[str, ...] = ()) -> pd.DataFrame:
        """Placed sites (with a NUTS 3 region) offering any of ``stages`` (all when empty)."""
        placed = self.placed(version)
        placed = placed[placed["nuts3"].notna()]
        if stages:
            placed = placed[placed["stages"].map(lambda codes: bool(set(codes) & set(stages)))]
        return placed

    def listed(self, version: int) -> pd.DataFrame:
        """Placed sites of companies that agreed to be named (the most restrictive answer of a
        company's rows applies): all that a restricted role may see one by one."""
        index = self.index(version)
        return self.placed(version).iloc[index.row[index.listed]]

    def unlisted_companies(self, version: int) -> set[str]:
        """Names of the companies a restricted role must never see."""
        index = self.index(version)
        return set(self.placed(version).iloc[index.row[~index.listed]]["company"].astype(str))


@pytest.fixture(scope="session")
def official_truth(nuts_dir: Path) -> Truth:
    return Truth(SAMPLE, "official")


@pytest.fixture(scope="session")
def cluster_truth(nuts_dir: Path) -> Truth:
    return Truth(SAMPLE, "cluster")


@pytest.fixture(scope="session")
def make_truth(nuts_dir: Path) -> Callable[..., Truth]:
    """``make_truth(path, role, rules=None)``: the truth for another file or other rules."""
    return Truth


# --------------------------------------------------------------------------------------------
# Driving and reading the page
# --------------------------------------------------------------------------------------------

#: The region classes of the latest map update, {key, cls, colors}: the regions layer's ``hideout``
#: or, where the app sends them through a dcc.Store ("region-classes") restyled clientside, its data.
GET_CLASSES = """
const api = window.dash_component_api;
if (!api || !api.getLayout) { return null; }
for (const [id, name] of [['region-classes', 'data'], ['regions', 'hideout']]) {
  const item = api.getLayout(id);
  const value = item && item.props ? item.props[name] : null;
  if (value && value.key) { return value; }
}
return null;
"""

GET_PROP = """
const api = window.dash_component_api;
const item = api && api.getLayout ? api.getLayout(arguments[0]) : undefined;
return item && item.props ? (item.props[arguments[1]] === undefined ? null : item.props[arguments[1]]) : null;
"""

#: Find the Leaflet map through react-leaflet's context provider below the #map element.
FIND_MAP = """
const known = window.__atlasMap;
if (known && known._container && document.body.contains(known._container)) { return true; }
const el = document.getElementById('map');
if (!el) { return false; }
const key = Object.keys(el).find(k => k.startsWith('__reactFiber$'));
if (!key) { return false; }
const queue = [el[key]];
for (let seen = 0; queue.length && seen < 2000; seen++) {
  const fiber = queue.shift();
  if (!fiber) { continue; }
  const value = fiber.memoizedProps && fiber.memoizedProps.value;
  if (value && value.map && typeof value.map.latLngToContainerPoint === 'function') {
    window.__atlasMap = value.map;
    return true;
  }
  if (fiber.child) { queue.push(fiber.child); }
  if (fiber.sibling && fiber !== el[key]) { queue.push(fiber.sibling); }
}
return false;
"""

REGION_LAYERS = """
const out = [];
window.__atlasMap.eachLayer(layer => {
  const f = layer.feature;
  if (f && f.properties && f.properties.k !== undefined && layer.options && 'fillColor' in layer.options) {
    out.push([f.properties.i, f.properties.id, f.properties.k, layer.options.fillColor]);
  }
});
return out;
"""

#: Sites the point layer shows: sum of the cluster badges plus single points.
SITE_COUNTS = """
let clusters = 0, inClusters = 0, singles = 0;
window.__atlasMap.eachLayer(layer => {
  const f = layer.feature;
  if (!f || !f.geometry || f.geometry.type !== 'Point') { return; }
  if (f.properties && f.properties.cluster) {
    const icon = layer.options && layer.options.icon;
    if (icon && icon.options && icon.options.html) {
      clusters++;
      inClusters += parseInt(icon.options.html.replace(/<[^>]*>/g, ''), 10);
    }
  } else if (typeof layer.getRadius === 'function') {
    singles++;
  }
});
return {clusters: clusters, inClusters: inClusters, singles: singles,
        badges: document.querySelectorAll('#map .marker-cluster').length};
"""


#: arguments: path, method, JSON body (or null), callback. The browser's own request, cookies included.
FETCH = """
const [path, method, body, done] = arguments;
const init = {method: method, credentials: 'same-origin', headers: {'Accept': 'application/json'}};
if (body !== null) {
  init.body = JSON.stringify(body);
  init.headers['Content-Type'] = 'application/json';
}
fetch(path, init)
  .then(r => r.text().then(text => done(
    {status: r.status, type: r.headers.get('Content-Type'), text: text, url: r.url})))
  .catch(e => done({status: -1, type: null, text: String(e), url: null}));
"""


def wait_until(check: Callable[[], Any], timeout: float = WAIT, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
        except Exception as exc:  # the page may be mid-render
            last = exc
        if last and not isinstance(last, Exception):
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}; last: {last!r}"[:2000])
        time.sleep(0.1)


class AtlasPage:
    """The running dashboard in dash_duo's browser."""

    def __init__(self, dash_duo: Any) -> None:
        self.duo = dash_duo
        self.driver = dash_duo.driver
        self.base = dash_duo.server.url.rstrip("/")

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    # --- signing in and out (the pages of dashboard.auth, not Dash) ----------------------------

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def path(self) -> str:
        """The path of the page the browser shows now."""
        return urlsplit(self.driver.current_url).path

    def _wait_for_path(self, path: str) -> None:
        wait_until(lambda: self.path() == path, what=f"the browser to land on {path}")

    def sign_in_demo(self, role: str, next_: str = "/") -> None:
        """Choose ``role`` on the demo's sign-in page (a button posting to /demo/role/<role>)."""
        self.open(f"/login?{urlencode({'next': next_})}")
        self.duo.find_element(f"form[action='/demo/role/{role}'] button[type='submit']").click()
        self._wait_for_path(urlsplit(next_).path)

    def sign_in(self, name: str, password: str, next_: str = "/") -> None:
        """Fill in and submit the sign-in form like a person."""
        self.open(f"/login?{urlencode({'next': next_})}")
        self.duo.find_element("#username").send_keys(name)
        self.duo.find_element("#password").send_keys(password)
        self.duo.find_element("form[action='/login'] button[type='submit']").click()
        self._wait_for_path(urlsplit(next_).path)

    def sign_out(self) -> None:
        """The header's "Sign out" link."""
        action = self.duo.find_element("#account-action")
        assert action.text == "Sign out"
        action.click()
        self._wait_for_path("/login")

    def fetch(self, path: str, method: str = "GET", body: Any = None) -> dict[str, Any]:
        """``fetch(path)`` from the page, with the browser's own cookies: {status, type, text, url}."""
        return self.driver.execute_async_script(FETCH, path, method, body)

    # --- exports ---------------------------------------------------------------------------------

    def download(self, button: str, prefix: str) -> pd.DataFrame:
        """Click the export button ``button`` and read the file ``prefix*.csv`` it downloads (UTF-8
        with a byte-order mark, LF line ends) as text cells; the file is removed afterwards."""
        folder = Path(self.duo.download_path)
        self.duo.find_element(f"#{button}").click()

        def done() -> Path | None:
            if list(folder.glob("*.crdownload")):
                return None
            files = sorted(folder.glob(f"{prefix}*.csv"))
            return files[0] if len(files) == 1 and files[0].stat().st_size else None

        path = wait_until(done, what=f"the download {prefix}*.csv in {folder}")
        raw = path.read_bytes()
        path.unlink()
        assert raw.startswith(BOM), "exports are UTF-8 with a byte-order mark"
        assert b"\r\n" not in raw
        return pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", dtype=str, keep_default_na=False)

    def prop(self, component_id: str, name: str) -> Any:
        return self.js(GET_PROP, component_id, name)

    def region_classes(self) -> dict[str, Any] | None:
        """{key, cls, colors} of the latest map update, as the browser holds it."""
        return self.js(GET_CLASSES)

    def text(self, selector: str) -> str:
        return self.duo.find_element(selector).text

    def card(self, name: str) -> str:
        return self.text(f"#card-{name} .card-value")

    # --- the Leaflet map ---------------------------------------------------------------------

    def leaflet(self, script: str, *args: Any) -> Any:
        wait_until(lambda: self.js(FIND_MAP), what="the Leaflet map object")
        return self.js(script, *args)

    def region_layers(self) -> list[list[Any]]:
        return self.leaflet(REGION_LAYERS)

    def site_counts(self) -> dict[str, int]:
        return self.leaflet(SITE_COUNTS)

    def frame(self, placed: pd.DataFrame) -> None:
        """Fit the map around every site of ``placed``: clusters only count sites in the view."""
        south, north = float(placed["map_lat"].min()) - 1, float(placed["map_lat"].max()) + 1
        west, east = float(placed["map_lon"].min()) - 1, float(placed["map_lon"].max()) + 1
        self.leaflet(
            "window.__atlasMap.fitBounds(arguments[0], {animate: false});", [[south, west], [north, east]]
        )

    def viewport_xy(self, lat: float, lon: float) -> tuple[float, float]:
        """Where a lat/lon point is on screen (CSS pixels from the viewport's top-left)."""
        x, y = self.leaflet(
            "const m = window.__atlasMap, r = m.getContainer().getBoundingClientRect();"
            "const p = m.latLngToContainerPoint([arguments[0], arguments[1]]);"
            "return [r.left + p.x, r.top + p.y];",
            lat,
            lon,
        )
        return x, y

    def hover(self, lat: float, lon: float) -> None:
        x, y = self.viewport_xy(lat, lon)
        ActionChains(self.driver).move_to_location(int(x), int(y)).perform()

    def wait_for_regions(self, expected: dict[str, Any]) -> dict[str, Any]:
        """Wait until the browser holds the region classes ``expected``; return them."""
        wait_until(
            lambda: self.region_classes() == expected,
            what=f"the region classes to become the expected ones for key {expected['key']}",
        )
        return self.region_classes()

    # --- controls ------------------------------------------------------------------------------

    def radio(self, component_id: str, value: Any) -> None:
        self.duo.find_element(f"#{component_id} input[value='{value}']").click()

    def choose(self, component_id: str, label: str) -> None:
        """Pick the option labelled ``label`` in a dcc.Dropdown (Dash 4 markup), then close it."""
        self.duo.find_element(f"#{component_id}").click()
        options = wait_until(
            lambda: self.driver.find_elements(
                By.CSS_SELECTOR, ".dash-dropdown-options .dash-dropdown-option"
            ),
            what=f"the options of #{component_id}",
        )
        matching = [option for option in options if option.text.strip() == label]
        assert matching, f"#{component_id} has no option {label!r}: {[o.text for o in options]}"
        matching[0].click()
        if self.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-options"):
            ActionChains(self.driver).send_keys(Keys.ESCAPE).perform()

    wait_until = staticmethod(wait_until)

    def assert_drawn(self, hideout: dict[str, Any], order: list[str]) -> None:
        """Every region of the hideout's geometry is on the map, in order, filled per its class."""
        special = {-1: "#ffffff", -2: "#e4e4e4", -3: "#b8b8b8"}  # assets/atlas.js FILL
        want = {
            code: hideout["colors"][klass] if klass >= 0 else special[klass]
            for code, klass in zip(order, hideout["cls"], strict=True)
        }

        def drawn() -> dict[str, str] | None:
            layers = [layer for layer in self.region_layers() if layer[2] == hideout["key"]]
            if sorted(code for _i, code, _k, _fill in layers) != order:
                return None
            assert all(order[i] == code for i, code, _k, _fill in layers), "feature i out of NUTS_ID order"
            return {code: fill for _i, code, _k, fill in layers}

        wait_until(lambda: drawn() == want, what=f"{len(order)} regions of {hideout['key']} filled per class")

    def wait_for_start(self, sites: int | None = None) -> None:
        self.duo.wait_for_element("#card-sites .card-value", timeout=WAIT)
        if sites is not None:
            self.duo.wait_for_text_to_equal("#card-sites .card-value", f"{sites:,}", timeout=WAIT)
        wait_until(self.region_classes, what="the first map update")


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    password: str


#: The accounts of the servers on other data than the sample (passwords: at least 12 characters).
ACCOUNTS = {
    "official": Account("olga", "official", "olga-browser-test-pass"),
    "cluster": Account("claus", "cluster", "claus-browser-test-pass"),
}
SECRET_KEY = "browser-tests-" + "0123456789abcdef" * 3  # ATLAS_SECRET_KEY: at least 32 characters


@pytest.fixture
def atlas_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No ATLAS_* setting of the calling shell reaches the servers the tests start; each test's
    survey store is a SQLite file of its own (never the user data folder)."""
    for name in list(os.environ):
        if name.startswith("ATLAS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ATLAS_DATABASE_URL", f"sqlite:///{tmp_path / 'browser-store.sqlite'}")
    return monkeypatch


@pytest.fixture
def accounts(atlas_env: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Account]:
    """A users file with one official and one cluster account (made with the users command), and
    ATLAS_SECRET_KEY / ATLAS_USERS set for the servers started next."""
    from dashboard import users

    path = tmp_path / "users.json"
    for account in ACCOUNTS.values():
        atlas_env.setattr(sys, "stdin", io.StringIO(account.password + "\n"))
        argv = ["--file", str(path), "add", account.name, "--role", account.role, "--password-stdin"]
        assert users.main(argv) == 0
    atlas_env.setenv("ATLAS_SECRET_KEY", SECRET_KEY)
    atlas_env.setenv("ATLAS_USERS", str(path))
    return dict(ACCOUNTS)


@pytest.fixture
def atlas(
    nuts_dir: Path, dash_duo: Any, atlas_env: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Callable[..., AtlasPage]:
    """Start the dashboard and sign in: ``atlas(path=None, role='official', *, public=False,
    sign_in=True, **run_kwargs)`` returns the page with the map loaded.

    On the bundled sample (the demo) the role is chosen on the role switcher; on any other file
    the ``accounts`` fixture's user of that role signs in through the form. ``sign_in=False``:
    nobody signs in; the map is opened anonymously on a ``public`` server, and on any other
    server no page is opened (the test goes to /login itself).
    """

    def start(
        path: Path | None = None,
        role: str = "official",
        *,
        public: bool = False,
        sign_in: bool = True,
        **server: Any,
    ) -> AtlasPage:
        from app import create_app

        path = Path(path or SAMPLE)
        logins = None if path.resolve() == SAMPLE.resolve() else request.getfixturevalue("accounts")
        dash_duo.start_server(create_app(path, public=public), navigate=False, **server)
        page = AtlasPage(dash_duo)
        if sign_in:
            # land on a plain page, so that the map is opened once, below, the dash testing way
            if logins is None:
                page.sign_in_demo(role, next_=HEALTH)
            else:
                page.sign_in(logins[role].name, logins[role].password, next_=HEALTH)
        elif not public:
            return page
        dash_duo.server_url = dash_duo.server.url  # opens the map, waits for Dash's entry point
        page.wait_for_start()
        return page

    return start

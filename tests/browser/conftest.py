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
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
    """What the map should show for one facility file and audience."""

    def __init__(self, path: Path, audience: str) -> None:
        from geodata import records

        self.path = path
        self.audience = audience
        self.facilities = records.load_facilities(path).facilities

    @functools.cache  # noqa: B019 - one Truth per session and file
    def placed(self, version: int) -> pd.DataFrame:
        from geodata import placement

        return placement.place(self.facilities, version)

    @functools.cache  # noqa: B019
    def index(self, version: int) -> Any:
        from geodata.aggregate import SiteIndex

        return SiteIndex.from_placed(self.placed(version))

    def table(self, version: int, level: int, stages: tuple[str, ...] = ()) -> pd.DataFrame:
        from geodata import nuts
        from geodata.aggregate import Filters, aggregate

        regions = nuts.load(version, level)["NUTS_ID"].tolist()
        return aggregate(
            self.index(version),
            level,
            Filters(stages=stages),
            audience=self.audience,
            all_regions=regions,
        )

    def order(self, version: int, level: int) -> list[str]:
        """NUTS_IDs of the regions drawn: EU members plus the dataset's countries, sorted."""
        from geodata import nuts, vocab

        countries = set(vocab.EU_MEMBER_STATES) | set(self.facilities["country"].dropna())
        regions = nuts.load(version, level)
        return sorted(regions.loc[regions["CNTR_CODE"].isin(countries), "NUTS_ID"])

    def hideout(
        self, version: int, level: int, metric: str = "facilities", stages: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        from layers import choropleth
        from layers.classify import DEFAULT_K, DEFAULT_SCHEME

        result = choropleth.build(
            self.table(version, level, stages), self.order(version, level), metric, DEFAULT_SCHEME, DEFAULT_K
        )
        return {"key": f"{version}-{level}", "cls": result.classes, "colors": result.colours}

    def matching(self, version: int, stages: tuple[str, ...] = ()) -> pd.DataFrame:
        """Placed sites (with a NUTS 3 region) offering any of ``stages`` (all when empty)."""
        placed = self.placed(version)
        placed = placed[placed["nuts3"].notna()]
        if stages:
            placed = placed[placed["stages"].map(lambda codes: bool(set(codes) & set(stages)))]
        return placed


@pytest.fixture(scope="session")
def official_truth(nuts_dir: Path) -> Truth:
    return Truth(SAMPLE, "official")


@pytest.fixture(scope="session")
def public_truth(nuts_dir: Path) -> Truth:
    return Truth(SAMPLE, "public")


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

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

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


@pytest.fixture
def atlas(nuts_dir: Path, dash_duo: Any) -> Iterator[Callable[..., AtlasPage]]:
    """Start the dashboard: ``atlas(path=None, audience='official', **run_kwargs)`` returns the page."""

    def start(path: Path | None = None, audience: str = "official", **server: Any) -> AtlasPage:
        from app import create_app

        dash_duo.start_server(create_app(path, audience), **server)
        page = AtlasPage(dash_duo)
        page.wait_for_start()
        return page

    yield start

"""The bottleneck overview in the browser: open it, see the matrix, pick a bottleneck, see both
small maps drawn and the ranked list; as a cluster user, a figure the disclosure engine withholds
appears as withheld; axe-core finds no serious or critical problem.

What a cluster must see withheld is worked out here with the disclosure engine itself (conftest's
``Truth``: the release for the role), not through the dashboard's data class. Every test runs
offline and ends without console errors or Dash error pop-ups (test_browser_regions.assert_clean).
"""

from __future__ import annotations

from typing import Any

import axe
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from test_browser_regions import assert_clean, click_view, open_atlas, settle

from geodata import disclosure, vocab
from geodata.aggregate import Filters

pytestmark = [pytest.mark.browser, pytest.mark.integration]

#: The app warms both role groups' overviews in the background after start (about 20 s on the
#: sample on a 2-core machine); the view says it is being prepared until then.
READY_WAIT = 180
#: The heatmap's figure as the browser holds it: cell texts, hover texts, the grey (withheld) layer.
HEATMAP = """
const graph = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!graph || !graph.data || graph.data.length < 2) { return null; }
const cells = graph.querySelectorAll('.heatmaplayer image, .heatmaplayer path').length;
return {rows: graph.data[0].y, text: graph.data[0].text, greyText: graph.data[1].text,
        hover: graph.data[0].hovertext, grey: graph.data[1].z, cells: cells};
"""
#: The Leaflet map below #<id> (react-leaflet's context, as conftest's FIND_MAP does for #map),
#: and the fill colour of each region drawn: {NUTS_ID: fill}.
SMALL_MAP_FILLS = """
const el = document.getElementById(arguments[0]);
if (!el) { return null; }
window.__overviewMaps = window.__overviewMaps || {};
let map = window.__overviewMaps[arguments[0]];
if (!map || !document.body.contains(map._container)) {
  const key = Object.keys(el).find(k => k.startsWith('__reactFiber$'));
  const queue = key ? [el[key]] : [];
  map = null;
  for (let seen = 0; queue.length && seen < 2000 && !map; seen++) {
    const fiber = queue.shift();
    if (!fiber) { continue; }
    const value = fiber.memoizedProps && fiber.memoizedProps.value;
    if (value && value.map && typeof value.map.latLngToContainerPoint === 'function') { map = value.map; }
    if (fiber.child) { queue.push(fiber.child); }
    if (fiber.sibling && fiber !== el[key]) { queue.push(fiber.sibling); }
  }
  if (!map) { return null; }
  window.__overviewMaps[arguments[0]] = map;
}
const fills = {};
map.eachLayer(layer => {
  const f = layer.feature;
  if (f && f.properties && f.properties.k !== undefined && layer.options) {
    fills[f.properties.id] = layer.options.fillColor;
  }
});
const size = map.getSize();
return {fills: fills, width: size.x, height: size.y, zoom: map.getZoom()};
"""
GET_PROP = """
const item = window.dash_component_api.getLayout(arguments[0]);
return item && item.props ? (item.props[arguments[1]] === undefined ? null : item.props[arguments[1]]) : null;
"""
SPECIAL = {-1: "#ffffff", -2: "#e4e4e4", -3: "#b8b8b8"}  # assets/overview.js FILL


def choose(page: Any, component_id: str, label: str) -> None:
    """Pick an option of a dcc.Dropdown by typing part of its label into its search box (the
    options below the search box can be covered by it in a scrolled list), as a person would."""
    page.duo.find_element(f"#{component_id}").click()
    search = page.wait_until(
        lambda: page.driver.find_elements(By.CSS_SELECTOR, "input.dash-dropdown-search"),
        what="the search box",
    )
    search[0].send_keys(label[:12])
    options = page.wait_until(
        lambda: [
            o
            for o in page.driver.find_elements(
                By.CSS_SELECTOR, ".dash-dropdown-options .dash-dropdown-option"
            )
            if o.text.strip() == label
        ],
        what=f"the option {label!r}",
    )
    options[0].click()
    if page.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-options"):
        ActionChains(page.driver).send_keys(Keys.ESCAPE).perform()


def rows_of(page: Any, table: str) -> list[Any]:
    return page.driver.find_elements(By.CSS_SELECTOR, f"{table} tbody tr")


def show_overview(page: Any) -> None:
    click_view(page, "Bottlenecks")
    page.wait_until(
        lambda: page.js("return document.getElementById('overview-view').hidden === false;"),
        what="the bottleneck view",
    )
    page.wait_until(lambda: page.js(HEATMAP, "overview-matrix"), timeout=READY_WAIT, what="the matrix")


def assert_map_drawn(page: Any, map_id: str, layer_id: str) -> dict[str, Any]:
    """Every region of the layer's hideout is drawn in its class's colour, in a map with a size."""

    def drawn() -> dict[str, Any] | None:
        hideout = page.js(GET_PROP, layer_id, "hideout")
        got = page.js(SMALL_MAP_FILLS, map_id)
        if not hideout or not hideout.get("cls") or not got or not got["fills"]:
            return None
        order = sorted(got["fills"])
        want = {
            code: hideout["colors"][k] if k >= 0 else SPECIAL[k]
            for code, k in zip(order, hideout["cls"], strict=True)
        }
        return got if got["fills"] == want and got["width"] > 100 and got["height"] > 100 else None

    return page.wait_until(drawn, what=f"the regions of #{map_id} coloured as sent")


def withheld_for_a_cluster(truth: Any) -> list[str]:
    """Bottlenecks whose total the engine withholds from a cluster (the engine's own release)."""
    index = truth.index(2021)
    all_regions = {level: truth.codes(2021, level) for level in vocab.NUTS_LEVELS}
    keys = disclosure.record_keys(index.facility_id, truth.rules.key)
    return [
        b
        for b in vocab.BOTTLENECKS
        if disclosure.release(
            index, Filters(bottlenecks=(b,)), "cluster", truth.rules, keys, all_regions
        ).totals["bottleneck_reports"]
        is None
    ]


def test_the_overview_for_an_official_and_for_a_cluster(atlas, dash_duo, cluster_truth):
    """One server (the demo on the sample): an official opens the overview, picks a bottleneck and
    sees both maps and the ranked list (axe: no serious or critical finding); then, signed in as
    cluster on the role switcher, the bottlenecks the engine withholds from a cluster show grey
    with "c", the reason on hover, and rank last."""
    page = open_atlas(atlas, dash_duo, "official", debug=False)
    show_overview(page)
    matrix = page.js(HEATMAP, "overview-matrix")
    assert matrix["rows"] == list(vocab.BOTTLENECKS.values()) and matrix["cells"] > 0
    assert page.js(HEATMAP, "overview-countries") is not None
    assert "every placed site" in page.text("#overview-note")
    # the most reported bottleneck is shown first; pick another one from the list
    page.wait_until(lambda: page.js(GET_PROP, "overview-bottleneck", "value"), what="a first bottleneck")
    choose(page, "overview-bottleneck", vocab.BOTTLENECKS["vials_stoppers"])
    page.wait_until(
        lambda: vocab.BOTTLENECKS["vials_stoppers"] in page.text("#overview-chosen h3"),
        what="the chosen bottleneck",
    )
    need = assert_map_drawn(page, "overview-need-map", "overview-need-regions")
    supply = assert_map_drawn(page, "overview-supply-map", "overview-supply-regions")
    assert len(need["fills"]) == len(supply["fills"]) > 200 and need["zoom"] >= 2
    assert "© EuroGeographics for the administrative boundaries" in page.text(".atlas-overview-attribution")
    page.wait_until(lambda: rows_of(page, "#overview-need-regions-table"), what="the regions reporting it")
    rows = page.driver.find_elements(By.CSS_SELECTOR, "#overview-ranked-table tbody tr")
    assert len(rows) == len(vocab.BOTTLENECKS)
    assert "Their available capacity" in page.text("#overview-ranked-table thead")
    # a ranked row picks its bottleneck; a policy bottleneck has no supply map
    page.duo.find_element("#overview-ranked-table tr[data-code='financing'] button").click()
    page.wait_until(
        lambda: page.js(GET_PROP, "overview-bottleneck", "value") == "financing", what="financing"
    )
    page.wait_until(
        lambda: page.js("return document.getElementById('overview-supply').hidden;"), what="no supply map"
    )
    assert "policy matter" in page.text("#overview-chosen")
    # the distance of "relief within"
    page.duo.find_element("#overview-distance input[value='500']").click()
    page.wait_until(lambda: "within 500 km" in page.text("#overview-ranked-table thead"), what="500 km")
    settle(page)
    violations = axe.run(page.driver)
    print(f"bottleneck overview (axe-core {axe.version(page.driver)}):\n{axe.describe(violations)}")
    assert not axe.blocking(violations), axe.describe(axe.blocking(violations))
    assert_clean(page)

    withheld = withheld_for_a_cluster(cluster_truth)
    assert withheld, "the sample has a bottleneck whose total a cluster may not see"
    page.sign_in_demo("cluster", next_="/")
    page.wait_for_start()
    show_overview(page)
    matrix = page.js(HEATMAP, "overview-matrix")
    for b in withheld:
        row = list(vocab.BOTTLENECKS).index(b)
        assert (
            matrix["greyText"][row][0] == "c" and matrix["grey"][row][0] == 1 and matrix["text"][row][0] == ""
        )
        assert "withheld (" in matrix["hover"][row][0]
    note = page.text("#overview-note")
    assert "withheld" in note and "only the sites of publicly listed companies" in note
    page.wait_until(lambda: rows_of(page, "#overview-ranked-table"), what="the ranked list")
    ranked = page.text("#overview-ranked-table")
    assert "withheld" in ranked and "available capacity" not in ranked.lower()
    last = page.driver.find_elements(By.CSS_SELECTOR, "#overview-ranked-table tbody tr")[-len(withheld) :]
    assert [row.get_attribute("data-code") for row in last] == withheld  # withheld figures rank last
    assert_clean(page)

"""The page as it loads: header, map, cards; offline (own host only) and free of console errors."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from geodata import nuts
from layers import choropleth

pytestmark = pytest.mark.browser

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
RESOURCE_URLS = """
const urls = performance.getEntriesByType('resource').map(e => e.name);
urls.push(location.href);
document.querySelectorAll('[src], [href]').forEach(el => {
  urls.push(new URL(el.getAttribute('src') || el.getAttribute('href'), location.href).href);
});
return urls.filter(url => !/^(data|blob|javascript|about):/.test(url));
"""


def test_default_page_loads(atlas, official_truth):
    page = atlas()
    duo = page.duo
    duo.wait_for_text_to_equal("h1.atlas-title", "Vaccine Capacity Atlas")
    badges = page.text(".atlas-badges")
    assert "Fictional sample data" in badges
    assert page.text("#role-badge").startswith("Task-force view")
    assert page.text("#account-text") == "Demo on fictional data: official view"
    assert page.text("#account-action") == "Switch role"
    assert page.text(".atlas-attribution") == "© EuroGeographics for the administrative boundaries"
    assert nuts.ATTRIBUTION in page.text("#data-line")

    duo.wait_for_text_to_equal("#card-sites .card-value", "350")
    assert page.card("countries") == "25"

    # the regions are drawn: every NUTS 2 region, on Leaflet's canvas renderer (preferCanvas)
    hideout = page.wait_for_regions(official_truth.hideout(2021, 2))
    page.assert_drawn(hideout, official_truth.order(2021, 2))
    assert duo.find_elements("#map canvas")
    legend = page.text("#legend")
    assert legend.splitlines()[:2] == ["Sites", "sites"]
    assert "0 (none matching)" in legend
    assert page.text("#region-info") == "Hover over a region"


def exercise(page) -> None:
    """Load the map and take the lazy paths too: another geometry, the point layer, the jump control."""
    page.wait_until(page.region_layers, what="the regions on the map")
    page.radio("level", 3)
    page.duo.find_element("#show-sites").click()
    page.wait_until(lambda: page.site_counts()["inClusters"] + page.site_counts()["singles"] > 0)
    page.choose("jump", "Madeira")
    page.wait_until(lambda: page.region_classes()["key"] == "2021-3")


def test_no_foreign_requests(atlas):
    page = atlas()
    exercise(page)
    urls = page.js(RESOURCE_URLS)
    assert any("/atlas/geo/regions-2021-3.json" in url for url in urls)
    assert any("/atlas/geo/sites-2021.json" in url for url in urls)
    foreign = sorted({url for url in urls if urlsplit(url).hostname not in LOCAL_HOSTS})
    assert not foreign, f"the page loaded from other hosts: {foreign}"


def test_no_console_errors(atlas):
    # debug mode: Dash's dev tools also validate the callbacks against the layout and the props
    page = atlas(debug=True, use_reloader=False, dev_tools_hot_reload=False)
    exercise(page)
    severe = [entry for entry in page.duo.get_logs() if entry.get("level") == "SEVERE"]
    assert severe == [], severe
    assert not page.duo.find_elements(".dash-debug-alert, .dash-fe-error__title")


def test_cluster_view_withholds_small_regions(atlas, cluster_truth, official_truth):
    page = atlas(role="cluster")
    assert (
        page.text("#role-badge") == "Cluster view: confidential figures withheld, others slightly perturbed"
    )
    assert page.text("#account-text") == "Demo on fictional data: cluster view"
    # totals over many companies are not confidential: the capacity card shows a (perturbed) figure
    total = cluster_truth.totals(2021)["capacity"]
    assert total is not None
    assert page.card("capacity") == choropleth.short_number(total)

    expected = cluster_truth.hideout(2021, 2)
    hideout = page.wait_for_regions(expected)
    order = cluster_truth.order(2021, 2)
    companies = official_truth.table(2021, 2)["companies"]
    few = [code for code in order if code in companies.index and 1 <= companies[code] <= 2]
    assert few, "the sample should have NUTS 2 regions with only one or two companies"
    reasons = cluster_truth.table(2021, 2)["facilities_withheld"]
    withheld = [code for code in order if reasons.get(code, "")]
    classes = dict(zip(order, hideout["cls"], strict=True))
    assert set(few) <= set(withheld)  # too few companies, plus what protects them (secondary)
    assert {classes[code] for code in withheld} == {-3}
    assert sum(klass == -3 for klass in hideout["cls"]) == len(withheld)
    page.assert_drawn(hideout, order)

    legend = page.text("#legend")
    assert "withheld (confidential)" in legend
    rows = legend.splitlines()
    assert rows[rows.index("withheld (confidential)") + 1] == str(len(withheld))

    # site points: a cluster sees only the sites of companies listed publicly
    sites = cluster_truth.matching(2021)
    page.frame(sites)
    page.duo.find_element("#show-sites").click()
    listed = len(cluster_truth.listed(2021))
    assert 0 < listed < len(sites)

    def shown() -> int:
        counts = page.site_counts()
        return counts["inClusters"] + counts["singles"]

    page.wait_until(lambda: shown() == listed, what=f"{listed} publicly listed sites on the map")


def test_map_knows_its_size(atlas):
    page = atlas()
    page.wait_until(page.region_classes)
    size = page.leaflet(
        "const m = window.__atlasMap, c = m.getContainer();"
        "return [m.getSize().x, m.getSize().y, c.clientWidth, c.clientHeight];"
    )
    assert size[:2] == size[2:], "Leaflet's map size differs from its container's"

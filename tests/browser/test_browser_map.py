"""Driving the map: level, version, metric and stage filter; hover; jump; site points."""

from __future__ import annotations

import numpy as np
import pytest
from selenium.webdriver.common.by import By

from geodata import nuts
from layers import bitset

pytestmark = pytest.mark.browser

FILL_FINISH = ("fill_finish",)


def test_controls_change_the_map(atlas, official_truth):
    truth = official_truth
    page = atlas()

    hideout = page.wait_for_regions(truth.hideout(2021, 2))
    assert page.prop("regions", "url").startswith("/atlas/geo/regions-2021-2.json")

    page.radio("level", 3)
    hideout = page.wait_for_regions(truth.hideout(2021, 3))
    assert page.prop("regions", "url").startswith("/atlas/geo/regions-2021-3.json")
    assert len(hideout["cls"]) == len(truth.order(2021, 3))

    page.radio("version", 2024)
    hideout = page.wait_for_regions(truth.hideout(2024, 3))
    assert page.prop("regions", "url").startswith("/atlas/geo/regions-2024-3.json")
    page.assert_drawn(hideout, truth.order(2024, 3))

    page.choose("metric", "Capacity")
    hideout = page.wait_for_regions(truth.hideout(2024, 3, "capacity"))
    page.duo.wait_for_text_to_equal("#legend .legend-title", "Capacity")
    assert page.text("#legend .legend-unit") == "doses/month"

    page.choose("stage", "Fill & finish")
    assert page.prop("stage", "value") == ["fill_finish"]
    hideout = page.wait_for_regions(truth.hideout(2024, 3, "capacity", FILL_FINISH))
    page.assert_drawn(hideout, truth.order(2024, 3))
    matching = truth.matching(2024, FILL_FINISH)
    assert 0 < len(matching) < 350
    page.duo.wait_for_text_to_equal("#card-sites .card-value", f"{len(matching):,}")
    companies = matching["company"].astype(str).str.strip().str.casefold().nunique()
    assert page.card("companies") == f"{companies:,}"

    # the legend's class counts add up to the regions drawn
    counts = [int(n.text.replace(",", "")) for n in page.duo.find_elements("#legend .legend-count")]
    assert sum(counts) == len(hideout["cls"])

    page.choose("metric", "Specialisation (location quotient)")
    page.wait_for_regions(truth.hideout(2024, 3, "specialisation", FILL_FINISH))
    page.duo.wait_for_text_to_equal("#legend .legend-title", "Specialisation (location quotient)")


def test_hover_shows_the_region(atlas, official_truth):
    page = atlas()
    hideout = page.wait_for_regions(official_truth.hideout(2021, 2))
    page.assert_drawn(hideout, official_truth.order(2021, 2))  # shapes loaded: hover can hit them
    table = official_truth.table(2021, 2)
    names = nuts.names(2021)

    for code, (lat, lon) in {"FR10": (48.85, 2.35), "ES30": (40.42, -3.70)}.items():
        page.hover(lat, lon)
        title = f"{names[code]} ({code})"
        page.duo.wait_for_text_to_equal("#region-info .info-title", title)
        sites = int(table.loc[code, "facilities"])
        assert page.text("#region-info").splitlines()[1] == f"Sites: {sites:,} sites"

    page.hover(45.0, -9.0)  # the Atlantic: out of every region
    page.duo.wait_for_text_to_equal("#region-info", "Hover over a region")


def test_jump_to_the_canaries(atlas, official_truth):
    page = atlas()
    page.wait_for_regions(official_truth.hideout(2021, 2))
    zoom_before = page.prop("map", "zoom")

    page.choose("jump", "Canarias")

    def on_the_canaries():
        center = page.prop("map", "center") or {}
        lat, lon = center.get("lat", 0), center.get("lng", 0)
        return 27.0 < lat < 29.8 and -18.5 < lon < -13.0

    page.wait_until(on_the_canaries, what="the map to centre on the Canary Islands")
    assert page.prop("map", "zoom") > zoom_before + 2
    south, west, north, east = page.leaflet(
        "const b = window.__atlasMap.getBounds();"
        "return [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()];"
    )
    assert south < 28.0 < north and west < -16.0 < east
    assert north - south < 8, "the view should be on the islands, not on Europe"


def test_site_points(atlas, official_truth):
    page = atlas()
    page.wait_for_regions(official_truth.hideout(2021, 2))
    assert page.prop("sites", "url") is None
    assert page.site_counts()["singles"] == 0

    page.frame(official_truth.matching(2021))
    page.duo.find_element("#show-sites").click()
    everything = len(official_truth.matching(2021))

    def shown() -> int:
        counts = page.site_counts()
        return counts["inClusters"] + counts["singles"]

    page.wait_until(lambda: shown() == everything, what=f"{everything} sites in clusters and points")
    counts = page.site_counts()
    assert counts["clusters"] > 0 and counts["badges"] == counts["clusters"]
    assert page.prop("sites", "url").startswith("/atlas/geo/sites-2021.json")

    page.choose("stage", "Fill & finish")
    matching = official_truth.matching(2021, FILL_FINISH)
    page.wait_until(lambda: shown() == len(matching), what=f"{len(matching)} fill & finish sites on the map")

    hideout = page.prop("sites", "hideout")
    index = official_truth.index(2021)
    mask = bitset.decode(hideout["bits"], hideout["n"])
    assert hideout["n"] == index.n
    assert sorted(index.row[mask]) == sorted(official_truth.placed(2021).index.get_indexer(matching.index))

    page.duo.find_element("#show-sites").click()
    page.wait_until(lambda: shown() == 0, what="the site points to go away")


def test_site_points_are_above_the_regions(atlas, official_truth):
    page = atlas()
    page.wait_for_regions(official_truth.hideout(2021, 2))
    # the site farthest from any other: a single point, not a cluster, at zoom 9
    sites = official_truth.matching(2021)
    lat, lon = sites["map_lat"].to_numpy(float), sites["map_lon"].to_numpy(float)
    dy, dx = lat[:, None] - lat[None, :], (lon[:, None] - lon[None, :]) * np.cos(np.radians(lat))[:, None]
    distance = np.hypot(dx, dy)
    np.fill_diagonal(distance, np.inf)
    alone = int(distance.min(axis=1).argmax())
    assert distance[alone].min() > 0.5, "the sample should have a site far from any other"
    page.leaflet(
        "window.__atlasMap.setView([arguments[0], arguments[1]], 9, {animate: false});",
        lat[alone],
        lon[alone],
    )
    page.duo.find_element("#show-sites").click()
    page.wait_until(lambda: page.site_counts()["singles"] >= 1, what="the site's point")

    page.hover(lat[alone], lon[alone])
    tooltips = page.wait_until(
        lambda: page.driver.find_elements(By.CSS_SELECTOR, ".leaflet-tooltip"), timeout=5, what="its tooltip"
    )
    assert str(sites["company"].iloc[alone]) in tooltips[0].text

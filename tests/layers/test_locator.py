"""The region page's locator map: the region in colour among its neighbours, fitted to the frame."""

from __future__ import annotations

import re

import geopandas as gpd
from shapely.geometry import box

from layers import locator


def test_the_region_is_coloured_and_everything_fits_the_frame() -> None:
    regions = gpd.GeoDataFrame(
        {"NUTS_ID": ["AA1", "AA2"]}, geometry=[box(0, 50, 2, 52), box(2, 50, 4, 52)], crs="EPSG:4326"
    )
    svg = locator.svg(regions, "AA2", "Where <B> & C lies")
    paths = re.findall(r'<path d="([^"]+)" fill="([^"]+)"', svg)
    assert [fill for _d, fill in paths] == [locator.OTHER_FILL, locator.REGION_FILL]
    numbers = [float(n) for d, _f in paths for n in re.findall(r"-?\d+\.?\d*", d)]
    xs, ys = numbers[0::2], numbers[1::2]
    assert min(xs) >= 0 and max(xs) <= locator.WIDTH and min(ys) >= 0 and max(ys) <= locator.HEIGHT
    # 4 degrees of longitude at 51 N are narrower than 2 degrees of latitude times 2: the cosine
    width, height = max(xs) - min(xs), max(ys) - min(ys)
    assert abs(width / height - (4 * 0.629) / 2) < 0.02
    assert "<title>Where &lt;B&gt; &amp; C lies</title>" in svg


def test_nothing_to_draw_gives_nothing() -> None:
    empty = gpd.GeoDataFrame({"NUTS_ID": []}, geometry=[], crs="EPSG:4326")
    assert locator.svg(empty, "AA1", "x") == ""

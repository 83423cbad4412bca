"""A small locator map as SVG: the region's country (or its level-1 parent's regions) in grey, the
region in the map's colour. Drawn on the server from the NUTS shapes, so it needs no tiles and
prints as it shows."""

from __future__ import annotations

import math

import geopandas as gpd
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

WIDTH, HEIGHT = 320, 240
REGION_FILL = "#225ea8"
OTHER_FILL = "#e9e7e1"
EDGE = "#8c8c8c"


def svg(regions: gpd.GeoDataFrame, code: str, title: str) -> str:
    """The regions of ``regions`` (NUTS_ID, geometry; EPSG:4326) with ``code`` highlighted, fitted
    to the frame (equirectangular, x shrunk by the cosine of the mean latitude)."""
    frame = regions[regions.geometry.notna()]
    if frame.empty:
        return ""
    west, south, east, north = frame.total_bounds
    squeeze = math.cos(math.radians((south + north) / 2))
    span_x = max((east - west) * squeeze, 1e-6)
    span_y = max(north - south, 1e-6)
    scale = min((WIDTH - 8) / span_x, (HEIGHT - 8) / span_y)
    off_x = (WIDTH - span_x * scale) / 2
    off_y = (HEIGHT - span_y * scale) / 2
    tolerance = 0.6 / scale  # about half a pixel

    def point(x: float, y: float) -> str:
        return f"{off_x + (x - west) * squeeze * scale:.1f},{off_y + (north - y) * scale:.1f}"

    def path(geometry: BaseGeometry) -> str:
        parts = []
        polygons = geometry.geoms if isinstance(geometry, MultiPolygon) else [geometry]
        for polygon in polygons:
            if not isinstance(polygon, Polygon):
                continue
            for ring in (polygon.exterior, *polygon.interiors):
                coords = list(ring.coords)
                if len(coords) >= 3:
                    parts.append("M" + " L".join(point(x, y) for x, y in coords) + " Z")
        return " ".join(parts)

    shapes = []
    for nuts_id, geometry in zip(frame["NUTS_ID"], frame.geometry.simplify(tolerance), strict=True):
        chosen = nuts_id == code
        fill, width = (REGION_FILL, 1.2) if chosen else (OTHER_FILL, 0.5)
        shapes.append(f'<path d="{path(geometry)}" fill="{fill}" stroke="{EDGE}" stroke-width="{width}"/>')
    label = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img"><title>{label}</title>{"".join(shapes)}</svg>'
    )

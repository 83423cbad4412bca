"""GeoJSON the browser loads once: region shapes, base-map outlines, site points.

Coordinates are lon/lat (EPSG:4326) rounded to 4 decimals (about 10 m, far below the
1:20 million generalisation) to keep the files small.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from plotly.colors import qualitative

from geodata import vocab

PRECISION = 1e-4
#: Carto 'Safe' qualitative palette (colour-blind safe), one colour per production stage.
STAGE_COLOURS: dict[str, str] = dict(zip(vocab.STAGES, qualitative.Safe, strict=False))
STAGE_INDEX: dict[str, int] = {code: i for i, code in enumerate(vocab.STAGES)}
#: Outermost regions (NUTS 2) reachable through the map's jump control.
OUTERMOST: dict[str, str] = {
    "ES70": "Canarias",
    "PT20": "Açores",
    "PT30": "Madeira",
    "FRY1": "Guadeloupe",
    "FRY2": "Martinique",
    "FRY3": "Guyane",
    "FRY4": "La Réunion",
    "FRY5": "Mayotte",
}
#: Continental Europe, [[south, west], [north, east]].
EUROPE_BOUNDS = [[34.5, -11.0], [71.0, 34.0]]


def _rounded(geometry: gpd.GeoSeries) -> np.ndarray:
    return shapely.set_precision(geometry.values, PRECISION, mode="pointwise")


def regions_geojson(regions: gpd.GeoDataFrame, key: str, countries: Iterable[str]) -> dict[str, object]:
    """Region polygons of the given countries as GeoJSON, in NUTS_ID order.

    Each feature carries: i (position, which the per-update class list is aligned to),
    id (NUTS_ID), name (NAME_LATN), k (``key``, the geometry's name).
    """
    subset = regions[regions["CNTR_CODE"].isin(set(countries))].sort_values("NUTS_ID")
    features = []
    for i, (code, name, geom) in enumerate(
        zip(subset["NUTS_ID"], subset["NAME_LATN"], _rounded(subset.geometry), strict=True)
    ):
        features.append(
            {
                "type": "Feature",
                "properties": {"i": i, "id": code, "name": name, "k": key},
                "geometry": json.loads(shapely.to_geojson(geom)),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def region_order(regions: gpd.GeoDataFrame, countries: Iterable[str]) -> list[str]:
    """NUTS_IDs in the order of :func:`regions_geojson`'s features."""
    return sorted(regions.loc[regions["CNTR_CODE"].isin(set(countries)), "NUTS_ID"])


def basemap_geojson(countries: gpd.GeoDataFrame, covered: Iterable[str]) -> dict[str, object]:
    """Country outlines (NUTS level 0); ``covered`` countries are flagged, neighbours greyed."""
    covered = set(covered)
    features = [
        {
            "type": "Feature",
            "properties": {"id": code, "name": name, "covered": code in covered},
            "geometry": json.loads(shapely.to_geojson(geom)),
        }
        for code, name, geom in zip(
            countries["NUTS_ID"], countries["NAME_LATN"], _rounded(countries.geometry), strict=True
        )
    ]
    return {"type": "FeatureCollection", "features": features}


def sites_geojson(placed: pd.DataFrame, rows: Sequence[int], show_company: np.ndarray) -> dict[str, object]:
    """Site points for the map, one feature per placed site.

    ``rows``: positions in ``placed`` of the indexed sites (the order of the filter bitset);
    ``show_company``: whether the company may be named. Stages are given as positions in
    vocab.STAGES (labels and colours travel once, in :func:`site_legend`). Capacity figures
    never go here.
    """
    sites = placed.iloc[list(rows)]
    allowed = np.asarray(show_company)[list(rows)]
    companies = [str(c) if ok else None for c, ok in zip(sites["company"], allowed, strict=True)]
    cities = [None if pd.isna(c) else str(c) for c in sites["city"]]
    features = [
        {
            "type": "Feature",
            "properties": {
                "i": i,
                "company": company,
                "city": city,
                "s": [STAGE_INDEX[s] for s in stages],
                "approx": placed_by != "coordinates",
            },
            "geometry": {"type": "Point", "coordinates": [round(float(x), 5), round(float(y), 5)]},
        }
        for i, (company, city, stages, placed_by, x, y) in enumerate(
            zip(
                companies,
                cities,
                sites["stages"],
                sites["placed_by"],
                sites["map_lon"],
                sites["map_lat"],
                strict=True,
            )
        )
    ]
    return {"type": "FeatureCollection", "features": features}


def site_legend() -> dict[str, list[str]]:
    """Stage labels and colours in vocab.STAGES order, for the site layer's tooltips and dots."""
    return {"labels": list(vocab.STAGES.values()), "colours": [STAGE_COLOURS[c] for c in vocab.STAGES]}


def bounds_of(regions: gpd.GeoDataFrame, codes: Iterable[str]) -> dict[str, list[list[float]]]:
    """[[south, west], [north, east]] of each code present in ``regions``."""
    subset = regions[regions["NUTS_ID"].isin(set(codes))]
    return {
        code: [[round(b[1], 3), round(b[0], 3)], [round(b[3], 3), round(b[2], 3)]]
        for code, b in zip(subset["NUTS_ID"], subset.geometry.bounds.to_numpy(), strict=True)
    }

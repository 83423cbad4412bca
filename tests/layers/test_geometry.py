"""GeoJSON builders on hand-made shapes: region subset and order, rounding, base map, sites, bounds."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Polygon, box, shape

from geodata import vocab
from layers import geometry
from layers.geometry import basemap_geojson, bounds_of, region_order, regions_geojson, sites_geojson


def regions() -> gpd.GeoDataFrame:
    """Four NUTS 3 regions, deliberately not in NUTS_ID order; FR101 has unrounded vertices."""
    return gpd.GeoDataFrame(
        {
            "NUTS_ID": ["FR101", "DE112", "AT111", "DE111"],
            "CNTR_CODE": ["FR", "DE", "AT", "DE"],
            "NAME_LATN": ["Commune Un", "Kreis Ost", "Mittelburgenland", "Kreis West"],
        },
        geometry=[
            Polygon([(2.123456, 46.987654), (3.00004, 46.1), (3.1, 47.33336)]),
            box(11, 50, 12, 51),
            box(16, 47, 17, 48),
            box(10, 50, 11, 51),
        ],
        crs=4326,
    )


def coordinates(geojson: dict) -> list[float]:
    out: list[float] = []

    def walk(node: object) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        else:
            out.append(node)

    for feature in geojson["features"]:
        walk(feature["geometry"]["coordinates"])
    return out


def test_regions_keep_the_given_countries_in_nuts_id_order() -> None:
    result = regions_geojson(regions(), "2021-3", ["FR", "DE"])
    assert result["type"] == "FeatureCollection"
    assert [f["properties"] for f in result["features"]] == [
        {"i": 0, "id": "DE111", "name": "Kreis West", "k": "2021-3"},
        {"i": 1, "id": "DE112", "name": "Kreis Ost", "k": "2021-3"},
        {"i": 2, "id": "FR101", "name": "Commune Un", "k": "2021-3"},
    ]
    assert all(f["type"] == "Feature" for f in result["features"])


def test_region_order_matches_the_features() -> None:
    countries = ("DE", "FR")
    features = regions_geojson(regions(), "k", iter(countries))["features"]
    assert region_order(regions(), iter(countries)) == [f["properties"]["id"] for f in features]
    assert region_order(regions(), ["AT"]) == ["AT111"]
    assert region_order(regions(), []) == []
    assert regions_geojson(regions(), "k", [])["features"] == []


def test_region_coordinates_are_rounded_to_four_decimals() -> None:
    result = regions_geojson(regions(), "k", ["FR", "DE"])
    values = coordinates(result)
    assert values
    assert all(v == round(v, 4) for v in values)
    france = result["features"][2]["geometry"]
    assert france["type"] == "Polygon"
    assert {tuple(p) for p in france["coordinates"][0]} == {
        (2.1235, 46.9877),
        (3.0, 46.1),
        (3.1, 47.3334),
    }
    assert shape(result["features"][0]["geometry"]).equals(box(10, 50, 11, 51))
    assert shape(result["features"][1]["geometry"]).equals(box(11, 50, 12, 51))


def test_basemap_flags_covered_countries() -> None:
    countries = gpd.GeoDataFrame(
        {"NUTS_ID": ["DE", "CH", "FR"], "NAME_LATN": ["Deutschland", "Schweiz", "France"]},
        geometry=[box(6, 47, 15, 55), box(6, 45.8, 10.5, 47.8), box(-5, 42.33333, 8, 51)],
        crs=4326,
    )
    result = basemap_geojson(countries, iter(["FR", "DE"]))
    assert result["type"] == "FeatureCollection"
    assert [f["properties"] for f in result["features"]] == [
        {"id": "DE", "name": "Deutschland", "covered": True},
        {"id": "CH", "name": "Schweiz", "covered": False},
        {"id": "FR", "name": "France", "covered": True},
    ]
    values = coordinates(result)
    assert 42.3333 in values
    assert all(v == round(v, 4) for v in values)


def placed_sites() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "facility_id": ["f1", "f2", "f3"],
            "company": ["Alpha", "Beta", "Gamma"],
            "city": ["Westdorf", None, "Ostdorf"],
            "stages": [("fill_finish", "qc_testing"), ("raw_materials",), ()],
            "placed_by": ["coordinates", "postcode", "nuts3"],
            "map_lon": [10.1234567, 11.5, 2.000001],
            "map_lat": [50.7654321, 50.5, 46.5],
            "capacity_doses_per_month": [1000.0, 2000.0, 3000.0],
            "available_capacity_pct": [50.0, 10.0, 0.0],
            "lead_time_months": [1.0, 2.0, 3.0],
            "staff": [10, 20, 30],
            "bottleneck_notes": ["secret", "secret", "secret"],
        }
    )


def test_sites_follow_the_given_rows_and_hide_unlisted_companies() -> None:
    result = sites_geojson(placed_sites(), [2, 0], np.array([False, True, False]))
    assert result["type"] == "FeatureCollection"
    first, second = result["features"]
    assert first["properties"] == {
        "i": 0,
        "company": None,
        "city": "Ostdorf",
        "s": [],
        "approx": True,
    }
    assert first["geometry"] == {"type": "Point", "coordinates": [2.0, 46.5]}
    assert second["properties"] == {
        "i": 1,
        "company": None,
        "city": "Westdorf",
        "s": [geometry.STAGE_INDEX["fill_finish"], geometry.STAGE_INDEX["qc_testing"]],
        "approx": False,
    }
    assert second["geometry"]["coordinates"] == [10.12346, 50.76543]


def test_sites_name_companies_that_may_be_shown() -> None:
    result = sites_geojson(placed_sites(), [0, 1, 2], np.array([True, True, False]))
    props = [f["properties"] for f in result["features"]]
    assert [p["company"] for p in props] == ["Alpha", "Beta", None]
    assert [p["city"] for p in props] == ["Westdorf", None, "Ostdorf"]
    assert [p["approx"] for p in props] == [False, True, True]
    assert props[1]["s"] == [geometry.STAGE_INDEX["raw_materials"]]
    legend = geometry.site_legend()
    assert legend["labels"][props[1]["s"][0]] == "Raw materials & ingredients"
    assert legend["colours"][props[1]["s"][0]] == geometry.STAGE_COLOURS["raw_materials"]


def test_sites_never_carry_capacity_figures() -> None:
    result = sites_geojson(placed_sites(), [0, 1, 2], np.ones(3, dtype=bool))
    text = repr(result)
    for field in ("capacity", "available", "lead_time", "staff", "notes", "secret", "1000", "facility_id"):
        assert field not in text


def test_every_stage_has_its_own_colour() -> None:
    assert list(geometry.STAGE_COLOURS) == list(vocab.STAGES)
    assert len(set(geometry.STAGE_COLOURS.values())) == len(vocab.STAGES)


def test_bounds_are_south_west_north_east() -> None:
    result = bounds_of(regions(), ["FR101", "DE111", "XX999"])
    assert result == {
        "FR101": [[46.1, 2.123], [47.333, 3.1]],
        "DE111": [[50.0, 10.0], [51.0, 11.0]],
    }
    assert bounds_of(regions(), []) == {}


def test_europe_bounds_and_outermost_regions() -> None:
    (south, west), (north, east) = geometry.EUROPE_BOUNDS
    assert south < north
    assert west < east
    assert set(geometry.OUTERMOST) == {"ES70", "PT20", "PT30", "FRY1", "FRY2", "FRY3", "FRY4", "FRY5"}

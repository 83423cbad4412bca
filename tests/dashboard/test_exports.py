"""CSV exports: formula neutralisation, encoding, provenance, disclosure rules (hand-made NUTS)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from dashboard import exports
from dashboard.data import AtlasData
from dashboard.exports import neutralise, provenance, regions_table, sites_table, to_csv_bytes
from geodata.aggregate import Filters

NOW = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
ATTRIBUTION = "© EuroGeographics for the administrative boundaries"
SENSITIVE = (
    "capacity_doses_per_month",
    "available_capacity_pct",
    "lead_time_months",
    "staff",
    "bottleneck_notes",
)
#: Four sites in the hand-made regions of conftest.tiny_nuts: DE111 (f1, f2), DE112 (f3), FR101 (f4).
FACILITIES_CSV = """\
facility_id,company,country,city,latitude,longitude,stages,capacity_doses_per_month,\
available_capacity_pct,lead_time_months,staff,bottlenecks,bottleneck_notes,public_listing
f1,Alpha,DE,Westdorf,50.5,10.5,fill_finish,1000,50,2,10,vials_stoppers,secret one,yes
f2,Beta,DE,=cmd,50.5,10.6,fill_finish;qc_testing,2000,10,3,20,,secret two,no
f3,Gamma,DE,Ostdorf,50.5,11.5,raw_materials,,,,,,,
f4,Delta,FR,Ville,46.5,2.5,fill_finish,500,100,1,5,,,yes
"""
NAMES = {
    "f1": ("DE", "Deutschland", "DE1", "Land Eins", "DE11", "Bezirk Eins", "DE111", "Kreis West"),
    "f2": ("DE", "Deutschland", "DE1", "Land Eins", "DE11", "Bezirk Eins", "DE111", "Kreis West"),
    "f3": ("DE", "Deutschland", "DE1", "Land Eins", "DE11", "Bezirk Eins", "DE112", "Kreis Ost"),
    "f4": ("FR", "France", "FR1", "Région Un", "FR10", "Département Un", "FR101", "Commune Un"),
}
NUTS_COLUMNS = [f"nuts{level}{suffix}" for level in range(4) for suffix in ("", "_name")]
PROVENANCE = ["dataset", "nuts_version", "filters", "audience", "exported_at", "source"]


# --- neutralise and CSV bytes -----------------------------------------------------------------


def test_neutralise_prefixes_formula_starts_only() -> None:
    frame = pd.DataFrame(
        {
            "text": ["=1+2", "+x", "-y", "@z", "\tq", "\rr", "plain", "a=b", " =x", None],
            "number": [-1.5, 2, -3, 4, 5, 6, 7, 8, 9, 10],
            "count": pd.array([-1, 2, 3, 4, 5, 6, 7, 8, 9, None], dtype="Int64"),
        }
    )
    frame["objects"] = pd.Series(["-a", "b", "@c", "d", "e", "f", "g", "h", "i", "j"], dtype=object)
    original = frame.copy()
    out = neutralise(frame)
    assert out["text"].tolist() == [
        "'=1+2",
        "'+x",
        "'-y",
        "'@z",
        "'\tq",
        "'\rr",
        "plain",
        "a=b",
        " =x",
        pd.NA,
    ]
    assert out["objects"].tolist()[:3] == ["'-a", "b", "'@c"]
    assert_frame_equal(out[["number", "count"]], original[["number", "count"]])
    assert_frame_equal(frame, original)  # the input is left alone


def test_csv_bytes_start_with_a_bom_and_parse_back() -> None:
    frame = pd.DataFrame(
        {
            "nuts_id": ["DE111", "FR101", "PL213"],
            "name": ["Kreis, West", 'Région "Un"', "Kraków"],
            "facilities": [1, 20, 300],
            "share": [1.5, 0.25, -2.0],
        }
    )
    content = to_csv_bytes(frame)
    assert content.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in content
    back = pd.read_csv(io.BytesIO(content), encoding="utf-8-sig")
    assert list(back.columns) == ["nuts_id", "name", "facilities", "share"]
    assert back.to_dict("records") == frame.to_dict("records")


def test_csv_bytes_carry_neutralised_cells() -> None:
    content = to_csv_bytes(pd.DataFrame({"city": ["=HYPERLINK(1)", "Bonn"], "n": [-1, 2]}))
    back = pd.read_csv(io.BytesIO(content), encoding="utf-8-sig")
    assert back["city"].tolist() == ["'=HYPERLINK(1)", "Bonn"]
    assert back["n"].tolist() == [-1, 2]


# --- provenance -------------------------------------------------------------------------------


def test_provenance_columns() -> None:
    filters = Filters(stages=("fill_finish",), countries=("de",))
    assert provenance("survey.csv", 2024, filters, "public", NOW) == {
        "dataset": "survey.csv",
        "nuts_version": "NUTS 2024",
        "filters": "stage: fill_finish; country: DE",
        "audience": "public",
        "exported_at": "2024-05-06T07:08:09Z",
        "source": f"Eurostat GISCO, Territorial units for statistics (NUTS); {ATTRIBUTION}",
    }
    assert provenance("s.csv", 2021, Filters(), "official", NOW)["filters"] == "all sites"


def test_provenance_time_is_utc_whatever_the_zone_of_now() -> None:
    cest = dt.timezone(dt.timedelta(hours=2))
    now = dt.datetime(2024, 5, 6, 9, 8, 9, tzinfo=cest)
    assert provenance("s.csv", 2021, Filters(), "public", now)["exported_at"] == "2024-05-06T07:08:09Z"


# --- sites and regions tables on hand-made NUTS ----------------------------------------------


@pytest.fixture
def atlas(tiny_nuts: Path, tmp_path: Path):
    path = tmp_path / "survey.csv"
    path.write_text(FACILITIES_CSV, encoding="utf-8")
    return lambda audience: AtlasData(path, audience=audience)


def site_rows(data: AtlasData, rows: list[int]) -> pd.DataFrame:
    meta = provenance(data.name, 2021, Filters(), data.audience, NOW)
    return sites_table(data.placed(2021), rows, data.audience, data.names(2021), meta)


def test_public_sites_table(atlas) -> None:
    data = atlas("public")
    out = site_rows(data, [0, 1, 2, 3])
    assert list(out.columns) == [
        *exports.PUBLIC_SITE_COLUMNS,
        *NUTS_COLUMNS,
        "nuts_match",
        "placed_by",
        *PROVENANCE,
    ]
    assert out["facility_id"].tolist() == ["f1", "f2", "f3", "f4"]
    # f3 gave no public_listing: the default is no
    assert out["company"].tolist() == ["Alpha", "(not public)", "(not public)", "Delta"]
    assert not set(SENSITIVE) & set(out.columns)
    assert "public_listing" not in out.columns
    assert out["stages"].tolist() == ["fill_finish", "fill_finish;qc_testing", "raw_materials", "fill_finish"]
    assert out["city"].tolist()[1] == "=cmd"  # neutralised only when written as CSV


def test_official_sites_table_has_the_sensitive_fields(atlas) -> None:
    data = atlas("official")
    out = site_rows(data, [0, 1, 2, 3])
    assert list(out.columns) == [
        *exports.PUBLIC_SITE_COLUMNS,
        *SENSITIVE,
        "public_listing",
        *NUTS_COLUMNS,
        "nuts_match",
        "placed_by",
        *PROVENANCE,
    ]
    assert out["company"].tolist() == ["Alpha", "Beta", "Gamma", "Delta"]
    assert out["capacity_doses_per_month"].tolist()[:2] == [1000, 2000]
    assert pd.isna(out["capacity_doses_per_month"].iloc[2])
    assert out["staff"].tolist()[:2] == [10, 20]
    assert out["bottleneck_notes"].tolist()[:2] == ["secret one", "secret two"]
    assert out["public_listing"].tolist() == ["yes", "no", "no", "yes"]


@pytest.mark.parametrize("audience", ["public", "official"])
def test_sites_table_names_every_nuts_level(atlas, audience: str) -> None:
    out = site_rows(atlas(audience), [0, 1, 2, 3])
    for _, site in out.iterrows():
        assert tuple(site[NUTS_COLUMNS]) == NAMES[site["facility_id"]]
    assert set(out["placed_by"]) == {"coordinates"}
    assert set(out["nuts_match"]) == {"within"}


def test_sites_table_keeps_the_given_rows_in_order(atlas) -> None:
    data = atlas("public")
    out = site_rows(data, [3, 0])
    assert out["facility_id"].tolist() == ["f4", "f1"]
    assert out["company"].tolist() == ["Delta", "Alpha"]
    assert out.index.tolist() == [0, 1]
    assert (out["nuts3_name"] == ["Commune Un", "Kreis West"]).all()
    assert (out["audience"] == "public").all()
    assert (out["source"].str.endswith(ATTRIBUTION)).all()


def test_public_sites_csv_never_contains_sensitive_values(atlas) -> None:
    data = atlas("public")
    meta = provenance(data.name, 2021, Filters(), "public", NOW)
    text = to_csv_bytes(site_rows(data, [0, 1, 2, 3])).decode("utf-8-sig")
    assert "secret" not in text
    assert "Beta" not in text
    assert "Gamma" not in text
    back = pd.read_csv(io.StringIO(text), dtype=str)
    assert back["city"].tolist() == ["Westdorf", "'=cmd", "Ostdorf", "Ville"]
    assert back.loc[0, "exported_at"] == meta["exported_at"]


def test_regions_table() -> None:
    table = pd.DataFrame(
        {"facilities": [3, 0], "companies": [3, 0], "suppressed": ["", ""]},
        index=pd.Index(["DE111", "DE112"], name="nuts3"),
    )
    names = pd.Series({"DE111": "Kreis West", "DE112": "Kreis Ost", "DE1": "Land Eins"})
    meta = provenance("s.csv", 2021, Filters(), "official", NOW)
    out = regions_table(table, 3, names, meta)
    assert list(out.columns) == [
        "nuts_id",
        "name",
        "level",
        "facilities",
        "companies",
        "suppressed",
        *PROVENANCE,
    ]
    assert out["nuts_id"].tolist() == ["DE111", "DE112"]
    assert out["name"].tolist() == ["Kreis West", "Kreis Ost"]
    assert out["level"].tolist() == [3, 3]
    assert out["facilities"].tolist() == [3, 0]
    assert (out["nuts_version"] == "NUTS 2021").all()
    assert np.array_equal(table["facilities"].to_numpy(), [3, 0])  # input unchanged

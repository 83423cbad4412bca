"""CSV exports: formula neutralisation, encoding, provenance, what each role gets (hand-made NUTS)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from dashboard import views
from dashboard.data import AtlasData
from dashboard.exports import neutralise, provenance, regions_table, sites_table, to_csv_bytes
from geodata import disclosure, vocab
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
#: The site fields every role may see (of the sites it may see at all), in export order.
SITE_COLUMNS = [
    "facility_id",
    "company",
    "company_id",
    "country",
    "city",
    "company_size",
    "cluster",
    "stages",
    "platforms",
    "bottlenecks",
    "gmp_certified",
    "contact_consent",
]
NUTS_COLUMNS = [f"nuts{level}{suffix}" for level in range(4) for suffix in ("", "_name")]
PROVENANCE = ["dataset", "nuts_version", "filters", "role", "exported_at", "source"]
FEW_TEXT = "confidential: too few companies"


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
    assert provenance("survey.csv", 2024, filters, "cluster", NOW) == {
        "dataset": "survey.csv",
        "nuts_version": "NUTS 2024",
        "filters": "stage: fill_finish; country: DE",
        "role": "cluster",
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
def data(tiny_nuts: Path, tmp_path: Path) -> AtlasData:
    path = tmp_path / "survey.csv"
    path.write_text(FACILITIES_CSV, encoding="utf-8")
    return AtlasData(path, rules=disclosure.Rules(key="test-key"))


def site_rows(data: AtlasData, rows: list[int], role: str) -> pd.DataFrame:
    meta = provenance(data.name, 2021, Filters(), role, NOW)
    return sites_table(data.placed(2021), rows, role, data.names(2021), meta)


def visible_rows(data: AtlasData, role: str) -> list[int]:
    """Positions in the placed table of the sites ``role`` may see (as views.shown_sites gives them)."""
    return data.index(2021).row[data.visible(2021, role)].tolist()


@pytest.mark.parametrize("role", ["cluster", "public"])
def test_restricted_roles_see_only_sites_of_listed_companies(data: AtlasData, role: str) -> None:
    # f2 said no and f3 gave no answer (the default is no): only Alpha's and Delta's sites
    assert visible_rows(data, role) == [0, 3]
    assert visible_rows(data, "official") == [0, 1, 2, 3]


def test_cluster_sites_table(data: AtlasData) -> None:
    out = site_rows(data, visible_rows(data, "cluster"), "cluster")
    assert list(out.columns) == [*SITE_COLUMNS, *NUTS_COLUMNS, "nuts_match", "placed_by", *PROVENANCE]
    assert out["facility_id"].tolist() == ["f1", "f4"]
    assert out["company"].tolist() == ["Alpha", "Delta"]
    assert not set(SENSITIVE) & set(out.columns)
    assert "public_listing" not in out.columns
    assert out["stages"].tolist() == ["fill_finish", "fill_finish"]
    assert (out["role"] == "cluster").all()


def test_official_sites_table_has_the_sensitive_fields(data: AtlasData) -> None:
    out = site_rows(data, [0, 1, 2, 3], "official")
    assert list(out.columns) == [
        *SITE_COLUMNS,
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
    assert out["stages"].tolist() == ["fill_finish", "fill_finish;qc_testing", "raw_materials", "fill_finish"]
    assert out["city"].tolist()[1] == "=cmd"  # neutralised only when written as CSV


@pytest.mark.parametrize("role", ["cluster", "official"])
def test_sites_table_names_every_nuts_level(data: AtlasData, role: str) -> None:
    out = site_rows(data, visible_rows(data, role), role)
    assert len(out) == (2 if role == "cluster" else 4)
    for _, site in out.iterrows():
        assert tuple(site[NUTS_COLUMNS]) == NAMES[site["facility_id"]]
    assert set(out["placed_by"]) == {"coordinates"}
    assert set(out["nuts_match"]) == {"within"}


def test_sites_table_keeps_the_given_rows_in_order(data: AtlasData) -> None:
    out = site_rows(data, [3, 0], "cluster")
    assert out["facility_id"].tolist() == ["f4", "f1"]
    assert out["company"].tolist() == ["Delta", "Alpha"]
    assert out.index.tolist() == [0, 1]
    assert (out["nuts3_name"] == ["Commune Un", "Kreis West"]).all()
    assert (out["role"] == "cluster").all()
    assert (out["source"].str.endswith(ATTRIBUTION)).all()


def test_cluster_sites_csv_never_contains_sensitive_values(data: AtlasData) -> None:
    content, name = views.export_sites(data, 2021, Filters(), NOW, "cluster")
    assert name == "sites_survey_nuts2021_20240506-070809.csv"
    text = content.decode("utf-8-sig")
    for secret in ("secret", "Beta", "Gamma", "=cmd", "1000", "2000"):
        assert secret not in text
    back = pd.read_csv(io.StringIO(text), dtype=str)
    assert back["facility_id"].tolist() == ["f1", "f4"]
    assert back["city"].tolist() == ["Westdorf", "Ville"]
    assert not set(SENSITIVE) & set(back.columns)
    assert back.loc[0, "exported_at"] == "2024-05-06T07:08:09Z"
    assert set(back["role"]) == {"cluster"}


def test_official_sites_csv_neutralises_formulas(data: AtlasData) -> None:
    content, _ = views.export_sites(data, 2021, Filters(), NOW, "official")
    back = pd.read_csv(io.BytesIO(content), encoding="utf-8-sig", dtype=str)
    assert back["city"].tolist() == ["Westdorf", "'=cmd", "Ostdorf", "Ville"]
    assert back["bottleneck_notes"].tolist()[:2] == ["secret one", "secret two"]
    assert set(back["role"]) == {"official"}


def test_cluster_regions_export_gives_the_reason_not_the_value(data: AtlasData) -> None:
    # every NUTS 3 region holds fewer than 3 companies: DE111 Alpha and Beta, DE112 Gamma, FR101 Delta
    content, name = views.export_regions(data, 2021, 3, Filters(), NOW, "cluster")
    assert name == "regions_survey_nuts2021_level3_20240506-070809.csv"
    back = pd.read_csv(io.BytesIO(content), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert back["nuts_id"].tolist() == ["DE111", "DE112", "FR101"]
    assert back["name"].tolist() == ["Kreis West", "Kreis Ost", "Commune Un"]
    for metric in ("facilities", "companies", "capacity", "available_capacity", "bottleneck_reports"):
        assert back[metric].tolist() == ["", "", ""], metric
        assert back[disclosure.withheld_column(metric)].tolist() == [FEW_TEXT] * 3, metric
    assert set(back["role"]) == {"cluster"}
    text = content.decode("utf-8-sig")
    assert "3000" not in text  # DE111's capacity, 1000 + 2000


def test_official_regions_export_gives_the_values_and_says_why_others_do_not_see_them(
    data: AtlasData,
) -> None:
    content, _ = views.export_regions(data, 2021, 3, Filters(), NOW, "official")
    back = pd.read_csv(io.BytesIO(content), encoding="utf-8-sig", keep_default_na=False).set_index("nuts_id")
    assert back["facilities"].tolist() == [2, 1, 1]
    assert back["capacity"].tolist() == [3000, 0, 500]
    assert back["available_capacity"].tolist() == [700, 0, 500]  # 1000 x 50% + 2000 x 10%; 500 x 100%
    assert back.loc["DE111", "capacity_withheld"] == FEW_TEXT


def test_regions_table() -> None:
    metrics = list(vocab.METRICS)
    table = pd.DataFrame(
        {metric: [3.0, np.nan] for metric in metrics},
        index=pd.Index(["DE111", "DE112"], name="nuts3"),
    )
    for metric in metrics:
        table[disclosure.withheld_column(metric)] = ["", "few"]
    table["capacity_withheld"] = ["dominant", "secondary"]
    table["specialisation_withheld"] = ["derived", "few"]
    names = pd.Series({"DE111": "Kreis West", "DE112": "Kreis Ost", "DE1": "Land Eins"})
    meta = provenance("s.csv", 2021, Filters(), "cluster", NOW)
    out = regions_table(table, 3, names, meta)
    assert list(out.columns) == [
        "nuts_id",
        "name",
        "level",
        *metrics,
        *(f"{metric}_withheld" for metric in metrics),
        *PROVENANCE,
    ]
    assert out["nuts_id"].tolist() == ["DE111", "DE112"]
    assert out["name"].tolist() == ["Kreis West", "Kreis Ost"]
    assert out["level"].tolist() == [3, 3]
    assert out["facilities"].tolist()[0] == 3
    assert out["facilities_withheld"].tolist() == ["", FEW_TEXT]
    assert out["capacity_withheld"].tolist() == [
        "confidential: one or two companies would dominate this figure",
        "confidential: withheld so that another confidential figure cannot be worked out",
    ]
    assert out["specialisation_withheld"].tolist() == [
        "confidential: computed from a confidential figure",
        FEW_TEXT,
    ]
    assert (out["nuts_version"] == "NUTS 2021").all()
    assert (out["role"] == "cluster").all()
    assert table["capacity_withheld"].tolist() == ["dominant", "secondary"]  # input unchanged

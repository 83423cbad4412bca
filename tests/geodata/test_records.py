"""Validating facility rows: every rejection reason, notes for conversions, typed output."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from geodata import vocab
from geodata.readers import InputError
from geodata.records import FIELDS, Problem, facilities_to_flat, load_facilities, parse_number

BASE = {
    "facility_id": "f1",
    "company": "Acme",
    "country": "DE",
    "latitude": "50.5",
    "longitude": "10.5",
    "stages": "fill_finish",
}


def write_csv(path: Path, rows: list[dict[str, str]], delimiter: str = ",") -> Path:
    """A CSV with the union of the rows' keys as header (in first-seen order)."""
    header = list(dict.fromkeys(k for row in rows for k in row))
    lines = [delimiter.join(header)] + [delimiter.join(row.get(k, "") for k in header) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def one_row(tmp_path: Path, **cells: str):
    return load_facilities(write_csv(tmp_path / "sites.csv", [{**BASE, **cells}]))


STAGE_CODES = ", ".join(vocab.STAGES)


@pytest.mark.parametrize(
    ("cells", "field", "value", "reason"),
    [
        ({"facility_id": ""}, "facility_id", "", "required; the cell is empty"),
        ({"company": ""}, "company", "", "required; the cell is empty"),
        ({"country": ""}, "country", "", "required; give the Eurostat country code, e.g. DE, FR, EL"),
        ({"stages": ""}, "stages", "", f"required; list at least one of: {STAGE_CODES}"),
        (
            {"stages": "Fill & finish; baking"},
            "stages",
            "baking",
            f"unknown value; use codes or labels of: {STAGE_CODES} (separate with ';')",
        ),
        (
            {"platforms": "dna"},
            "platforms",
            "dna",
            f"unknown value; use codes or labels of: {', '.join(vocab.PLATFORMS)} (separate with ';')",
        ),
        (
            {"bottlenecks": "weather"},
            "bottlenecks",
            "weather",
            f"unknown value; use codes or labels of: {', '.join(vocab.BOTTLENECKS)} (separate with ';')",
        ),
        (
            {"company_size": "huge"},
            "company_size",
            "huge",
            "unknown value; use one of: micro, small, medium, large",
        ),
        ({"capacity_doses_per_month": "lots"}, "capacity_doses_per_month", "lots", "not a number"),
        ({"capacity_doses_per_month": "-5"}, "capacity_doses_per_month", "-5", "must be at least 0"),
        ({"available_capacity_pct": "120"}, "available_capacity_pct", "120", "must be between 0 and 100"),
        ({"available_capacity_pct": "-1"}, "available_capacity_pct", "-1", "must be between 0 and 100"),
        ({"lead_time_months": "-0.5"}, "lead_time_months", "-0.5", "must be at least 0"),
        ({"staff": "12.5"}, "staff", "12.5", "must be a whole number"),
        ({"gmp_certified": "maybe"}, "gmp_certified", "maybe", "use yes or no"),
        ({"public_listing": "perhaps"}, "public_listing", "perhaps", "use yes or no"),
        ({"survey_date": "31/03/2021"}, "survey_date", "31/03/2021", "use an ISO date, YYYY-MM-DD"),
        ({"longitude": ""}, "longitude", "", "give both latitude and longitude, or neither"),
        ({"latitude": ""}, "latitude", "", "give both latitude and longitude, or neither"),
        ({"latitude": "95"}, "latitude", "95", "outside -90..90 decimal degrees"),
        ({"longitude": "-181"}, "longitude", "-181", "outside -180..180 decimal degrees"),
        ({"latitude": "north"}, "latitude", "north", "not a number in decimal degrees (WGS84)"),
        (
            {"latitude": "", "longitude": ""},
            "latitude/longitude",
            "",
            "the site cannot be located: give coordinates, a postcode or a nuts3 code",
        ),
        (
            {"nuts3": "DE1"},
            "nuts3",
            "DE1",
            "not a NUTS 3 code (two letters and three characters, e.g. DE254)",
        ),
        (
            {"country": "XX"},
            "country",
            "XX",
            "not a country code NUTS covers; use the two-letter Eurostat code",
        ),
    ],
)
def test_each_rejection_reason(
    tmp_path: Path, cells: dict[str, str], field: str, value: str, reason: str
) -> None:
    table = one_row(tmp_path, **cells)
    assert table.problems == [Problem("sites.csv", 2, field, value, reason)]
    assert table.facilities.empty
    assert list(table.facilities.columns) == [*FIELDS, "source_row"]
    assert table.rejected["rejection_reasons"].tolist() == [f"{field}: {reason}"]


def test_rejected_rows_are_kept_as_written_with_all_their_reasons(tmp_path: Path) -> None:
    rows = [
        {**BASE, "facility_id": "ok", "capacity_doses_per_month": "1,5"},
        {**BASE, "facility_id": "bad", "capacity_doses_per_month": " lots ", "staff": "1.5"},
    ]
    table = load_facilities(write_csv(tmp_path / "sites.csv", rows, delimiter=";"))
    assert table.facilities["facility_id"].tolist() == ["ok"]
    expected = pd.DataFrame(
        {
            "facility_id": ["bad"],
            "company": ["Acme"],
            "country": ["DE"],
            "latitude": ["50.5"],
            "longitude": ["10.5"],
            "stages": ["fill_finish"],
            "capacity_doses_per_month": [" lots "],
            "staff": ["1.5"],
            "source_row": [3],
            "rejection_reasons": ["capacity_doses_per_month: not a number; staff: must be a whole number"],
        },
        dtype=object,
    )
    assert_frame_equal(table.rejected, expected, check_dtype=False)
    assert [(p.file, p.row, p.field) for p in table.errors] == [
        ("sites.csv", 3, "capacity_doses_per_month"),
        ("sites.csv", 3, "staff"),
    ]
    assert str(table.errors[1]) == "sites.csv, row 3, staff = '1.5': must be a whole number"


def test_duplicate_facility_id_names_both_rows(tmp_path: Path) -> None:
    rows = [{**BASE}, {**BASE, "company": "Other"}, {**BASE, "facility_id": "f2"}]
    table = load_facilities(write_csv(tmp_path / "sites.csv", rows))
    assert table.errors == [
        Problem(
            "sites.csv",
            3,
            "facility_id",
            "f1",
            "duplicate: the same facility_id is on row 2; give each site its own id",
        )
    ]
    assert table.facilities["facility_id"].tolist() == ["f1", "f2"]
    assert table.rejected["source_row"].tolist() == [3]


def test_row_with_wrong_number_of_fields_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text("facility_id,company,country,nuts3,stages\nf1,Acme,DE,DE111,qc\nf2,Beta,DE\n")
    table = load_facilities(path)
    assert table.errors[0] == Problem("sites.csv", 3, "(row)", "", "row has 3 fields but the header has 5")
    # the padded cells are checked too: the short row lacks its location and stages
    assert [p.field for p in table.errors[1:]] == ["latitude/longitude", "stages"]
    assert table.facilities["facility_id"].tolist() == ["f1"]
    assert table.rejected["facility_id"].tolist() == ["f2"]


def test_iso_gr_is_converted_to_el_and_recorded_as_a_note(tmp_path: Path) -> None:
    table = one_row(tmp_path, country="gr")
    assert table.facilities["country"].tolist() == ["EL"]
    assert table.errors == []
    assert table.problems == [
        Problem("sites.csv", 2, "country", "gr", "ISO code converted to Eurostat code EL", "note")
    ]


def test_labels_become_codes_without_duplicates(tmp_path: Path) -> None:
    table = one_row(
        tmp_path,
        stages="Fill & finish; fill-finish|QC",
        platforms="mRNA",
        bottlenecks="Glass vials & rubber stoppers;Financing",
        company_size="SME",
    )
    row = table.facilities.iloc[0]
    assert row["stages"] == ("fill_finish", "qc_testing")
    assert row["platforms"] == ("mrna",)
    assert row["bottlenecks"] == ("vials_stoppers", "financing")
    assert row["company_size"] == "small"


def test_decimal_commas_in_a_semicolon_file(tmp_path: Path) -> None:
    row = {
        **BASE,
        "latitude": "48,137",
        "longitude": "11,575",
        "capacity_doses_per_month": "1.000.000",
        "lead_time_months": "1 234,5",
        "available_capacity_pct": "12,5",
        "staff": "1.000",
    }
    table = load_facilities(write_csv(tmp_path / "sites.csv", [row], delimiter=";"))
    assert table.errors == []
    got = table.facilities.iloc[0]
    assert (got["latitude"], got["longitude"]) == (48.137, 11.575)
    assert got["capacity_doses_per_month"] == 1_000_000
    assert got["lead_time_months"] == 1234.5
    assert got["available_capacity_pct"] == 12.5
    assert got["staff"] == 1000


def test_dot_decimal_coordinates_in_a_semicolon_file(tmp_path: Path) -> None:
    # Three decimals look like a thousands group ('1.000'); degrees never have thousands.
    row = {**BASE, "latitude": "48.137", "longitude": "11.575"}
    table = load_facilities(write_csv(tmp_path / "sites.csv", [row], delimiter=";"))
    assert table.errors == []
    got = table.facilities.iloc[0]
    assert (got["latitude"], got["longitude"]) == (48.137, 11.575)


@pytest.mark.parametrize(
    ("text", "decimal_comma", "number"),
    [
        ("48.137", False, 48.137),
        ("48,137", True, 48.137),
        ("48,137", False, 48137.0),
        ("1.000.000", False, 1_000_000.0),
        ("1.000.000", True, 1_000_000.0),
        ("1.000", True, 1000.0),
        ("1.000", False, 1.0),
        ("1 234,5", True, 1234.5),
        ("1\u00a0234,5", True, 1234.5),
        ("1.234,5", False, 1234.5),
        ("1,234.5", True, 1234.5),
        ("1,234,567", False, 1_234_567.0),
        ("1'234", False, 1234.0),
        ("-3.5", False, -3.5),
        (".5", False, 0.5),
        ("2e3", False, 2000.0),
        ("12", True, 12.0),
    ],
)
def test_parse_number(text: str, decimal_comma: bool, number: float) -> None:
    assert parse_number(text, decimal_comma) == number


@pytest.mark.parametrize("text", ["", "abc", "1,2,3,4", "1.2.3", "12 %", "--1", "1,2.3,4"])
def test_parse_number_rejects_non_numbers(text: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(text)}$"):
        parse_number(text, True)


def test_valid_row_is_typed(tmp_path: Path) -> None:
    row = {
        "Site ID": "f1",
        "Company name": "Acme",
        "Country": "de",
        "City": "Jena",
        "ZIP": "07745",
        "Lat": "50.93",
        "Lng": "11.59",
        "NUTS 3": "de111",
        "Size": "Large",
        "cluster": "BioRegio",
        "stages": "drug_substance;formulation",
        "platforms": "",
        "capacity_doses_per_month": "2000000",
        "available_capacity_pct": "25",
        "lead_time_months": "3",
        "gmp_certified": "Yes",
        "staff": "120",
        "bottlenecks": "",
        "bottleneck_notes": "none",
        "public_listing": "x",
        "contact_consent": "no",
        "survey_date": "2021-03-01T10:00",
    }
    table = load_facilities(write_csv(tmp_path / "sites.csv", [row]))
    assert table.problems == []
    expected = pd.DataFrame(
        {
            "facility_id": pd.array(["f1"], dtype="string"),
            "company": pd.array(["Acme"], dtype="string"),
            "company_id": pd.array([pd.NA], dtype="string"),
            "country": pd.array(["DE"], dtype="string"),
            "city": pd.array(["Jena"], dtype="string"),
            "postcode": pd.array(["07745"], dtype="string"),
            "latitude": pd.array([50.93], dtype="Float64"),
            "longitude": pd.array([11.59], dtype="Float64"),
            "nuts3": pd.array(["DE111"], dtype="string"),
            "company_size": pd.array(["large"], dtype="string"),
            "cluster": pd.array(["BioRegio"], dtype="string"),
            "stages": [("drug_substance", "formulation")],
            "platforms": [()],
            "capacity_doses_per_month": pd.array([2_000_000.0], dtype="Float64"),
            "available_capacity_pct": pd.array([25.0], dtype="Float64"),
            "lead_time_months": pd.array([3.0], dtype="Float64"),
            "gmp_certified": pd.array([True], dtype="boolean"),
            "staff": pd.array([120], dtype="Int64"),
            "bottlenecks": [()],
            "bottleneck_notes": pd.array(["none"], dtype="string"),
            "public_listing": pd.array([True], dtype="boolean"),
            "contact_consent": pd.array([False], dtype="boolean"),
            "survey_date": pd.to_datetime([dt.date(2021, 3, 1)]),
            "source_row": [2],
        }
    )
    assert_frame_equal(table.facilities, expected, check_dtype=False)
    assert table.facilities["staff"].dtype == "Int64"
    assert table.facilities["latitude"].dtype == "Float64"
    assert table.facilities["public_listing"].dtype == "boolean"


def test_defaults_for_missing_optional_columns(tmp_path: Path) -> None:
    table = one_row(tmp_path)
    row = table.facilities.iloc[0]
    assert bool(row["public_listing"]) is False
    assert bool(row["contact_consent"]) is False
    assert pd.isna(row["gmp_certified"])
    assert pd.isna(row["capacity_doses_per_month"])
    assert pd.isna(row["staff"])
    assert row["platforms"] == ()
    assert row["bottlenecks"] == ()
    assert pd.isna(row["survey_date"])


def test_empty_yes_no_cells_take_the_default(tmp_path: Path) -> None:
    table = one_row(tmp_path, public_listing="", contact_consent="Oui", gmp_certified="")
    row = table.facilities.iloc[0]
    assert (bool(row["public_listing"]), bool(row["contact_consent"])) == (False, True)
    assert pd.isna(row["gmp_certified"])


def test_company_id_is_optional_and_kept_as_written(tmp_path: Path) -> None:
    rows = [
        {**BASE, "facility_id": "a", "Company ID": " de 123 456 "},
        {**BASE, "facility_id": "b", "Company ID": ""},
        {**BASE, "facility_id": "c", "Company ID": "<b>HRB 1</b>"},
    ]
    table = load_facilities(write_csv(tmp_path / "sites.csv", rows))
    assert table.problems == []
    assert list(table.facilities.columns[:4]) == ["facility_id", "company", "company_id", "country"]
    assert table.facilities["company_id"].dtype == "string"
    # trimmed like every cell, otherwise as written: companies.company_keys folds case and spaces
    assert table.facilities["company_id"].tolist() == ["de 123 456", pd.NA, "<b>HRB 1</b>"]


def test_files_without_company_id_still_load_with_the_column_empty(tmp_path: Path) -> None:
    table = one_row(tmp_path)
    assert "company_id" not in table.raw.columns
    assert table.facilities["company_id"].isna().all()
    flat = facilities_to_flat(table.facilities)
    assert pd.isna(flat.loc[0, "company_id"])


def test_postcode_or_nuts3_alone_locates_a_site(tmp_path: Path) -> None:
    rows = [
        {**BASE, "facility_id": "p", "latitude": "", "longitude": "", "postcode": "10115"},
        {**BASE, "facility_id": "n", "latitude": "", "longitude": "", "nuts3": "de 111"},
    ]
    table = load_facilities(write_csv(tmp_path / "sites.csv", rows))
    assert table.problems == []
    assert table.facilities["nuts3"].tolist() == [pd.NA, "DE111"]


def test_missing_required_columns_raise_naming_them(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "sites.csv", [{"facility_id": "f1", "latitude": "1", "longitude": "2"}])
    with pytest.raises(
        InputError, match=r"sites\.csv: required column\(s\) company, country, stages missing"
    ):
        load_facilities(path)


def test_facilities_to_flat_writes_lists_yes_no_and_iso_dates(tmp_path: Path) -> None:
    table = one_row(tmp_path, stages="qc;fill_finish", gmp_certified="no", survey_date="2021-02-28")
    flat = facilities_to_flat(table.facilities)
    assert flat.loc[0, ["stages", "gmp_certified", "public_listing", "survey_date"]].tolist() == [
        "qc_testing;fill_finish",
        "no",
        "no",
        "2021-02-28",
    ]


def test_sample_data_validates(sample_facilities: pd.DataFrame) -> None:
    assert len(sample_facilities) > 0
    assert sample_facilities["facility_id"].is_unique
    assert set(sample_facilities["country"]) <= set(vocab.EU_MEMBER_STATES) | {"NO", "CH", "IS", "UK"}

"""Reading facility files into text cells: CSV dialects, encodings, XLSX, GeoPackage, GeoParquet."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from shapely.geometry import Point

from geodata.readers import InputError, canonical_column, detect_delimiter, read_table


def _expected(rows: list[dict[str, str]], source_rows: list[int]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, dtype=str)
    frame["source_row"] = source_rows
    return frame


def test_comma_csv(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text('facility_id,company,city\nf1,Acme,Köln\nf2,"Beta, Inc",Graz\n', encoding="utf-8")
    table = read_table(path)
    assert (table.delimiter, table.encoding, table.decimal_comma) == (",", "utf-8", False)
    assert table.columns == ["facility_id", "company", "city"]
    expected = _expected(
        [
            {"facility_id": "f1", "company": "Acme", "city": "Köln"},
            {"facility_id": "f2", "company": "Beta, Inc", "city": "Graz"},
        ],
        [2, 3],
    )
    assert_frame_equal(table.frame, expected)
    assert (table.row_problems, table.notes, table.windows_1252_rows) == ([], [], [])


def test_semicolon_csv_keeps_decimal_commas_as_text(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text("facility_id;latitude;longitude\nf1;48,137;11,575\n", encoding="utf-8")
    table = read_table(path)
    assert (table.delimiter, table.decimal_comma) == (";", True)
    assert_frame_equal(
        table.frame, _expected([{"facility_id": "f1", "latitude": "48,137", "longitude": "11,575"}], [2])
    )


def test_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufefffacility_id,company\nf1,Łódź Bio\n".encode())
    table = read_table(path)
    assert table.encoding == "utf-8-sig"
    assert table.columns == ["facility_id", "company"]  # no BOM glued to the first name
    assert table.frame.loc[0, "company"] == "Łódź Bio"


def test_windows_1252_bytes_are_decoded(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("facility_id;company\nf1;Société Générale Biotech\n".encode("cp1252"))
    table = read_table(path)
    assert table.encoding == "windows-1252"
    assert table.windows_1252_rows == [2]
    assert table.frame.loc[0, "company"] == "Société Générale Biotech"


@pytest.mark.parametrize(
    ("text", "delimiter"), [("a,b\n1,2\n", ","), ("a;b\n1,5;2\n", ";"), ("a\tb\n1\t2\n", "\t"), ("", ",")]
)
def test_detect_delimiter(text: str, delimiter: str) -> None:
    assert detect_delimiter(text) == delimiter


def test_row_with_wrong_number_of_fields_is_reported_with_its_row_number(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n\n4,5\n6,7,8,9\n", encoding="utf-8")
    table = read_table(path)
    assert table.row_problems == [
        (4, "row has 2 fields but the header has 3"),
        (5, "row has 4 fields but the header has 3"),
    ]
    # short rows are padded, long rows cut, blank lines skipped; row numbers stay the file's
    expected = _expected(
        [{"a": "1", "b": "2", "c": "3"}, {"a": "4", "b": "5", "c": ""}, {"a": "6", "b": "7", "c": "8"}],
        [2, 4, 5],
    )
    assert_frame_equal(table.frame, expected)


@pytest.mark.parametrize("content", [b"", b"\n  \n", b"\xef\xbb\xbf"])
def test_empty_file_raises_naming_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"empty\.csv: the file is empty"):
        read_table(path)


def test_unsupported_suffix_raises_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sites.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match=r"sites\.json: unsupported file type '\.json'; use one of .*\.csv"):
        read_table(path)


def test_missing_file_raises_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nowhere\.csv: no such file"):
        read_table(tmp_path / "nowhere.csv")


@pytest.mark.parametrize("header", ["facility_id,company,facility_id", "Facility ID,company,facility_id"])
def test_duplicated_header_column_raises(tmp_path: Path, header: str) -> None:
    path = tmp_path / "dupe.csv"
    path.write_text(f"{header}\n1,2,3\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"dupe\.csv: column 'facility_id' appears twice"):
        read_table(path)


def test_header_without_names_raises(tmp_path: Path) -> None:
    path = tmp_path / "noheader.csv"
    path.write_text(",,\n1,2,3\n", encoding="utf-8")
    with pytest.raises(InputError, match="the first row must name the columns"):
        read_table(path)


def test_xlsx_cells_are_text_and_rows_numbered_like_the_sheet(tmp_path: Path) -> None:
    path = tmp_path / "sites.xlsx"
    written = pd.DataFrame(
        {
            "facility_id": ["f1", "", "f3"],
            "company": ["Acme", "", "Beta"],
            "postcode": ["01067", "", "10115"],
            "staff": [12, None, 250],
        }
    )
    written["postcode"] = written["postcode"].astype(object)
    written.to_excel(path, index=False)
    table = read_table(path)
    assert table.columns == ["facility_id", "company", "postcode", "staff"]
    assert table.encoding == "xlsx"
    expected = _expected(
        [
            {"facility_id": "f1", "company": "Acme", "postcode": "01067", "staff": "12"},
            {"facility_id": "f3", "company": "Beta", "postcode": "10115", "staff": "250"},
        ],
        [2, 4],
    )
    assert_frame_equal(table.frame, expected)


def test_damaged_xlsx_raises_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"not a zip")
    with pytest.raises(InputError, match=r"broken\.xlsx: not a readable Excel workbook"):
        read_table(path)


def _points_frame(crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"facility_id": ["f1", "f2"], "company": ["Acme", "Beta"]},
        geometry=[Point(10.5, 50.25), Point(2.125, 46.5)],
        crs="EPSG:4326",
    )
    return frame.to_crs(crs)


GEO_EXPECTED = [
    {"facility_id": "f1", "company": "Acme", "longitude": "10.5000000", "latitude": "50.2500000"},
    {"facility_id": "f2", "company": "Beta", "longitude": "2.1250000", "latitude": "46.5000000"},
]


def test_geopackage_points_fill_latitude_and_longitude(tmp_path: Path) -> None:
    path = tmp_path / "sites.gpkg"
    _points_frame().to_file(path, driver="GPKG")
    table = read_table(path)
    assert table.columns == ["facility_id", "company", "latitude", "longitude"]
    assert_frame_equal(table.frame, _expected(GEO_EXPECTED, [1, 2]), check_dtype=False)


def test_geoparquet_in_another_crs_is_reprojected_to_lon_lat(tmp_path: Path) -> None:
    path = tmp_path / "sites.parquet"
    _points_frame("EPSG:3035").to_parquet(path)
    table = read_table(path)
    assert table.columns == ["facility_id", "company", "latitude", "longitude"]
    assert_frame_equal(table.frame, _expected(GEO_EXPECTED, [1, 2]), check_dtype=False)


def test_geo_file_with_its_own_coordinate_columns_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "sites.parquet"
    frame = _points_frame()
    frame["latitude"] = ["1.0", "2.0"]
    frame["longitude"] = ["3.0", "4.0"]
    frame.to_parquet(path)
    table = read_table(path)
    assert table.frame["latitude"].tolist() == ["1.0", "2.0"]
    assert table.columns == ["facility_id", "company", "latitude", "longitude"]


def test_unreadable_geopackage_raises(tmp_path: Path) -> None:
    path = tmp_path / "bad.gpkg"
    path.write_bytes(b"garbage")
    with pytest.raises(InputError, match=r"bad\.gpkg: not a readable GeoPackage/GeoParquet"):
        read_table(path)


@pytest.mark.parametrize(
    ("name", "canonical"), [("Facility ID", "facility_id"), (" NUTS-3 ", "nuts_3"), ("Lat.", "lat")]
)
def test_canonical_column(name: str, canonical: str) -> None:
    assert canonical_column(name) == canonical


def test_xlsx_duplicated_header_column_raises(tmp_path: Path) -> None:
    import openpyxl

    path = tmp_path / "dupe.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["facility_id", "company", "Facility ID"])
    book.active.append(["f1", "Acme", "f2"])
    book.save(path)
    with pytest.raises(InputError, match=r"dupe\.xlsx: column 'Facility ID' appears twice"):
        read_table(path)


def test_empty_xlsx_raises_naming_the_file(tmp_path: Path) -> None:
    import openpyxl

    path = tmp_path / "blank.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(InputError, match=r"blank\.xlsx: the first row must name the columns"):
        read_table(path)

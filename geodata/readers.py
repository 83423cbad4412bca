"""Read facility files (CSV, XLSX, GeoPackage, GeoParquet) into a table of text cells.

Every cell is kept exactly as written (as text) so that nothing is altered before validation;
each row carries ``source_row``: its row number as a spreadsheet shows it (header = row 1),
or the feature number for GeoPackage/GeoParquet.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

SOURCE_ROW = "source_row"
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
GPKG_SUFFIXES = (".gpkg",)
PARQUET_SUFFIXES = (".parquet", ".geoparquet")


class InputError(ValueError):
    """The file as a whole cannot be read; the message names the file and what to do."""


@dataclass
class RawTable:
    """A file's rows as text, its original column names, and how it was read."""

    path: Path
    frame: pd.DataFrame  # all columns str, plus SOURCE_ROW (int)
    columns: list[str]  # original column names, in file order
    encoding: str = ""
    delimiter: str = ""
    decimal_comma: bool = False
    row_problems: list[tuple[int, str]] = field(default_factory=list)  # (row, reason)


def read_table(path: str | Path) -> RawTable:
    """Read a facility file of any supported format into text cells.

    Raises InputError (naming the file) when it is missing, empty or not a supported format.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _read_csv(path)
    if suffix in EXCEL_SUFFIXES:
        return _read_excel(path)
    if suffix in GPKG_SUFFIXES or suffix in PARQUET_SUFFIXES:
        return _read_geo(path)
    allowed = ", ".join(CSV_SUFFIXES + EXCEL_SUFFIXES + GPKG_SUFFIXES + PARQUET_SUFFIXES)
    raise InputError(f"{path}: unsupported file type {suffix!r}; use one of {allowed}.")


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode file bytes: UTF-8 with or without BOM, else Windows-1252. Returns (text, encoding)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def detect_delimiter(text: str) -> str:
    """Comma, semicolon or tab: the one that splits the header into most fields consistently."""
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t").delimiter
    except csv.Error:
        header = lines[0]
        return max((",", ";", "\t"), key=header.count)


def _read_csv(path: Path) -> RawTable:
    text, encoding = decode_text(path.read_bytes())
    if not text.strip():
        raise InputError(f"{path}: the file is empty; it needs a header row and data rows.")
    delimiter = detect_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip() for h in next(reader)]
    _check_header(path, header)
    rows: list[list[str]] = []
    numbers: list[int] = []
    problems: list[tuple[int, str]] = []
    for index, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank line: nothing to keep
        if len(row) != len(header):
            problems.append((index, f"row has {len(row)} fields but the header has {len(header)}"))
            row = (row + [""] * len(header))[: len(header)]
        rows.append(row)
        numbers.append(index)
    frame = pd.DataFrame(rows, columns=header, dtype=str)
    frame[SOURCE_ROW] = numbers
    return RawTable(
        path,
        frame,
        header,
        encoding=encoding,
        delimiter=delimiter,
        decimal_comma=delimiter == ";",
        row_problems=problems,
    )


def _read_excel(path: Path) -> RawTable:
    try:
        # header=None: pandas would rename a repeated column to 'name.1' and hide the duplicate
        frame = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl", header=None)
    except Exception as exc:  # openpyxl raises many types for damaged workbooks
        raise InputError(f"{path}: not a readable Excel workbook ({exc}).") from exc
    header = [str(c).strip() for c in frame.iloc[0]] if len(frame) else []
    _check_header(path, header)
    frame = frame.iloc[1:].reset_index(drop=True)
    frame.columns = header
    frame = frame.fillna("").astype(str)
    frame[SOURCE_ROW] = range(2, len(frame) + 2)
    blank = (frame[header].apply(lambda col: col.str.strip()) == "").all(axis=1)
    return RawTable(path, frame[~blank].reset_index(drop=True), header, encoding="xlsx")


def _read_geo(path: Path) -> RawTable:
    import geopandas as gpd

    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            gdf = gpd.read_parquet(path)
        else:
            gdf = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio/pyarrow raise many types
        raise InputError(f"{path}: not a readable GeoPackage/GeoParquet file ({exc}).") from exc
    header = [c for c in gdf.columns if c != gdf.geometry.name]
    frame = pd.DataFrame(gdf[header]).astype(object)
    frame = frame.where(frame.notna(), "").astype(str)
    columns = list(header)
    lowered = {c.strip().lower() for c in header}
    if gdf.geometry is not None and not ({"latitude", "longitude"} & lowered):
        geom = gdf.geometry
        if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
            geom = geom.to_crs(4326)
        is_point = geom.geom_type == "Point"
        frame["longitude"] = [f"{g.x:.7f}" if ok else "" for g, ok in zip(geom, is_point, strict=True)]
        frame["latitude"] = [f"{g.y:.7f}" if ok else "" for g, ok in zip(geom, is_point, strict=True)]
        columns += ["latitude", "longitude"]
    frame[SOURCE_ROW] = range(1, len(frame) + 1)
    return RawTable(path, frame, columns, encoding="geo")


def _check_header(path: Path, header: list[str]) -> None:
    if not any(header):
        raise InputError(f"{path}: the first row must name the columns.")
    seen: set[str] = set()
    for name in header:
        key = canonical_column(name)
        if key and key in seen:
            raise InputError(f"{path}: column {name!r} appears twice in the header.")
        seen.add(key)


def canonical_column(name: str) -> str:
    """Column name folded for matching: 'Facility ID' -> 'facility_id'."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")

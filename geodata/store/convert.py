"""Between the typed frames of geodata.records / geodata.placement and rows of the store's tables.

A facility frame written with ``facility_rows`` and read with ``facility_frame`` comes back
identical (values, dtypes, order); the same holds for rejected rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from geodata import records
from geodata.readers import SOURCE_ROW

#: The NUTS versions every site is placed in (the facilities table has columns for each).
PLACEMENT_YEARS: tuple[int, ...] = (2021, 2024)
PLACEMENT_FIELDS: tuple[str, ...] = ("nuts0", "nuts1", "nuts2", "nuts3", "nuts_match", "nuts_note")
#: Fields by how they are converted (the rest are text).
FLOAT_FIELDS = (
    "latitude",
    "longitude",
    "capacity_doses_per_month",
    "available_capacity_pct",
    "lead_time_months",
)
INT_FIELDS = ("staff",)
BOOL_FIELDS = ("gmp_certified", "public_listing", "contact_consent")
LIST_FIELDS = tuple(records.LIST_FIELDS)
DATE_FIELDS = ("survey_date",)
TEXT_FIELDS = tuple(
    f
    for f in records.FIELDS
    if f not in {*FLOAT_FIELDS, *INT_FIELDS, *BOOL_FIELDS, *LIST_FIELDS, *DATE_FIELDS}
)


def placement_column(field: str, year: int) -> str:
    """The facilities column of one placement field in one NUTS version, e.g. nuts3_2021."""
    return f"{field}_{year}"


def _values(column: pd.Series, field: str) -> list[Any]:
    """One column as plain Python values (None for missing), ready for the database."""
    missing = column.isna().to_numpy() if field not in LIST_FIELDS else [False] * len(column)
    if field in LIST_FIELDS:
        convert: Any = list
    elif field in FLOAT_FIELDS:
        convert = float
    elif field in INT_FIELDS:
        convert = int
    elif field in BOOL_FIELDS:
        convert = bool
    elif field in DATE_FIELDS:
        convert = lambda ts: ts.date()  # noqa: E731
    else:
        convert = str
    return [None if gone else convert(v) for v, gone in zip(column.tolist(), missing, strict=True)]


def point_ewkt(longitude: float | None, latitude: float | None) -> str | None:
    """The site as EWKT in EPSG:4326 (x = longitude), or None without coordinates."""
    if longitude is None or latitude is None:
        return None
    return f"SRID=4326;POINT({longitude!r} {latitude!r})"


def facility_rows(facilities: pd.DataFrame, placed: Mapping[int, pd.DataFrame]) -> list[dict[str, Any]]:
    """Rows for the facilities table from a records frame and its placement per NUTS version
    (``placement.place`` results, aligned with ``facilities``). ``round_id`` is left to the caller."""
    columns: dict[str, list[Any]] = {f: _values(facilities[f], f) for f in (*records.FIELDS,)}
    columns[SOURCE_ROW] = [int(v) for v in facilities[SOURCE_ROW]]
    for year in PLACEMENT_YEARS:
        frame = placed[year]
        for field in PLACEMENT_FIELDS:
            values = frame[field].astype(object).tolist()
            columns[placement_column(field, year)] = [None if pd.isna(v) else str(v) for v in values]
    columns["geom"] = [
        point_ewkt(lon, lat) for lon, lat in zip(columns["longitude"], columns["latitude"], strict=True)
    ]
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def facility_frame(rows: Iterable[Mapping[Any, Any]], *, lists_as_json: bool = False) -> pd.DataFrame:
    """The records frame (``records.load_facilities(...).facilities``) from stored rows
    (``lists_as_json``: the list columns come as their JSON text)."""
    decoded: dict[str, tuple[str, ...]] = {}

    def codes(value: Any) -> tuple[str, ...]:
        if not lists_as_json:
            return tuple(value)
        found = decoded.get(value)
        if found is None:
            found = decoded[value] = tuple(json.loads(value))
        return found

    plain: list[dict[str, Any]] = []
    for row in rows:
        record = {f: row[f] for f in records.FIELDS}
        for field in LIST_FIELDS:
            record[field] = codes(row[field])
        record[SOURCE_ROW] = row[SOURCE_ROW]
        plain.append(record)
    frame = pd.DataFrame.from_records(plain, columns=[*records.FIELDS, SOURCE_ROW])
    # The loader's own typing, so that both frames are identical by construction
    return records._typed(frame)


def placement_frame(rows: Iterable[Mapping[Any, Any]], year: int) -> pd.DataFrame:
    """facility_id, source_row and the placement columns of one NUTS version, as stored."""
    names = [placement_column(f, year) for f in PLACEMENT_FIELDS]
    frame = pd.DataFrame.from_records(
        [[row["facility_id"], row[SOURCE_ROW], *(row[n] for n in names)] for row in rows],
        columns=["facility_id", SOURCE_ROW, *PLACEMENT_FIELDS],
    )
    for field in ("facility_id", "nuts0", "nuts1", "nuts2", "nuts3"):
        frame[field] = frame[field].astype("string")
    frame[SOURCE_ROW] = frame[SOURCE_ROW].astype(int)
    return frame


def rejected_rows(rejected: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Rows for the rejected_rows table: the cells as written, keyed by the file's column names."""
    return [
        {
            "source_row": int(row[SOURCE_ROW]),
            "cells": {c: str(row[c]) for c in columns},
            "reasons": str(row["rejection_reasons"]),
        }
        for row in rejected.to_dict("records")
    ]


def rejected_frame(rows: Iterable[Mapping[Any, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """The rejected frame as records.load_facilities gives it, from stored rows."""
    stored = list(rows)
    frame = pd.DataFrame(
        [[r["cells"].get(c, "") for c in columns] for r in stored], columns=list(columns), dtype=str
    )
    frame[SOURCE_ROW] = np.array([int(r["source_row"]) for r in stored], dtype=np.int64)
    reasons = pd.Series({int(r["source_row"]): r["reasons"] for r in stored}, dtype=str)
    frame["rejection_reasons"] = frame[SOURCE_ROW].map(reasons)  # as the loader builds it
    return frame


def iso(value: dt.datetime | dt.date | None) -> str | None:
    """ISO 8601 text of a timestamp or date (None stays None)."""
    return None if value is None else value.isoformat()
